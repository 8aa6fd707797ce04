import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Ids } from "@patinox/core"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Migrations, TelemetryQueries, TelemetrySink } from "@patinox/telemetry-store"
import { Effect, Layer } from "effect"
import { eventsByTraceSql } from "../src/internal/traceSql.js"
import { event, insertEnvelope, sqlite, tempFile } from "./fixtures.js"

const traceA = Ids.TraceId.make("a".repeat(32))
const traceB = Ids.TraceId.make("b".repeat(32))
const runId = (n: number) => Ids.RunId.make(`run-${n}`)

/**
 * Two runs in trace A (as when one request runs two agents), a third in
 * trace B, interleaved as concurrent runs are; memory samples outside any
 * run in both traces; and a run whose events left trace A midway (its later
 * events belong to B). 1,200 events: several batches.
 */
const scenario = (): ReadonlyArray<TelemetryEvent> => {
  const events: Array<TelemetryEvent> = []
  for (let i = 0; i < 1_200; i++) {
    const ts = 1_000 + i
    const slot = i % 6
    if (slot === 0) events.push(event({ timestamp: ts, traceId: traceA, runId: runId(1) }))
    else if (slot === 1) events.push(event({ timestamp: ts, traceId: traceA, runId: runId(2) }))
    else if (slot === 2) events.push(event({ timestamp: ts, traceId: traceB, runId: runId(3) }))
    else if (slot === 3) events.push(event({ timestamp: ts, traceId: i < 600 ? traceA : traceB, runId: runId(4) }))
    else if (slot === 4 && i % 12 === 4) events.push(event({ timestamp: ts, type: "memory.sample", traceId: traceA, metrics: { memoryBytes: i }, context: {} }))
    else if (slot === 4) events.push(event({ timestamp: ts, type: "memory.sample", traceId: traceB, metrics: { memoryBytes: i }, context: {} }))
    else events.push(event({ timestamp: ts })) // a trace of its own
  }
  return events
}

const expectTraces = (written: ReadonlyArray<TelemetryEvent>) =>
  Effect.gen(function*() {
    const q = yield* TelemetryQueries.TelemetryQueries
    for (const trace of [traceA, traceB]) {
      const found = yield* q.eventsByTrace(trace)
      const expected = written.filter((e) => e.traceId === trace)
      assert.deepStrictEqual(
        found.map((e) => [e.timestamp, e.runId, e.type]),
        expected.map((e) => [e.timestamp, e.runId, e.type]),
        `events of trace ${trace.slice(0, 4)}`
      )
    }
    const lone = written[5]!
    assert.deepStrictEqual((yield* q.eventsByTrace(lone.traceId)).map((e) => e.timestamp), [lone.timestamp])
    assert.deepStrictEqual(yield* q.eventsByTrace(Ids.TraceId.make("c".repeat(32))), [])
  })

const writeAndQuery = (onThread: boolean) =>
  Effect.gen(function*() {
    const file = yield* tempFile
    const written = scenario()
    const context = yield* Layer.build(
      Layer.merge(
        TelemetrySink.layer({ batchSize: 250, flushIntervalMs: 60_000, filename: onThread ? file : undefined }),
        TelemetryQueries.layer
      ).pipe(Layer.provideMerge(Layer.effectDiscard(Migrations.run()).pipe(Layer.provideMerge(sqlite(file)))))
    )
    yield* Effect.gen(function*() {
      const sink = yield* TelemetrySink.TelemetrySink
      yield* sink.offerAll(written)
      yield* sink.flush
      assert.strictEqual((yield* sink.stats).written, written.length)
      yield* expectTraces(written)
      // One row per (trace, run) pair, however many batches its events came in.
      const sql = yield* SqlClient.SqlClient
      const pairs = yield* sql<{ trace_id: string; run_id: string; ts: number }>`
        SELECT trace_id, run_id, ts FROM run_traces ORDER BY run_id, trace_id`.withoutTransform
      assert.deepStrictEqual(pairs, [
        { trace_id: traceA, run_id: "run-1", ts: 1_000 },
        { trace_id: traceA, run_id: "run-2", ts: 1_001 },
        { trace_id: traceB, run_id: "run-3", ts: 1_002 },
        { trace_id: traceA, run_id: "run-4", ts: 1_003 },
        { trace_id: traceB, run_id: "run-4", ts: 1_603 }
      ])
    }).pipe(Effect.provide(context))
  })

describe("TelemetryQueries.eventsByTrace", () => {
  it.scoped("finds every event of a trace, in runs or not, written on the main thread", () => writeAndQuery(false))
  it.scoped("finds every event of a trace, in runs or not, written on the sink's thread", () => writeAndQuery(true))

  it.scoped("finds the events of a file written before migration 3 once it is upgraded", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const written = scenario()
      yield* Effect.gen(function*() {
        yield* Migrations.run(2)
        for (const e of written) {
          yield* insertEnvelope(e)
        }
      }).pipe(Effect.provide(sqlite(file)))
      yield* Effect.gen(function*() {
        assert.deepStrictEqual((yield* Migrations.run()).map(([id]) => id), [3, 4])
        yield* expectTraces(written)
      }).pipe(Effect.provide(TelemetryQueries.layer.pipe(Layer.provideMerge(sqlite(file)))))
    }))

  it.scoped("reads through indexes only: no scan of the events table", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      yield* Effect.gen(function*() {
        yield* Migrations.run()
        const sql = yield* SqlClient.SqlClient
        const plan = yield* sql.unsafe<{ detail: string }>(
          `EXPLAIN QUERY PLAN ${eventsByTraceSql}`,
          [traceA, traceA, traceA]
        )
        const details = plan.map((row) => row.detail)
        assert.isFalse(details.some((d) => /^SCAN (events|run_traces)\b/.test(d)), details.join("\n"))
        assert.isTrue(details.some((d) => d.includes("idx_events_run")), details.join("\n"))
        assert.isTrue(details.some((d) => d.includes("idx_events_trace_unrun")), details.join("\n"))
      }).pipe(Effect.provide(sqlite(file)))
    }))
})
