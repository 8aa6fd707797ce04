// Issue 24: the packages as a user installs them. Builds and packs every
// publishable package, installs the tarballs into a project outside the
// workspace, type-checks a consumer under `strict` and runs it against the
// fake OpenAI server: an agent with a tool on `Patinox.layer`, its telemetry
// written by the sink's write thread into the SQLite file.
import { assert, describe, it } from "@effect/vitest"
import { FakeOpenAi, TempDir } from "@patinox/testing"
import Database from "better-sqlite3"
import { Effect, Schema } from "effect"
import { execFile } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const require = createRequire(import.meta.url)

/** pnpm itself when the tests run under it (corepack's shim costs seconds a call on a loaded machine), else corepack. */
const pnpm = (args: ReadonlyArray<string>): readonly [string, ReadonlyArray<string>] => {
  const exec = process.env.npm_execpath
  return exec !== undefined && /pnpm\.c?js$/.test(exec) ? [process.execPath, [exec, ...args]] : ["corepack", ["pnpm", ...args]]
}
const packages = ["core", "agent", "monitoring", "provider-openai", "telemetry-store", "testing", "validation", "patinox"]

/** Runs a command; fails with its output when it exits non-zero. */
const run = (command: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  Effect.async<string, Error>((resume) => {
    const t0 = performance.now()
    const child = execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      console.log(`pack test: ${args.slice(-4).join(" ")}: ${Math.round(performance.now() - t0)} ms`)
      resume(
        error === null
          ? Effect.succeed(`${stdout}${stderr}`)
          : Effect.fail(new Error(`${command} ${args.join(" ")} in ${cwd} failed:\n${stdout}\n${stderr}`))
      )
    })
    return Effect.sync(() => child.kill())
  })

const Outcome = Schema.parseJson(Schema.Struct({
  answer: Schema.String,
  runId: Schema.String,
  sink: Schema.Struct({ written: Schema.Number, failed: Schema.Number }),
  runs: Schema.Number
}))

/** A user's environment: no workspace conditions, no real model. */
const consumerEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  delete env.OPENAI_API_KEY
  delete env.OPENAI_BASE_URL
  return env
}

describe("the packed packages", () => {
  it.scoped("install outside the workspace, type-check under strict, and run an agent on Patinox.layer", () =>
    Effect.gen(function*() {
      const started = performance.now()
      yield* run(...pnpm(["build"]), root)
      const tarballs = yield* TempDir.make("patinox-tarballs-")
      yield* run(...pnpm(["-r", "--filter", "./packages/*", "pack", "--pack-destination", tarballs]), root)
      const tarball = (name: string) => {
        const file = readdirSync(tarballs).find((f) => f.startsWith(`patinox-${name}-`) && f.endsWith(".tgz"))
        if (file === undefined) throw new Error(`no tarball for ${name} in ${tarballs}`)
        return `file:${join(tarballs, file)}`
      }
      const packed = Object.fromEntries(packages.map((name) => [`@patinox/${name}`, tarball(name)]))
      // Only what a service ships is packed: built code, sources for the maps, no tests.
      const listing = yield* run("tar", ["-tzf", tarball("telemetry-store").slice("file:".length)], root)
      assert.include(listing, "package/dist/internal/writeWorker.js")
      assert.notInclude(listing, "package/test/")
      assert.notInclude(listing, "tsbuildinfo")

      const project = yield* TempDir.make("patinox-consumer-")
      const workspace = yield* Schema.decode(Schema.parseJson(Schema.Struct({ packageManager: Schema.String })))(
        readFileSync(join(root, "package.json"), "utf8")
      )
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({
          name: "patinox-consumer",
          private: true,
          type: "module",
          packageManager: workspace.packageManager,
          dependencies: {
            "@patinox/agent": tarball("agent"),
            "@patinox/core": tarball("core"),
            "@patinox/patinox": tarball("patinox"),
            "@patinox/provider-openai": tarball("provider-openai"),
            "@patinox/telemetry-store": tarball("telemetry-store"),
            effect: "^3.22.4"
          },
          devDependencies: { "@types/node": "^20.19.0", typescript: "~5.9.3" },
          // The packages' own dependencies on each other, from the tarballs too.
          // better-sqlite3's build script stays off: its binary is the workspace's (below), not a 60 s compile.
          pnpm: { overrides: packed }
        })
      )
      writeFileSync(
        join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            target: "ES2022",
            module: "NodeNext",
            moduleResolution: "NodeNext",
            types: ["node"],
            outDir: "dist",
            rootDir: "src"
          },
          include: ["src"]
        })
      )
      yield* run("mkdir", ["src"], project)
      copyFileSync(fileURLToPath(new URL("fixtures/consumer.ts", import.meta.url)), join(project, "src", "consumer.ts"))

      const env = consumerEnv()
      // Tarballs and metadata come from the store the workspace install filled; the registry only for what it lacks.
      yield* run(...pnpm(["install", "--prefer-offline", "--no-frozen-lockfile"]), project, env)
      // The same Node runs both, so the workspace's compiled better-sqlite3 loads in the consumer's copy.
      // Where `bindings` finds it: build/Release, or the per-ABI folder scripts/node24.sh uses.
      const nativeRoot = dirname(require.resolve("better-sqlite3/package.json"))
      const native = [
        join("build", "Release"),
        join("lib", "binding", `node-v${process.versions.modules}-${process.platform}-${process.arch}`)
      ].find((folder) => existsSync(join(nativeRoot, folder, "better_sqlite3.node")))
      assert.isDefined(native, `no better-sqlite3 binary for this Node under ${nativeRoot}`)
      const nativeTo = join(
        dirname(realpathSync(join(project, "node_modules", ".pnpm", "node_modules", "better-sqlite3", "package.json"))),
        native ?? ""
      )
      mkdirSync(nativeTo, { recursive: true })
      copyFileSync(join(nativeRoot, native ?? "", "better_sqlite3.node"), join(nativeTo, "better_sqlite3.node"))
      const installed = performance.now()
      // One compile checks under strict and emits: with noEmitOnError, a type error fails here.
      yield* run(...pnpm(["exec", "tsc", "--noEmitOnError"]), project, env)

      const fake = yield* FakeOpenAi.make({ responder: FakeOpenAi.toolThenAnswer("add", { a: 17, b: 25 }, "17 + 25 = 42") })
      const database = join(project, "data", "patinox.db")
      const output = yield* run(process.execPath, ["dist/consumer.js", fake.url, database], project, env)
      const line = output.split("\n").find((l) => l.startsWith("OUTCOME "))
      assert.isDefined(line, output)
      const outcome = yield* Schema.decode(Outcome)((line ?? "").slice("OUTCOME ".length))

      assert.strictEqual(outcome.answer, "17 + 25 = 42")
      assert.strictEqual(outcome.runs, 1)
      assert.notInclude(output, "write thread did not start", output)
      assert.isAbove(outcome.sink.written, 0)
      assert.strictEqual(outcome.sink.failed, 0)
      // The write thread started from the packed `dist/internal/*.js` (the consumer logs at debug level).
      assert.include(output, "write thread ready", output)
      // The agent asked the tool, then answered with its result.
      const requests = yield* fake.requests
      assert.strictEqual(requests.length, 2)

      yield* Effect.logInfo(
        `pack test: build, pack and install ${Math.round(installed - started)} ms; all ${Math.round(performance.now() - started)} ms`
      )
      const db = new Database(database, { readonly: true })
      try {
        const types = db.prepare("SELECT type FROM events WHERE run_id = ? ORDER BY id").pluck().all(outcome.runId)
        assert.includeMembers(types, ["run.start", "run.end"])
        assert.isAbove(types.length, 4)
      } finally {
        db.close()
      }
    }), { timeout: 480_000 })
})
