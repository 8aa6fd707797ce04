import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { TempDir } from "@patinox/testing"
import { Deferred, Effect } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { type Service, startService } from "./serviceProcess.js"

/** The service on the config file at `configPath`, on a free port. */
const startOn = (configPath: string) => startService({ PATINOX_PORT: "0", PATINOX_CONFIG: configPath })

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
      const service = yield* startOn(configPath)
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
      const restarted = yield* startOn(configPath)
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
