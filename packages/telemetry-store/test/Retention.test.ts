import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Ids } from "@patinox/core"
import { Migrations, Retention, TelemetryQueries, TelemetrySink, TelemetryStore } from "@patinox/telemetry-store"
import { Effect, Layer, TestClock } from "effect"
import { join } from "node:path"
import { countRows, event, eventually, logInto, sqlite, tempFile } from "./fixtures.js"

const DAY = 86_400_000
const NOW = 1_000 * DAY

const store = (retention: Layer.Layer<Retention.Retention, never, SqlClient.SqlClient>) =>
  Effect.gen(function*() {
    const file = yield* tempFile
    return yield* Layer.build(
      Layer.merge(TelemetrySink.layer(), retention).pipe(
        Layer.provide(Layer.effectDiscard(Migrations.run())),
        Layer.provideMerge(sqlite(file))
      )
    )
  })

const offerAll = (events: ReadonlyArray<Parameters<TelemetrySink.Service["offer"]>[0]>) =>
  Effect.flatMap(TelemetrySink.TelemetrySink, (sink) =>
    Effect.zipRight(Effect.forEach(events, sink.offer, { discard: true }), sink.flush))

describe("Retention", () => {
  it.scoped("deletes events and alerts older than maxAgeDays", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const context = yield* store(Layer.effect(Retention.Retention, Retention.make({ maxAgeDays: 7, maxSizeMb: 512, chunkSize: 3 })))
      yield* Effect.gen(function*() {
        const old = Array.from({ length: 10 }, (_, i) => event({ timestamp: NOW - 8 * DAY + i, type: i % 2 === 0 ? "tool.end" : "state.change" }))
        const recent = Array.from({ length: 5 }, (_, i) => event({ timestamp: NOW - DAY + i }))
        const alerts = [
          event({ timestamp: NOW - 9 * DAY, type: "alert.firing", context: { rule: "r", severity: "warning" } }),
          event({ timestamp: NOW - DAY, type: "alert.firing", context: { rule: "r", severity: "warning" } })
        ]
        yield* offerAll([...old, ...recent, ...alerts])
        const result = yield* Effect.flatMap(Retention.Retention, (r) => r.prune)
        assert.strictEqual(result.deletedByAge, 11)
        assert.strictEqual(result.alertsDeleted, 1)
        assert.strictEqual(result.deletedBySize, 0)
        assert.strictEqual(yield* countRows(), 6)
        assert.strictEqual(yield* countRows("alerts"), 1)
      }).pipe(Effect.provide(context))
    }))

  it.scoped("forgets a trace's run once the run's last event is gone, and only then", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const context = yield* store(Layer.effect(Retention.Retention, Retention.make({ maxAgeDays: 7, maxSizeMb: 512 })))
      yield* Effect.gen(function*() {
        const traceId = Ids.TraceId.make("f".repeat(32))
        const inRun = (runId: string, timestamp: number) => event({ timestamp, traceId, runId: Ids.RunId.make(runId) })
        // run-old ends before the cutoff; run-across started before it and goes on after
        yield* offerAll([inRun("run-old", NOW - 9 * DAY), inRun("run-across", NOW - 8 * DAY), inRun("run-across", NOW - DAY), inRun("run-new", NOW - DAY)])
        const result = yield* Effect.flatMap(Retention.Retention, (r) => r.prune)
        assert.strictEqual(result.deletedByAge, 2)
        assert.strictEqual(result.runTracesDeleted, 1)
        const sql = yield* SqlClient.SqlClient
        const runs = yield* sql<{ run_id: string }>`SELECT run_id FROM run_traces ORDER BY run_id`.withoutTransform
        assert.deepStrictEqual(runs.map((r) => r.run_id), ["run-across", "run-new"])
        const byTrace = yield* Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.eventsByTrace(traceId)).pipe(
          Effect.provide(TelemetryQueries.layer)
        )
        assert.deepStrictEqual(byTrace.map((e): [string | undefined, number] => [e.runId, e.timestamp]), [["run-across", NOW - DAY], ["run-new", NOW - DAY]])
      }).pipe(Effect.provide(context))
    }))

  it.scoped("deletes the oldest events until the data fits maxSizeMb, and gives the pages back", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const context = yield* store(Layer.effect(Retention.Retention, Retention.make({ maxAgeDays: 7, maxSizeMb: 1, chunkSize: 200 })))
      yield* Effect.gen(function*() {
        const padding = "lorem ipsum dolor sit amet ".repeat(80) // ~2 KB per event
        const events = Array.from({ length: 3_000 }, (_, i) =>
          event({ timestamp: NOW - DAY + i, context: { note: padding, i } }))
        yield* offerAll(events)
        const retention = yield* Retention.Retention
        const before = yield* retention.usage
        assert.isAbove(before.usedBytes, 5 * 1024 * 1024)
        const result = yield* retention.prune
        assert.isAbove(result.deletedBySize, 0)
        assert.isAtMost(result.usedBytes, 1024 * 1024)
        assert.isTrue(result.vacuumed)
        assert.isBelow(result.fileBytes, before.fileBytes / 2)
        const sql = yield* SqlClient.SqlClient
        const [oldest] = yield* sql<{ ts: number }>`SELECT MIN(ts) AS ts FROM events`
        // What is left is the newest events.
        assert.strictEqual(oldest?.ts, NOW - DAY + result.deletedBySize)
        assert.strictEqual(yield* countRows(), 3_000 - result.deletedBySize)
      }).pipe(Effect.provide(context))
    }))

  it.scoped("prunes on its schedule", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const context = yield* store(Retention.layer({ maxAgeDays: 1, maxSizeMb: 512, intervalMs: 60_000 }))
      yield* Effect.gen(function*() {
        yield* offerAll([event({ timestamp: NOW - 2 * DAY }), event({ timestamp: NOW })])
        // The first prune ran when the layer started, before these were written.
        assert.strictEqual(yield* countRows(), 2)
        yield* TestClock.adjust("60 seconds")
        assert.strictEqual(yield* eventually(countRows(), (n) => n === 1), 1)
        yield* offerAll([event({ timestamp: NOW - 3 * DAY })])
        assert.strictEqual(yield* countRows(), 2)
        yield* TestClock.adjust("60 seconds")
        assert.strictEqual(yield* eventually(countRows(), (n) => n === 1), 1)
      }).pipe(Effect.provide(context))
    }))
})

/** The whole store on `file`, its sink given `sinkFile` (the same file: a write thread; elsewhere: none). */
const wholeStore = (file: string, sinkFile: string, logs: Array<string>) =>
  Layer.build(
    TelemetryStore.layer(
      TelemetryStore.Config.make({
        ...TelemetryStore.defaults,
        retention: { maxAgeDays: 7, maxSizeMb: 512, intervalMs: 3_600_000 }
      }),
      { filename: sinkFile }
    ).pipe(Layer.provideMerge(sqlite(file)), Layer.provide(logInto(logs)))
  )

describe("Retention beside the sink's write thread", () => {
  it.scoped("runs its deletes on the write thread's connection, not the agents' thread", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const file = yield* tempFile
      const logs: Array<string> = []
      const context = yield* wholeStore(file, file, logs)
      yield* Effect.gen(function*() {
        const old = Array.from({ length: 12_000 }, (_, i) => event({ timestamp: NOW - 10 * DAY + i, runId: Ids.RunId.make(`run-old-${i % 50}`) }))
        const recent = Array.from({ length: 300 }, (_, i) => event({ timestamp: NOW - DAY + i, runId: Ids.RunId.make("run-recent") }))
        // In slices the sink's queue takes whole.
        for (let at = 0; at < old.length; at += 2_000) yield* offerAll(old.slice(at, at + 2_000))
        yield* offerAll(recent)
        yield* offerAll([event({ timestamp: NOW - 9 * DAY, type: "alert.firing", context: { rule: "r", severity: "warning", value: 1 } })])
        const result = yield* Effect.flatMap(Retention.Retention, (retention) => retention.prune)
        assert.isTrue(result.onWriteThread)
        // 12,000 old state changes and one old alert event: more than one chunk of 5,000.
        assert.strictEqual(result.deletedByAge, 12_001)
        assert.strictEqual(result.alertsDeleted, 1)
        assert.strictEqual(result.runTracesDeleted, 12_000, "each old event has a trace of its own")
        assert.isTrue(result.vacuumed)
        assert.strictEqual(yield* countRows(), 300, "read through the main connection")
        assert.strictEqual(yield* countRows("alerts"), 0)
        // The sink keeps writing after it.
        yield* offerAll([event({ timestamp: NOW })])
        assert.strictEqual(yield* countRows(), 301)
      }).pipe(Effect.provide(context))
    }), { timeout: 30_000 })

  it.scoped("runs them on the main connection when the sink has no write thread", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const file = yield* tempFile
      const logs: Array<string> = []
      // The sink's thread is pointed at a file it cannot open: it writes on the main thread.
      const context = yield* wholeStore(file, join(file, "missing", "store.db"), logs)
      yield* Effect.gen(function*() {
        yield* offerAll([event({ timestamp: NOW - 10 * DAY }), event({ timestamp: NOW })])
        const result = yield* Effect.flatMap(Retention.Retention, (retention) => retention.prune)
        assert.isFalse(result.onWriteThread)
        assert.strictEqual(result.deletedByAge, 1)
        assert.strictEqual(yield* countRows(), 1)
      }).pipe(Effect.provide(context))
      assert.isTrue(logs.some((line) => line.startsWith("TelemetrySink: the write thread did not start")), logs.join("\n"))
    }))
})
