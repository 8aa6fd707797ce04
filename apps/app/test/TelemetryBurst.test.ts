import { assert, describe, it } from "@effect/vitest"
import { Ids, Monitor, type TelemetryEvent } from "@patinox/core"
import { TelemetrySink } from "@patinox/telemetry-store"
import { TempDir } from "@patinox/testing"
import { Effect, FiberSet, Layer } from "effect"
import { join } from "node:path"
import * as ConfigFile from "../src/ConfigFile.js"
import * as Telemetry from "@patinox/patinox/Telemetry"

const event: TelemetryEvent.TelemetryEvent = {
  timestamp: 0,
  traceId: Ids.TraceId.make("0123456789abcdef0123456789abcdef"),
  spanId: Ids.SpanId.make("0123456789abcdef"),
  type: "tool.end",
  agentId: Ids.AgentId.make("burst"),
  metrics: { latencyMs: 1 },
  context: { tool: "burst" }
}

describe("the service's telemetry under a burst", () => {
  it.scopedLive("keeps writing while reporters keep the event loop busy with back-to-back timers", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-burst-")
      const file = yield* ConfigFile.parse("{}", "defaults")
      const db = join(dir, "burst.db")
      const context = yield* Layer.build(Telemetry.layer(file, db).pipe(Layer.provide(Telemetry.databaseLayer(db))))
      const sink = yield* Effect.provide(TelemetrySink.TelemetrySink, context)
      const monitor = yield* Effect.provide(Monitor.Monitor, context)
      yield* sink.offer(event)
      yield* sink.flush // the write thread is up
      const before = (yield* sink.stats).written
      const run = yield* FiberSet.makeRuntime<never>()
      // Reporters in slices of ~25 ms chained by `setTimeout(0)`: the loop runs
      // timers back to back and seldom reaches the phase where the write
      // thread's answers are delivered, so the sink must read them itself.
      // The burst lasts until the sink has written `target` events and dropped
      // some (it was offered more than it takes), or gives up after `patience`:
      // a slow host takes longer, a stalled sink never gets there.
      const target = 20_000
      const patience = 20_000
      let latest = yield* sink.stats
      const readStats = Effect.flatMap(sink.stats, (stats) => Effect.sync(() => (latest = stats)))
      const started = performance.now()
      yield* Effect.promise(() =>
        new Promise<void>((resolve) => {
          const slice = () => {
            const done = latest.written - before >= target && latest.dropped > 0
            if (done || performance.now() - started >= patience) return resolve()
            for (let i = 0; i < 13_000; i++) run(monitor.record({ ...event, timestamp: Date.now() }))
            run(readStats)
            setTimeout(slice, 0)
          }
          setTimeout(slice, 0)
        })
      )
      const stats = yield* sink.stats
      // Stalled, the sink stops at the batches in flight (8 × 500).
      assert.isAtLeast(
        stats.written - before,
        target,
        `${Math.round(performance.now() - started)} ms of burst: ${JSON.stringify(stats)}`
      )
      assert.isAbove(stats.dropped, 0, "the burst is more than the sink takes: drops are counted")
    }), { timeout: 30_000 })
})
