// The deployment files in deploy/ (Dockerfile, systemd unit, Kubernetes
// manifests) cannot be run here: this parses them and checks that they agree
// with each other and with the code (ports, probe paths, the config schema,
// the shutdown deadline, the environment variables the service reads), so a
// change in one place only fails here rather than in a cluster.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join, posix } from "node:path"
import { fileURLToPath } from "node:url"
import { parseAllDocuments } from "yaml"
import * as ConfigFile from "../src/ConfigFile.js"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const read = (path: string) => readFileSync(join(root, path), "utf8")

/** The port the service listens on when neither PATINOX_PORT nor PORT is set (AppConfig.ts). */
const defaultPort = Number(/Option\.getOrElse\(yield\* portFrom\("PORT"\), \(\) => (\d+)\)/.exec(read("apps/app/src/AppConfig.ts"))?.[1])

/** Probe paths: the API's own endpoints, and the ones Security.ts lets through without a token. */
const apiSource = read("packages/patinox/src/Api.ts")
const openPaths = /const openPaths = new Set\(\[(.*?)\]\)/.exec(read("apps/app/src/Security.ts"))?.[1] ?? ""

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  readonly keyword: string
  readonly args: string
}

/** The Dockerfile's instructions, comments dropped and continuation lines joined. */
const dockerfile: ReadonlyArray<Instruction> = read("deploy/Dockerfile")
  .split("\n")
  .filter((line) => !line.trimStart().startsWith("#"))
  .join("\n")
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "")
  .map((line) => {
    const space = line.indexOf(" ")
    return { keyword: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() }
  })

const instructions = (keyword: string) => dockerfile.filter((i) => i.keyword === keyword).map((i) => i.args)
/** Only the last stage's instructions describe the image that runs. */
const runtimeStage = dockerfile.slice(dockerfile.map((i) => i.keyword).lastIndexOf("FROM"))
const runtime = (keyword: string) => runtimeStage.filter((i) => i.keyword === keyword).map((i) => i.args)

const dockerEnv: Record<string, string> = Object.fromEntries(
  runtime("ENV").flatMap((args) => [...args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, "")]))
)

// ---------------------------------------------------------------- systemd unit

/** Every `Key=value` of the unit, in order (Environment= may repeat). */
const unit = read("deploy/patinox.service")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith("[") && line.includes("="))
  .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const)

const unitValue = (key: string) => {
  const values = unit.filter(([k]) => k === key).map(([, v]) => v)
  assert.strictEqual(values.length, 1, `deploy/patinox.service: expected one ${key}=`)
  return values[0]!
}

const unitEnv: Record<string, string> = Object.fromEntries(
  unit.filter(([k]) => k === "Environment").map(([, v]) => [v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1)])
)

// ---------------------------------------------------------------- Kubernetes

const manifestFiles = readdirSync(join(root, "deploy/kubernetes")).filter((f) => f.endsWith(".yaml")).sort()

/** Every document of every manifest, with the file it came from. */
const manifests = manifestFiles.flatMap((file) =>
  parseAllDocuments(read(`deploy/kubernetes/${file}`)).map((doc) => {
    assert.deepStrictEqual(doc.errors.map((e) => e.message), [], `deploy/kubernetes/${file} is not valid YAML`)
    const value: unknown = doc.toJS()
    return { file, value }
  })
)

const Kind = Schema.Struct({ kind: Schema.String, metadata: Schema.Struct({ name: Schema.String }) })

/** The one manifest of `kind`, decoded with `schema` (unknown keys kept, missing ones an error naming them). */
const one = <A, I>(kind: string, schema: Schema.Schema<A, I>): A => {
  const found = manifests.filter((m) => Schema.is(Kind)(m.value) && m.value.kind === kind)
  assert.strictEqual(found.length, 1, `expected one ${kind} in deploy/kubernetes`)
  return Schema.decodeUnknownSync(schema)(found[0]!.value)
}

const Probe = Schema.Struct({ httpGet: Schema.Struct({ path: Schema.String, port: Schema.Union(Schema.Number, Schema.String) }) })
const EnvVar = Schema.Struct({
  name: Schema.String,
  value: Schema.optional(Schema.String),
  valueFrom: Schema.optional(Schema.Struct({
    secretKeyRef: Schema.optional(Schema.Struct({ name: Schema.String, key: Schema.String, optional: Schema.optional(Schema.Boolean) }))
  }))
})
const Container = Schema.Struct({
  image: Schema.String,
  ports: Schema.Array(Schema.Struct({ name: Schema.optional(Schema.String), containerPort: Schema.Number })),
  env: Schema.Array(EnvVar),
  livenessProbe: Probe,
  readinessProbe: Probe,
  volumeMounts: Schema.Array(Schema.Struct({ name: Schema.String, mountPath: Schema.String }))
})
const Deployment = Schema.Struct({
  spec: Schema.Struct({
    replicas: Schema.Number,
    strategy: Schema.Struct({ type: Schema.String }),
    template: Schema.Struct({
      spec: Schema.Struct({
        enableServiceLinks: Schema.Boolean,
        terminationGracePeriodSeconds: Schema.Number,
        securityContext: Schema.Struct({ runAsNonRoot: Schema.Boolean, runAsUser: Schema.Number }),
        containers: Schema.Tuple(Container),
        volumes: Schema.Array(Schema.Struct({
          name: Schema.String,
          persistentVolumeClaim: Schema.optional(Schema.Struct({ claimName: Schema.String })),
          configMap: Schema.optional(Schema.Struct({ name: Schema.String })),
          secret: Schema.optional(Schema.Struct({ secretName: Schema.String }))
        }))
      })
    })
  })
})

const deployment = one("Deployment", Deployment)
const pod = deployment.spec.template.spec
const [container] = pod.containers
const service = one("Service", Schema.Struct({
  spec: Schema.Struct({ ports: Schema.Array(Schema.Struct({ port: Schema.Number, targetPort: Schema.Union(Schema.Number, Schema.String) })) })
}))
const configMap = one("ConfigMap", Schema.Struct({ metadata: Schema.Struct({ name: Schema.String }), data: Schema.Record({ key: Schema.String, value: Schema.String }) }))
const pvc = one("PersistentVolumeClaim", Schema.Struct({ metadata: Schema.Struct({ name: Schema.String }) }))
const secret = one("Secret", Schema.Struct({ metadata: Schema.Struct({ name: Schema.String }), stringData: Schema.Record({ key: Schema.String, value: Schema.String }) }))

const containerEnv = (name: string) => container.env.find((e) => e.name === name)
const mountOf = (volume: string) => container.volumeMounts.find((m) => m.name === volume)?.mountPath
const volumeNamed = (predicate: (v: (typeof pod.volumes)[number]) => boolean) => pod.volumes.find(predicate)?.name ?? ""

/** The file PATINOX_CONFIG names inside the pod, and its text from the ConfigMap mounted there. */
const podConfig = () => {
  const path = containerEnv("PATINOX_CONFIG")?.value ?? ""
  const mount = mountOf(volumeNamed((v) => v.configMap?.name === configMap.metadata.name))
  assert.isDefined(mount, `the ConfigMap ${configMap.metadata.name} is not mounted`)
  assert.strictEqual(posix.dirname(path), mount, "PATINOX_CONFIG must name a file in the ConfigMap's mount")
  const text = configMap.data[posix.basename(path)]
  assert.isDefined(text, `the ConfigMap has no key ${posix.basename(path)} (PATINOX_CONFIG=${path})`)
  return { path, text: text! }
}

/** True when `path` is `dir` or inside it. */
const isUnder = (path: string, dir: string) => posix.relative(dir, path) !== "" && !posix.relative(dir, path).startsWith("..")

// ---------------------------------------------------------------- the code's environment variables

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(`${dir}/${entry.name}`) : entry.name.endsWith(".ts") ? [`${dir}/${entry.name}`] : []
  )

/**
 * Every variable the service reads through `Config.<kind>("NAME")`, in the app and the packages it bundles,
 * or through AppConfig.ts's `portFrom("NAME")` (PATINOX_PORT, PORT).
 */
const readByCode = new Set([
  ...sourceFiles("apps/app/src"),
  ...readdirSync(join(root, "packages")).flatMap((p) => sourceFiles(`packages/${p}/src`))
].flatMap((file) => [...read(file).matchAll(/(?:Config\.\w+|portFrom)\("([A-Z][A-Z0-9_]*)"\)/g)].map((m) => m[1]!)))

const deployFiles = ["deploy/Dockerfile", "deploy/patinox.service", "deploy/assemble.sh", "deploy/patinox.yaml", "docs/deploy.md",
  ...manifestFiles.map((f) => `deploy/kubernetes/${f}`)]

describe("deploy/", () => {
  it("the code still has what the checks below read from it", () => {
    assert.strictEqual(defaultPort, 7070)
    assert.include(apiSource, `"health", "/health"`)
    assert.include(apiSource, `"ready", "/ready"`)
    assert.include(openPaths, `"/health"`)
    assert.include(openPaths, `"/ready"`)
    for (const name of ["PATINOX_HOST", "PATINOX_PORT", "PATINOX_API_TOKEN", "PATINOX_CONFIG", "PATINOX_AGENTS_DIR", "OPENAI_API_KEY"]) {
      assert.isTrue(readByCode.has(name), `no Config.*("${name}") found in the sources`)
    }
  })

  it.effect("every config file decodes with the service's schema and keeps the database on the volume", () =>
    Effect.gen(function*() {
      const image = yield* ConfigFile.parse(read("deploy/patinox.yaml"), "patinox.yaml")
      const { path, text } = podConfig()
      const pod = yield* ConfigFile.parse(text, path)

      // Kubernetes: the file is on the PersistentVolumeClaim's mount.
      const dataMount = mountOf(volumeNamed((v) => v.persistentVolumeClaim?.claimName === pvc.metadata.name))
      assert.isDefined(dataMount, `the PersistentVolumeClaim ${pvc.metadata.name} is not mounted`)
      assert.isTrue(posix.isAbsolute(pod.database.path), "database.path must not depend on the working directory")
      assert.isTrue(isUnder(pod.database.path, dataMount!), `database.path ${pod.database.path} is not under ${dataMount}`)
      // Behaviour files: where deploy/assemble.sh puts them in the image (WORKDIR/agents).
      assert.strictEqual(pod.agents.behaviourDir, posix.join(runtime("WORKDIR").at(-1) ?? "", "agents"))

      // The image: its config file is the one PATINOX_CONFIG names, the database on its VOLUME.
      const volume = runtime("VOLUME").join(" ")
      assert.isTrue(isUnder(image.database.path, volume), `database.path ${image.database.path} is not under VOLUME ${volume}`)
      assert.isTrue(runtime("COPY").includes(`deploy/patinox.yaml ${dockerEnv["PATINOX_CONFIG"]}`), "the image must carry deploy/patinox.yaml at PATINOX_CONFIG")

      // systemd: the same file, in the one directory the unit may write.
      assert.strictEqual(unitEnv["PATINOX_CONFIG"], "/etc/patinox/patinox.yaml")
      const writable = unitValue("ReadWritePaths")
      assert.isTrue(isUnder(image.database.path, writable), `database.path is not under ReadWritePaths=${writable}`)
      assert.strictEqual(`/var/lib/${unitValue("StateDirectory")}`, writable)
    }))

  it("one port everywhere: code default, Dockerfile, container, probes, Service", () => {
    const port = defaultPort
    assert.deepStrictEqual(runtime("EXPOSE"), [String(port)], "Dockerfile EXPOSE")
    assert.strictEqual(dockerEnv["PATINOX_PORT"] ?? String(port), String(port), "Dockerfile PATINOX_PORT")
    // The health check's fallback when PATINOX_PORT is unset.
    const healthcheck = runtime("HEALTHCHECK").join(" ")
    assert.strictEqual(/\|\|\s*(\d+)\)/.exec(healthcheck)?.[1], String(port), "HEALTHCHECK's port")

    assert.deepStrictEqual(container.ports.map((p) => p.containerPort), [port], "containerPort")
    assert.strictEqual(containerEnv("PATINOX_PORT")?.value ?? String(port), String(port), "the container's PATINOX_PORT")
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      assert.include([port, container.ports[0]!.name], probe.httpGet.port, `probe ${probe.httpGet.path}'s port`)
    }
    assert.deepStrictEqual(service.spec.ports.map((p) => p.targetPort), [port], "Service targetPort")

    assert.strictEqual(unitEnv["PATINOX_PORT"] ?? String(port), String(port), "the unit's PATINOX_PORT")
  })

  it("probes: liveness /health, readiness /ready (both open without the token)", () => {
    assert.strictEqual(container.livenessProbe.httpGet.path, "/health")
    assert.strictEqual(container.readinessProbe.httpGet.path, "/ready")
    assert.include(runtime("HEALTHCHECK").join(" "), "/health")
  })

  it.effect("every supervisor waits longer than the shutdown takes", () =>
    Effect.gen(function*() {
      // Requests in flight get agents.shutdownDeadlineMs, then the agents drain on the same budget
      // (Http.ts), then telemetry flushes: a kill before twice the deadline can cut work short.
      const inPod = yield* ConfigFile.parse(podConfig().text, "patinox.yaml")
      assert.isAbove(pod.terminationGracePeriodSeconds * 1000, 2 * inPod.agents.shutdownDeadlineMs, "terminationGracePeriodSeconds")
      const onHost = yield* ConfigFile.parse(read("deploy/patinox.yaml"), "patinox.yaml")
      assert.isAbove(Number(unitValue("TimeoutStopSec")) * 1000, 2 * onHost.agents.shutdownDeadlineMs, "TimeoutStopSec")
      assert.strictEqual(unitValue("KillSignal"), "SIGTERM")
    }))

  it("one replica, replaced with Recreate, as a non-root user", () => {
    // SQLite takes one writer and the volume is ReadWriteOnce: two pods, even briefly during a rollout, would fight over it.
    assert.strictEqual(deployment.spec.replicas, 1)
    assert.strictEqual(deployment.spec.strategy.type, "Recreate")
    assert.isTrue(pod.securityContext.runAsNonRoot)
    // Kubernetes injects PATINOX_PORT=tcp://… for a Service named "patinox" unless service links are off.
    assert.isFalse(pod.enableServiceLinks)

    const users = runtime("USER")
    assert.lengthOf(users, 1, "the runtime stage sets USER once")
    const user = users[0]!.split(":")[0]!
    assert.notInclude(["root", "0"], user)
    assert.strictEqual(user, String(pod.securityContext.runAsUser), "the image's USER is the pod's runAsUser")
    assert.notInclude(["root", ""], unitValue("User"))
  })

  it("the Dockerfile builds in one stage and runs the bundle in another", () => {
    assert.isAtLeast(instructions("FROM").length, 2)
    assert.strictEqual(dockerEnv["PATINOX_HOST"], "0.0.0.0")
    assert.deepStrictEqual(runtime("STOPSIGNAL"), ["SIGTERM"])
    assert.include(runtime("CMD").join(" "), "dist/bin/main.js")
    assert.include(instructions("RUN").join(" "), "corepack pnpm install --frozen-lockfile")
    assert.include(instructions("RUN").join(" "), "corepack pnpm --filter app build")
    assert.include(instructions("RUN").join(" "), "deploy/assemble.sh /out")
    assert.isTrue(runtime("COPY").some((args) => args.startsWith("--from=") && args.includes("/out")))
  })

  it("the run-time tree carries what the bundle leaves out", () => {
    const bundle = read("apps/app/scripts/bundle.ts")
    assert.include(bundle, `main: path("../src/main.ts")`)
    assert.include(bundle, `outdir: path("../dist/bin")`)
    assert.include(bundle, "external: [...required, ...optional]")
    const listed = (name: string) => new RegExp(`const ${name} = \\[(.*?)\\]`).exec(bundle)?.[1]?.match(/[\w@/.-]+/g) ?? []
    const required = listed("required")
    assert.isNotEmpty(required)
    const assemble = read("deploy/assemble.sh")
    for (const name of required) assert.include(assemble, `resolve_from ${name} `, `deploy/assemble.sh does not copy ${name}`)
    // An optional external is not in the tree: the deploy guide must say how to add it.
    const guide = read("docs/deploy.md")
    for (const name of listed("optional")) assert.include(guide, name, `docs/deploy.md does not mention ${name}`)

    const execStart = unitValue("ExecStart").split(" ")
    assert.strictEqual(execStart[1], posix.join(unitValue("WorkingDirectory"), "dist/bin/main.js"))
    assert.strictEqual(unitValue("KillSignal"), "SIGTERM")
    assert.strictEqual(unitValue("Restart"), "on-failure")
    assert.strictEqual(unitValue("NoNewPrivileges"), "true")
    assert.strictEqual(unitValue("ProtectSystem"), "strict")
  })

  it("every environment variable the files set is one the code reads", () => {
    const mentioned = new Set(deployFiles.flatMap((file) => [...read(file).matchAll(/\bPATINOX_[A-Z0-9_]+\b/g)].map((m) => m[0])))
    for (const name of mentioned) assert.isTrue(readByCode.has(name), `${name} is not read by the code`)

    // Every variable set in the pod, the image and the unit, PATINOX_ or not (NODE_ENV is node's own).
    const set = [...container.env.map((e) => e.name), ...Object.keys(dockerEnv), ...Object.keys(unitEnv), ...Object.keys(secret.stringData)]
    for (const name of set.filter((n) => n !== "NODE_ENV")) assert.isTrue(readByCode.has(name), `${name} is set but not read by the code`)

    // The token must come from the Secret: the pod binds 0.0.0.0, which the service refuses without one.
    assert.strictEqual(containerEnv("PATINOX_HOST")?.value, "0.0.0.0")
    const token = containerEnv("PATINOX_API_TOKEN")?.valueFrom?.secretKeyRef
    assert.strictEqual(token?.name, secret.metadata.name)
    assert.notStrictEqual(token?.optional, true, "PATINOX_API_TOKEN must not be optional")
    assert.strictEqual(containerEnv("OPENAI_API_KEY")?.valueFrom?.secretKeyRef?.optional, true)
    assert.strictEqual(unitValue("EnvironmentFile"), "/etc/patinox/patinox.env")
  })
})
