import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { ActionResult, AgentAction, Decision, Ids, Redaction } from "@patinox/core"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Migrations, TelemetryQueries, TelemetrySink } from "@patinox/telemetry-store"
import { Deferred, Effect, Fiber, Layer, Option, TestClock } from "effect"
import { join } from "node:path"
import { prepare } from "../src/internal/batch.js"
import { alertColumnNames, type Cell, columnNames } from "../src/internal/columns.js"
import { countRows, decision, event, eventually, logInto, modelResponse, sqlite, tempFile, toolEnd } from "./fixtures.js"

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

  it.scoped("takes a bus consumer's whole batch at once, in order, and counts what does not fit", () =>
    Effect.gen(function*() {
      const { context } = yield* setup({ batchSize: 500, flushIntervalMs: 60_000, queueCapacity: 20 })
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        const events = Array.from({ length: 25 }, (_, i) => event({ timestamp: 1_000 + i }))
        yield* sink.offerAll(events)
        const queued = yield* sink.stats
        assert.strictEqual(queued.queued, 20)
        assert.strictEqual(queued.dropped, 5, "the 5 that did not fit")
        yield* sink.flush
        const sql = yield* SqlClient.SqlClient
        const stored = yield* sql.unsafe<{ ts: number }>("SELECT ts FROM events ORDER BY id")
        assert.deepStrictEqual(stored.map((r) => r.ts), events.slice(0, 20).map((e) => e.timestamp))
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

/** A sink writing to `file` on its own thread, with the main connection for reads. */
const onThreads = (file: string, options: TelemetrySink.Options, logs: Array<string> = []) =>
  Layer.merge(TelemetrySink.layer({ ...options, filename: file }), TelemetryQueries.layer).pipe(
    Layer.provide(Layer.effectDiscard(Migrations.run())),
    Layer.provideMerge(sqlite(file)),
    Layer.provide(logInto(logs))
  )

const T0 = 1_700_000_000_000
/** `count` events stamped `T0 + from`, `T0 + from + 1`, and so on. */
const stamped = (count: number, from = 0) => Array.from({ length: count }, (_, i) => event({ timestamp: T0 + from + i }))
/** The stored events' timestamps, in the order they were inserted. */
const storedTimestamps = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => Effect.map(sql.unsafe<{ ts: number }>("SELECT ts FROM events ORDER BY id"), (rows) => rows.map((r) => r.ts))
)

const payloads = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => Effect.map(sql.unsafe<{ payload: string }>("SELECT payload FROM events ORDER BY id"), (rows) => rows.map((r) => r.payload))
)

// One write thread for the block: each start loads the modules again (about a second).
const threadLogs: Array<string> = []
const tenantRedaction: Redaction.Options = { patterns: [{ name: "tenant", pattern: /tenant-secret-\d+/ }] }
const shared = Layer.unwrapScoped(Effect.map(tempFile, (file) =>
  onThreads(file, { batchSize: 10, flushIntervalMs: 60_000, redaction: tenantRedaction }, threadLogs)))

/** One of each kind of event the store files differently, with secrets and text outside ASCII. */
const variedEvents = (): Array<TelemetryEvent> => [
  event({
    type: "run.start",
    runId: Ids.RunId.make("run-varied"),
    action: new AgentAction.UserInput({ input: "Résumé for jane.doe@example.com, ref tenant-secret-42 ✓" }),
    context: {}
  }),
  modelResponse("gpt-4o-mini", 812.5, 1_700_000_000_100, { tokensIn: 120, tokensOut: 33 }),
  toolEnd("search", 42.25, 1_700_000_000_200),
  toolEnd("fetch_url", 3_001, 1_700_000_000_300, true),
  decision("jailbreak", "rejected", 1_700_000_000_400),
  event({
    type: "run.error",
    result: new ActionResult.Failure({ error: "ModelError", message: "401 for key sk-abcdEFGH1234ijklMNOP5678qrstUVWX" }),
    context: { error: "ModelError", attempts: [1, 2, { backoffMs: 250, note: "quote \" and \\ kept" }], password: "hunter2-db" }
  }),
  event({
    type: "validation.decision",
    metrics: {
      decisions: [
        new Decision.DecisionRecord({ validator: "pii", stage: "tool_result", decision: "modified", reason: "mail ops@corp.example.com", latencyMs: 0.2 })
      ]
    },
    context: { nested: { deeper: { list: ["a", null, true, 1.5] } }, missing: undefined }
  }),
  event({ type: "alert.firing", context: { rule: "error-rate", severity: "critical", value: 0.4 } })
]

/** The last `count` rows of `table`, as cells in `columns` order. */
const lastRows = (table: string, columns: ReadonlyArray<string>, count: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql.unsafe<Record<string, Cell>>(`SELECT ${columns.join(",")} FROM ${table} ORDER BY id DESC LIMIT ${count}`),
      (rows) => [...rows].reverse().flatMap((row) => columns.map((column) => row[column] ?? null))
    ))

layer(shared)("TelemetrySink on its own thread", (it) => {
  it.effect("takes offers while its thread starts, and writes them once it is ready", () =>
    Effect.gen(function*() {
      const sink = yield* TelemetrySink.TelemetrySink
      for (let i = 0; i < 25; i++) yield* sink.offer(event())
      const early = yield* sink.stats
      assert.strictEqual(early.written, 0, "nothing is written before the thread is ready")
      assert.strictEqual(early.dropped, 0)
      yield* sink.flush
      const stats = yield* sink.stats
      assert.strictEqual(stats.written, 25)
      assert.strictEqual(stats.batches, 3)
      assert.strictEqual(stats.queued, 0)
      assert.strictEqual(yield* countRows(), 25, "read through the main connection")
      assert.isTrue(threadLogs.some((line) => line.startsWith("TelemetrySink: write thread ready")))
    }))

  it.effect("flush waits until everything offered before it is committed, and stats follow the acknowledgements", () =>
    Effect.gen(function*() {
      const sink = yield* TelemetrySink.TelemetrySink
      const before = yield* sink.stats
      // Fewer than a batch, and the interval is a minute away: only the flush writes them.
      for (let i = 0; i < 7; i++) yield* sink.offer(event())
      yield* sink.flush
      const after = yield* sink.stats
      assert.strictEqual(after.written - before.written, 7)
      assert.strictEqual(after.batches - before.batches, 1)
      assert.strictEqual(after.failed, 0)
      assert.isAbove(after.lastFlushAt, 0)
      assert.isAbove(after.lastFlushMs, 0)
      assert.strictEqual(yield* countRows(), after.written)
    }))

  it.effect("stores exactly the rows the main thread built, whatever the event holds", () =>
    Effect.gen(function*() {
      const sink = yield* TelemetrySink.TelemetrySink
      const before = yield* sink.stats
      const events = variedEvents()
      yield* sink.offerAll(events)
      yield* sink.flush
      const after = yield* sink.stats
      assert.strictEqual(after.written - before.written, events.length)
      // What the main thread builds from the same events, with the same redaction.
      const expected = prepare(Redaction.make(tenantRedaction).event, events)
      assert.strictEqual(expected.failed, 0)
      assert.deepStrictEqual(yield* lastRows("events", columnNames, events.length), expected.events)
      assert.deepStrictEqual(yield* lastRows("alerts", alertColumnNames, 1), expected.alerts)
      const stored = (yield* lastRows("events", ["payload"], events.length)).join("\n")
      for (const secret of ["jane.doe@example.com", "tenant-secret-42", "sk-abcdEFGH1234", "hunter2-db", "ops@corp.example.com"]) {
        assert.notInclude(stored, secret)
      }
      assert.include(stored, "Résumé")
    }))

  it.effect("stores a context value a clone would change (an Option) as its JSON", () =>
    Effect.gen(function*() {
      const sink = yield* TelemetrySink.TelemetrySink
      const before = yield* sink.stats
      // A clone drops the prototype, where Option's `toJSON` and `_tag` live.
      yield* sink.offer(event({ context: { state: "calling_model", retry: Option.some(2) } }))
      yield* sink.offer(event())
      yield* sink.flush
      const after = yield* sink.stats
      assert.strictEqual(after.written - before.written, 2)
      const payload = (yield* payloads).at(-2) ?? ""
      assert.include(payload, `"retry":{"_id":"Option","_tag":"Some","value":2}`)
    }))

  it.effect("redacts with the configured patterns", () =>
    Effect.gen(function*() {
      const sink = yield* TelemetrySink.TelemetrySink
      yield* sink.offer(event({ context: { note: "ref tenant-secret-7781, mail jane.doe@example.com", password: "hunter2-db" } }))
      yield* sink.flush
      const last = (yield* payloads).at(-1) ?? ""
      assert.include(last, "[REDACTED:tenant]")
      assert.include(last, "[REDACTED:email]")
      assert.notInclude(last, "tenant-secret-7781")
      assert.notInclude(last, "jane.doe@example.com")
      assert.notInclude(last, "hunter2-db")
    }))

  it.effect("writes a batch holding a value JSON cannot hold (a function), without it", () =>
    Effect.gen(function*() {
      const sink = yield* TelemetrySink.TelemetrySink
      const before = yield* sink.stats
      yield* sink.offer(event({ context: { state: "calling_model", onDone: () => "a function" } }))
      for (let i = 0; i < 4; i++) yield* sink.offer(event())
      yield* sink.flush
      const after = yield* sink.stats
      assert.strictEqual(after.written - before.written, 5)
      assert.strictEqual(after.failed, 0)
      // As inline, where JSON.stringify drops the function too.
      assert.isTrue((yield* payloads).some((p) => p.includes(`"state":"calling_model"`) && !p.includes("onDone")))
    }))

  it.effect("counts an event whose context throws when read, and writes the rest of its batch", () =>
    Effect.gen(function*() {
      const sink = yield* TelemetrySink.TelemetrySink
      const before = yield* sink.stats
      const context: Record<string, unknown> = { state: "calling_model" }
      Object.defineProperty(context, "broken", {
        enumerable: true,
        get: () => {
          throw new Error("unreadable")
        }
      })
      yield* sink.offer(event({ context }))
      for (let i = 0; i < 3; i++) yield* sink.offer(event())
      yield* sink.flush
      const after = yield* sink.stats
      assert.strictEqual(after.written - before.written, 3)
      assert.strictEqual(after.failed - before.failed, 1)
      assert.strictEqual(yield* countRows(), after.written)
    }))

  it.effect("counts a failed batch and keeps writing", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const sink = yield* TelemetrySink.TelemetrySink
      const before = yield* sink.stats
      yield* sql.unsafe("ALTER TABLE events RENAME TO events_away")
      for (let i = 0; i < 4; i++) yield* sink.offer(event())
      yield* sink.flush
      assert.strictEqual((yield* sink.stats).failed - before.failed, 4)
      yield* sql.unsafe("ALTER TABLE events_away RENAME TO events")
      for (let i = 0; i < 3; i++) yield* sink.offer(event())
      yield* sink.flush
      const after = yield* sink.stats
      assert.strictEqual(after.written - before.written, 3)
      assert.strictEqual(yield* countRows(), after.written)
      assert.isTrue(threadLogs.some((line) => line.includes("4 of 4 events in a batch were not written")))
    }))
})

describe("TelemetrySink on its own thread, starting and stopping", () => {
  it.scoped("writes everything offered during start-up when its scope closes at once", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        for (let i = 0; i < 1_234; i++) yield* sink.offer(event())
        yield* sink.offer(event({ type: "alert.firing", context: { rule: "error-rate", severity: "critical", value: 0.4 } }))
      }).pipe(Effect.provide(onThreads(file, { batchSize: 500, flushIntervalMs: 60_000 })))
      // A new connection to the closed file.
      const [events, alerts] = yield* Effect.all([countRows(), countRows("alerts")]).pipe(Effect.provide(sqlite(file)))
      assert.strictEqual(events, 1_235)
      assert.strictEqual(alerts, 1)
    }))

  it.scoped("takes a ready-made redactor, and still writes on its thread", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const logs: Array<string> = []
      const redactor = Redaction.make({ patterns: [{ name: "badge", pattern: /badge-\d{4}/ }] })
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        yield* sink.offer(event({ context: { note: "visitor badge-4711 at the desk" } }))
        yield* sink.flush
        const stats = yield* sink.stats
        assert.strictEqual(stats.written, 1)
        const stored = (yield* payloads)[0] ?? ""
        assert.include(stored, "[REDACTED:badge]")
        assert.notInclude(stored, "badge-4711")
      }).pipe(Effect.provide(onThreads(file, { batchSize: 10, flushIntervalMs: 60_000, redactor }, logs)))
      assert.isTrue(logs.some((line) => line.startsWith("TelemetrySink: write thread ready")), logs.join("\n"))
    }))

  it.scoped("writes more batches than it keeps in flight, every event once and in order", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        yield* sink.ready
        // 20 batches at once: more than the 8 in flight, so the writer waits for room.
        yield* sink.offerAll(stamped(2_000))
        yield* sink.flush
        const stats = yield* sink.stats
        assert.strictEqual(stats.written, 2_000)
        assert.strictEqual(stats.failed, 0)
        assert.strictEqual(stats.queued, 0)
        assert.deepStrictEqual(yield* storedTimestamps, stamped(2_000).map((e) => e.timestamp), "in order")
      }).pipe(Effect.provide(onThreads(file, { batchSize: 100, flushIntervalMs: 60_000 })))
    }))

  it.scoped("writes on the main thread when its thread cannot start, and says so", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const logs: Array<string> = []
      // The write thread is pointed at a file it cannot open.
      const sink = TelemetrySink.layer({ batchSize: 10, flushIntervalMs: 60_000, filename: join(file, "missing", "store.db") })
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        for (let i = 0; i < 12; i++) yield* sink.offer(event())
        yield* sink.flush
        const stats = yield* sink.stats
        assert.strictEqual(stats.written, 12)
        assert.strictEqual(stats.failed, 0)
        assert.strictEqual(yield* countRows(), 12)
      }).pipe(
        Effect.provide(sink.pipe(
          Layer.provide(Layer.effectDiscard(Migrations.run())),
          Layer.provideMerge(sqlite(file)),
          Layer.provide(logInto(logs))
        ))
      )
      assert.isTrue(logs.some((line) => line.startsWith("TelemetrySink: the write thread did not start")), logs.join("\n"))
    }))
})
