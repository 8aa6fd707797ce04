import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { TempDir } from "@patinox/testing"
import { Deferred, Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const appDir = fileURLToPath(new URL("..", import.meta.url))

interface Service {
  readonly process: ChildProcess
  readonly url: string
  readonly output: () => string
  readonly exit: Deferred.Deferred<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** `node --import tsx src/main.ts` (as `pnpm --filter app start:dev`), once it logs its URL. */
const startService = (configPath: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const listening = yield* Deferred.make<string, Error>()
      const exit = yield* Deferred.make<{ code: number | null; signal: NodeJS.Signals | null }>()
      const clean = { ...process.env }
      delete clean.OPENAI_API_KEY
      delete clean.OPENAI_BASE_URL
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
        cwd: appDir,
        env: { ...clean, PATINOX_PORT: "0", PATINOX_CONFIG: configPath },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        const match = /Listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
        if (match?.[1] !== undefined) Deferred.unsafeDone(listening, Effect.succeed(match[1]))
      }
      child.stdout.on("data", onData)
      child.stderr.on("data", onData)
      child.on("exit", (code, signal) => {
        Deferred.unsafeDone(listening, Effect.fail(new Error(`service exited (${code}) before listening:\n${output}`)))
        Deferred.unsafeDone(exit, Effect.succeed({ code, signal }))
      })
      const url = yield* Deferred.await(listening).pipe(Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => new Error(`service did not log its URL in 30 s:\n${output}`)
      }))
      const service: Service = { process: child, url, output: () => output, exit }
      return service
    }),
    (service) => Effect.sync(() => service.process.exitCode === null && service.process.kill("SIGKILL"))
  )

/**
 * `clients` loops posting runs until `acknowledged` runs got a 200, then
 * kills the process with SIGKILL while the others are in flight. Returns
 * the runIds of every 200 (requests cut by the kill are not acknowledged).
 */
const loadThenKill = (service: Service, clients: number, acknowledged: number) =>
  Effect.gen(function*() {
    const runIds: Array<string> = []
    let killed = false
    const client = async (n: number) => {
      for (let i = 0; !killed; i++) {
        try {
          const response = await fetch(`${service.url}/agents/assistant/runs`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ input: `What is ${n} + ${i}?` })
          })
          const body: unknown = await response.json()
          if (response.status === 200 && typeof body === "object" && body !== null && "runId" in body) {
            runIds.push(String(body.runId))
            if (runIds.length >= acknowledged && !killed) {
              killed = true
              service.process.kill("SIGKILL")
            }
          }
        } catch {
          // cut by the kill: never acknowledged
        }
      }
    }
    yield* Effect.promise(() => Promise.all(Array.from({ length: clients }, (_, n) => client(n))))
    yield* Deferred.await(service.exit).pipe(Effect.timeout("10 seconds"))
    return [...runIds]
  })

const query = <A extends object>(database: string, statement: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<A>, unknown>) =>
  Effect.flatMap(SqlClient.SqlClient, statement).pipe(
    Effect.provide(SqliteClient.layer({ filename: database })),
    Effect.orDie,
    Effect.scoped
  )

describe("durable mode, with a real process", () => {
  it.scopedLive("keeps every acknowledged run, with its end, through kill -9 under load; the next start marks the runs left open", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-crash-")
      const configPath = join(dir, "patinox.config.json")
      const database = join(dir, "patinox.db")
      // The rate limit would answer most of this load with 422s; durable mode is on by default.
      writeFileSync(configPath, JSON.stringify({ database: { path: database }, validation: { rateLimit: { enabled: false } } }))
      const service = yield* startService(configPath)
      const acknowledged = yield* loadThenKill(service, 12, 300)
      assert.isAtLeast(acknowledged.length, 300)

      const stored = yield* query<{ run_id: string; ends: number }>(database, (sql) =>
        sql<{ run_id: string; ends: number }>`
          SELECT run_id, sum(type = 'run.end') AS ends FROM events
          WHERE run_id IN ${sql.in(acknowledged)} GROUP BY run_id`.withoutTransform)
      const ended = new Set(stored.filter((row) => row.ends === 1).map((row) => row.run_id))
      const missing = acknowledged.filter((runId) => !ended.has(runId))
      assert.deepStrictEqual(missing, [], `${missing.length} of ${acknowledged.length} acknowledged runs not stored with their end`)

      // The next start: every run has an end, the ones the kill cut marked RunAbandoned.
      const restarted = yield* startService(configPath)
      const open = yield* query<{ n: number }>(database, (sql) =>
        sql<{ n: number }>`
          SELECT count(*) AS n FROM events s WHERE s.type = 'run.start' AND s.run_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM events e WHERE e.run_id = s.run_id AND e.type IN ('run.end', 'run.error'))`.withoutTransform)
      assert.strictEqual(open[0]?.n, 0)
      const abandoned = yield* query<{ n: number }>(database, (sql) =>
        sql<{ n: number }>`SELECT count(*) AS n FROM events WHERE type = 'run.error' AND error_tag = 'RunAbandoned'`.withoutTransform)
      const marked = abandoned[0]?.n ?? 0
      if (marked > 0) assert.include(restarted.output(), `Telemetry: ${marked} run(s) started and never ended`)
    }), { timeout: 120_000 })
})
