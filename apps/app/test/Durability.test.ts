import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Ids, Monitor } from "@patinox/core"
import { TelemetrySink } from "@patinox/telemetry-store"
import { TempDir } from "@patinox/testing"
import { Effect, Exit, Layer } from "effect"
import { join } from "node:path"
import * as ConfigFile from "../src/ConfigFile.js"
import * as Durability from "@patinox/patinox/Durability"
import * as Telemetry from "@patinox/patinox/Telemetry"

const agentId = Ids.AgentId.make("durable-test")

/**
 * The service's telemetry on a temp SQLite file. The sink's own timer is set
 * far off (60 s, batches of 500), so whatever is in the store right after a
 * run got there through a commit, not through the sink's batching.
 */
const telemetry = (db: string, config: object) =>
  Effect.gen(function*() {
    const file = yield* Effect.orDie(ConfigFile.parse(JSON.stringify(config), "test"))
    return yield* Layer.build(Telemetry.layer(file, db).pipe(Layer.provideMerge(Telemetry.databaseLayer(db))))
  })

const slowSink = { flushIntervalMs: 60_000, batchSize: 500 }

/** What an agent run reports, in order (as the step loop does), for `runId`. */
const reportRun = (runId: Ids.RunId, extra = 0) =>
  Effect.gen(function*() {
    yield* Monitor.report({ type: "run.start", agentId, runId })
    yield* Monitor.report({ type: "model.request", agentId, runId })
    for (let i = 0; i < extra; i++) yield* Monitor.report({ type: "state.change", agentId, runId, context: { i } })
    yield* Monitor.report({ type: "model.response", agentId, runId })
    yield* Monitor.report({ type: "run.end", agentId, runId })
    return runId
  })

const storedRuns = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ run_id: string; events: number; ends: number }>`
      SELECT run_id, count(*) AS events, sum(type = 'run.end') AS ends FROM events
      WHERE run_id IN ${sql.in(ids)} GROUP BY run_id`.withoutTransform).pipe(Effect.orDie)

describe("durable runs", () => {
  it.scopedLive("are committed with all their events before they return, concurrent runs sharing commits", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-durable-")
      const context = yield* telemetry(join(dir, "t.db"), { telemetry: slowSink })
      const durability = yield* Effect.provide(Durability.Durability, context)
      const sink = yield* Effect.provide(TelemetrySink.TelemetrySink, context)
      const before = yield* sink.stats
      const runs = 32
      const ids = yield* Effect.forEach(
        Array.from({ length: runs }, (_, i) => Ids.RunId.make(`durable-${i}`)),
        (runId) => durability.durable(reportRun(runId)).pipe(Effect.provide(context)),
        { concurrency: "unbounded" }
      )
      const stored = yield* Effect.provide(storedRuns(ids), context)
      assert.strictEqual(stored.length, runs)
      for (const run of stored) {
        assert.strictEqual(run.events, 4, run.run_id)
        assert.strictEqual(run.ends, 1, run.run_id)
      }
      const stats = yield* durability.stats
      const after = yield* sink.stats
      assert.strictEqual(stats.committed, runs)
      assert.isBelow(stats.commits, runs, "concurrent runs share group commits")
      assert.isBelow(after.batches - before.batches, runs, "and share the sink's transactions")
    }))

  it.scopedLive("with durable off, return before their events are committed", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-not-durable-")
      const context = yield* telemetry(join(dir, "t.db"), { telemetry: { ...slowSink, durable: false } })
      const durability = yield* Effect.provide(Durability.Durability, context)
      const runId = yield* durability.durable(reportRun(Ids.RunId.make("not-durable"))).pipe(Effect.provide(context))
      assert.deepStrictEqual(yield* Effect.provide(storedRuns([runId]), context), [])
      // `commit` still works on demand.
      yield* durability.commit
      assert.strictEqual((yield* Effect.provide(storedRuns([runId]), context)).length, 1)
    }))

  it.scopedLive("commit failed runs too, keeping their error", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-durable-failed-")
      const context = yield* telemetry(join(dir, "t.db"), { telemetry: slowSink })
      const durability = yield* Effect.provide(Durability.Durability, context)
      const runId = Ids.RunId.make("durable-failed")
      const exit = yield* durability.durable(
        Effect.gen(function*() {
          yield* Monitor.report({ type: "run.start", agentId, runId })
          yield* Monitor.report({ type: "run.error", agentId, runId })
          return yield* Effect.fail("model down" as const)
        })
      ).pipe(Effect.provide(context), Effect.exit)
      assert.deepStrictEqual(exit, Exit.fail("model down" as const))
      const stored = yield* Effect.provide(storedRuns([runId]), context)
      assert.strictEqual(stored[0]?.events, 2)
    }))

  it.scopedLive("fail loudly when the bus dropped events while they ran", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-durable-drop-")
      // A bus of 8 events: a run reporting 200 at once overflows it before the feed can read them.
      const context = yield* telemetry(join(dir, "t.db"), { telemetry: slowSink, monitoring: { bus: { capacity: 8 } } })
      const durability = yield* Effect.provide(Durability.Durability, context)
      const exit = yield* durability.durable(reportRun(Ids.RunId.make("overflowing"), 200)).pipe(
        Effect.provide(context),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.instanceOf(error, Durability.TelemetryNotDurable)
      }
      assert.strictEqual((yield* durability.stats).notDurable, 1)
    }))

  it.scopedLive("mark the runs a dead process left open as abandoned, at the next start", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-abandoned-")
      const db = join(dir, "t.db")
      const open = Ids.RunId.make("left-open")
      const ended = Ids.RunId.make("ended")
      // The first process: one run ends, one only starts (its end never comes).
      yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* telemetry(db, { telemetry: slowSink })
        yield* reportRun(ended).pipe(Effect.provide(context))
        yield* Monitor.report({ type: "run.start", agentId, runId: open }).pipe(Effect.provide(context))
        yield* Effect.flatMap(Effect.provide(Durability.Durability, context), (durability) => durability.commit)
      }))
      const context = yield* telemetry(db, { telemetry: slowSink })
      const durability = yield* Effect.provide(Durability.Durability, context)
      assert.strictEqual((yield* durability.stats).abandoned, 1)
      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ run_id: string; type: string; payload: string }>`
          SELECT run_id, type, payload FROM events WHERE type = 'run.error'`.withoutTransform).pipe(
          Effect.orDie,
          Effect.provide(context)
        )
      assert.strictEqual(rows.length, 1)
      assert.strictEqual(rows[0]?.run_id, open)
      assert.include(rows[0]?.payload ?? "", "RunAbandoned")
    }))
})
