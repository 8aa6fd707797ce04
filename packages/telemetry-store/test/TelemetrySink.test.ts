import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Migrations, TelemetryQueries, TelemetrySink } from "@patinox/telemetry-store"
import { Deferred, Effect, Fiber, Layer, TestClock } from "effect"
import { countRows, event, eventually, sqlite, tempFile } from "./fixtures.js"

/** A migrated temp file and a sink on it, both closed with the test's scope. */
const setup = (options: TelemetrySink.Options) =>
  Effect.gen(function*() {
    const file = yield* tempFile
    const context = yield* Layer.build(
      Layer.merge(TelemetrySink.layer(options), TelemetryQueries.layer).pipe(
        Layer.provide(Layer.effectDiscard(Migrations.run())),
        Layer.provideMerge(sqlite(file))
      )
    )
    return { file, context }
  })

describe("TelemetrySink", () => {
  it.scoped("writes a batch as soon as batchSize events are queued, without waiting for the interval", () =>
    Effect.gen(function*() {
      const { context } = yield* setup({ batchSize: 10, flushIntervalMs: 60_000 })
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        for (let i = 0; i < 10; i++) yield* sink.offer(event())
        const stats = yield* eventually(sink.stats, (s) => s.written === 10)
        assert.strictEqual(stats.written, 10)
        assert.strictEqual(stats.batches, 1)
        for (let i = 0; i < 3; i++) yield* sink.offer(event())
        const later = yield* eventually(sink.stats, (s) => s.written > 10, 50)
        assert.strictEqual(later.written, 10, "a partial batch waits for the interval")
        assert.strictEqual(later.queued, 3)
        assert.strictEqual(yield* countRows(), 10)
      }).pipe(Effect.provide(context))
    }))

  it.scoped("writes a partial batch when flushInterval passes", () =>
    Effect.gen(function*() {
      const { context } = yield* setup({ batchSize: 500, flushIntervalMs: 1_000 })
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        for (let i = 0; i < 5; i++) yield* sink.offer(event())
        yield* TestClock.adjust("999 millis")
        assert.strictEqual((yield* eventually(sink.stats, (s) => s.written > 0, 50)).written, 0)
        yield* TestClock.adjust("1 millis")
        const stats = yield* eventually(sink.stats, (s) => s.written === 5)
        assert.strictEqual(stats.written, 5)
        assert.strictEqual(yield* countRows(), 5)
      }).pipe(Effect.provide(context))
    }))

  it.scoped("writes everything still queued when its scope closes", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        for (let i = 0; i < 1_234; i++) yield* sink.offer(event())
      }).pipe(
        Effect.provide(
          TelemetrySink.layer({ batchSize: 5_000, flushIntervalMs: 60_000 }).pipe(
            Layer.provide(Layer.effectDiscard(Migrations.run())),
            Layer.provide(sqlite(file))
          )
        )
      )
      // A new connection to the closed file.
      assert.strictEqual(yield* countRows().pipe(Effect.provide(sqlite(file))), 1_234)
    }))

  it.scoped("never blocks offer when the writer is stuck: drops and counts", () =>
    Effect.gen(function*() {
      const { context } = yield* setup({ batchSize: 5, queueCapacity: 20, flushIntervalMs: 60_000 })
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const sink = yield* TelemetrySink.TelemetrySink
        // Another fiber holds the only connection in an open transaction.
        const release = yield* Deferred.make<void>()
        const holding = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(sql.withTransaction(Effect.zipRight(Deferred.succeed(holding, undefined), Deferred.await(release))))
        yield* Deferred.await(holding)
        for (let i = 0; i < 1_000; i++) {
          yield* sink.offer(event())
          if (i % 50 === 0) yield* Effect.yieldNow()
        }
        const stuck = yield* sink.stats
        assert.strictEqual(stuck.written, 0)
        assert.isAbove(stuck.dropped, 900)
        // Bounded loss: what is not dropped is in the queue or in the batch being written.
        assert.isAtMost(1_000 - stuck.dropped, 20 + 5)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        yield* sink.flush
        const after = yield* sink.stats
        assert.strictEqual(after.written + after.dropped, 1_000)
        assert.strictEqual(yield* countRows(), after.written)
      }).pipe(Effect.provide(context))
    }))

  it.scoped("counts a failed batch and keeps writing", () =>
    Effect.gen(function*() {
      const { context } = yield* setup({ batchSize: 500, flushIntervalMs: 60_000 })
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const sink = yield* TelemetrySink.TelemetrySink
        yield* sql.unsafe("ALTER TABLE events RENAME TO events_away")
        for (let i = 0; i < 4; i++) yield* sink.offer(event())
        yield* sink.flush
        assert.strictEqual((yield* sink.stats).failed, 4)
        yield* sql.unsafe("ALTER TABLE events_away RENAME TO events")
        for (let i = 0; i < 3; i++) yield* sink.offer(event())
        yield* sink.flush
        const stats = yield* sink.stats
        assert.strictEqual(stats.written, 3)
        assert.strictEqual(stats.failed, 4)
        assert.strictEqual(yield* countRows(), 3)
      }).pipe(Effect.provide(context))
    }))

  it.scoped("also records alert events in the alerts table", () =>
    Effect.gen(function*() {
      const { context } = yield* setup({ batchSize: 500, flushIntervalMs: 60_000 })
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        const queries = yield* TelemetryQueries.TelemetryQueries
        yield* sink.offer(event({ timestamp: 10, type: "alert.firing", context: { rule: "error-rate", severity: "critical", value: 0.4 } }))
        yield* sink.offer(event({ timestamp: 20, type: "alert.resolved", context: { rule: "error-rate", severity: "critical", value: 0.01 } }))
        yield* sink.flush
        const alerts = yield* queries.alerts({ since: 0 })
        assert.deepStrictEqual(alerts.map((a) => [a.ts, a.rule, a.severity, a.state, a.value]), [
          [20, "error-rate", "critical", "resolved", 0.01],
          [10, "error-rate", "critical", "firing", 0.4]
        ])
        assert.strictEqual(yield* countRows(), 2)
      }).pipe(Effect.provide(context))
    }))
})
