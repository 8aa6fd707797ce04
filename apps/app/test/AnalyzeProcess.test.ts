// `patinox analyze` as a real process beside a real writer process on the
// same SQLite file: the store must take one writer and one reader at once
// (WAL), and the reader must never see SQLITE_BUSY.
import { assert, describe, it } from "@effect/vitest"
import { Analysis } from "@patinox/meta"
import { TempDir } from "@patinox/testing"
import { Deferred, Effect, Schema } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { cpSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const appDir = fileURLToPath(new URL("..", import.meta.url))

/** `node dist/bin/cli.js`: the package's `patinox` bin, bundled once for the test run (see globalSetup.ts). */
const cliCommand = ["dist/bin/cli.js"]

/** This process's environment without a real model's settings or a log level, plus `env`. */
const environment = (env: Record<string, string>) => {
  const clean = { ...process.env }
  delete clean.OPENAI_API_KEY
  delete clean.OPENAI_BASE_URL
  delete clean.LOG_LEVEL
  delete clean.PATINOX_CONFIG
  return { ...clean, ...env }
}

interface Ended {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Watches a child's output and its end (after its pipes close, so no output is missed). */
const follow = (child: ChildProcess) => {
  let stdout = ""
  let stderr = ""
  const listeners = new Set<() => void>()
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
    listeners.forEach((listener) => listener())
  })
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const ended = new Promise<Ended>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })))
  return {
    output: () => ({ stdout, stderr }),
    ended: Effect.promise(() => ended),
    /** Resolves once `check` holds for stdout (checked on each chunk). */
    stdoutUntil: (check: (stdout: string) => boolean) =>
      Effect.async<void>((resume) => {
        const listener = () => check(stdout) && resume(Effect.void)
        listeners.add(listener)
        listener()
        return Effect.sync(() => listeners.delete(listener))
      })
  }
}

/** Starts `patinox …args`; killed at scope close if still running. */
const startCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [...cliCommand, ...args], {
        cwd: appDir,
        env: environment(env),
        stdio: ["ignore", "pipe", "pipe"]
      })
      return { child, ...follow(child) }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
  )

/** Runs `patinox …args` to its end. */
const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.scoped(Effect.flatMap(startCli(args, env), ({ ended }) => ended))

/** The writer fixture on `file`, once its first batch is committed; killed at scope close if still running. */
const startWriter = (file: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      // The fixture bundled by the run's global setup (globalSetup.ts).
      const child = spawn(process.execPath, ["dist/test/telemetry-writer.js", file], {
        cwd: appDir,
        env: environment({}),
        stdio: ["ignore", "pipe", "pipe"]
      })
      const followed = follow(child)
      const started = yield* Deferred.make<void, Error>()
      child.on("exit", (code) =>
        Deferred.unsafeDone(started, Effect.fail(new Error(`writer exited (${code}):\n${followed.output().stderr}`))))
      yield* Effect.fork(Effect.zipRight(followed.stdoutUntil((out) => out.includes("writing")), Deferred.succeed(started, undefined)))
      yield* Deferred.await(started).pipe(Effect.timeoutFail({
        duration: "60 seconds",
        onTimeout: () => new Error(`writer did not start in 60 s:\n${JSON.stringify(followed.output())}`)
      }))
      return { child, ...followed }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
  )

/** One `--json` line, as docs/cli.md describes it. */
const Pass = Schema.parseJson(Schema.Struct({
  window: Schema.Struct({ since: Schema.Number, until: Schema.Number }),
  events: Schema.NonNegativeInt,
  findings: Schema.Array(Analysis.Finding),
  failures: Schema.Array(Schema.Struct({ analyser: Schema.String, message: Schema.String })),
  // A full pass (without --findings-only) also says what it proposed and what it did not, and why.
  proposals: Schema.optional(Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown }))),
  skipped: Schema.optional(Schema.Array(Schema.Struct({ findingKey: Schema.String, reason: Schema.String })))
}))
type Pass = typeof Pass.Type

const parsePass = (line: string): Pass => {
  const pass = Schema.decodeUnknownSync(Pass, { onExcessProperty: "error" })(line)
  assert.isBelow(pass.window.since, pass.window.until, line)
  assert.deepStrictEqual(pass.failures, [], line)
  return pass
}

const locked = /SQLITE_BUSY|database is locked/i

describe("patinox analyze", () => {
  it.scoped("reads the store while another process writes it, every pass seeing more events", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-analyze-")
      const file = join(dir, "patinox.db")
      const config = join(dir, "patinox.config.yaml")
      // The service's own config file, naming the database: what `analyze` reads without --db.
      // The shipped agents, copied outside any git repository: a full pass there publishes nowhere.
      const agents = join(dir, "agents")
      cpSync(fileURLToPath(new URL("../../../agents", import.meta.url)), agents, { recursive: true })
      writeFileSync(
        config,
        `database:\n  path: ${JSON.stringify(file)}\nagents:\n  behaviourDir: ${JSON.stringify(agents)}\n` +
          `meta:\n  analysisWindowHours: 1\n`
      )
      const writer = yield* startWriter(file)
      const passes: Array<Pass> = []
      for (let i = 0; i < 3; i++) {
        // Two read-only analyses, then a full pass (plan, replay, record), which also writes.
        const full = i === 2
        const { code, stderr, stdout } = yield* cli(
          ["analyze", "--json", ...(full ? [] : ["--findings-only"])],
          { PATINOX_CONFIG: config, LOG_LEVEL: "debug" }
        )
        assert.strictEqual(code, 0, stderr)
        assert.notMatch(stderr, locked)
        // Logs (debug here) go to stderr; stdout holds the one result line.
        assert.include(stderr, full ? `Database: ${file}` : `Database: ${file} (read-only)`)
        if (full) assert.include(stdout, "\"proposals\":[")
        const lines = stdout.trim().split("\n")
        assert.lengthOf(lines, 1, stdout)
        passes.push(parsePass(lines[0] ?? ""))
      }
      assert.isNull(writer.child.exitCode, "the writer kept writing through every pass")
      for (let i = 1; i < passes.length; i++) {
        assert.isAbove(passes[i]?.events ?? 0, passes[i - 1]?.events ?? 0, JSON.stringify(passes))
      }
      // The writer was never disturbed by the reader: it stops cleanly, as from a supervisor.
      writer.child.kill("SIGTERM")
      const ended = yield* writer.ended
      assert.strictEqual(ended.code, 0, ended.stderr)
      assert.notMatch(ended.stderr, locked)
    }), { timeout: 240_000 })

  it.scoped("--watch prints one JSON line per pass until SIGTERM, then exits 0", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-analyze-")
      const file = join(dir, "patinox.db")
      yield* startWriter(file)
      const watch = yield* startCli(["analyze", "--db", file, "--json", "--findings-only", "--watch", "--every", "200 millis"])
      yield* watch.stdoutUntil((out) => out.split("\n").length > 2)
      watch.child.kill("SIGTERM")
      const { code, stderr, stdout } = yield* watch.ended
      assert.strictEqual(code, 0, stderr)
      assert.notMatch(stderr, locked)
      const lines = stdout.trim().split("\n")
      assert.isAtLeast(lines.length, 2, stdout)
      lines.forEach((line) => parsePass(line))
    }), { timeout: 180_000 })

  it.scoped("a missing database file is a usage error (exit 2) naming the file", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-analyze-")
      const file = join(dir, "absent.db")
      const { code, stderr, stdout } = yield* cli(["analyze", "--db", file, "--json"])
      assert.strictEqual(code, 2, stderr)
      assert.include(stderr, `database not found: ${file}`)
      assert.strictEqual(stdout, "")
    }), { timeout: 120_000 })

  it.scoped("a bad config file is a usage error (exit 2) naming the key, without a stack trace", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-analyze-")
      const config = join(dir, "patinox.config.json")
      writeFileSync(config, JSON.stringify({ meta: { analysisWindowHours: -1 } }))
      const { code, stderr } = yield* cli(["analyze"], { PATINOX_CONFIG: config })
      assert.strictEqual(code, 2, stderr)
      assert.include(stderr, "meta.analysisWindowHours")
      assert.notMatch(stderr, /\n\s+at /)
    }), { timeout: 120_000 })

  it.scoped("--help lists the options", () =>
    Effect.gen(function*() {
      const { code, stderr, stdout } = yield* cli(["analyze", "--help"])
      assert.strictEqual(code, 0, stderr)
      for (const option of ["--db", "--window-hours", "--json", "--watch", "--every", "--findings-only"]) assert.include(stdout, option)
    }), { timeout: 120_000 })
})

describe("patinox run, stats, knowledge add", () => {
  it.scoped("runs an agent, then stats read the run back and the knowledge base takes a file", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-cli-")
      const config = join(dir, "patinox.config.yaml")
      writeFileSync(config, `database:\n  path: ${JSON.stringify(join(dir, "patinox.db"))}\n`)
      const env = { PATINOX_CONFIG: config }

      const ran = yield* cli(["run", "assistant", "What is 17 + 25?", "--json"], env)
      assert.strictEqual(ran.code, 0, ran.stderr)
      const result: unknown = JSON.parse(ran.stdout)
      assert.deepInclude(result, { agent: "assistant", answer: "17 + 25 = 42" })

      const unknown = yield* cli(["run", "nobody", "hi"], env)
      assert.strictEqual(unknown.code, 2)
      assert.include(unknown.stderr, "unknown agent \"nobody\"; the service has: assistant")

      const stats = yield* cli(["stats", "--json"], env)
      assert.strictEqual(stats.code, 0, stats.stderr)
      const summary: unknown = JSON.parse(stats.stdout)
      // The one run above called the calculator once.
      assert.include(JSON.stringify(summary), "\"key\":\"calculator\",\"count\":1")

      const doc = join(dir, "actors.txt")
      writeFileSync(doc, "Each running agent is a supervised fiber with a bounded mailbox.\n")
      const added = yield* cli(["knowledge", "add", doc, "--json"], env)
      assert.strictEqual(added.code, 0, added.stderr)
      assert.deepInclude(JSON.parse(added.stdout), { documents: 1 })
    }), { timeout: 240_000 })
})
