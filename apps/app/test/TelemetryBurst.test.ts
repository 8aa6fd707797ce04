import { assert, describe, it } from "@effect/vitest"
import { Ids, Monitor, type TelemetryEvent } from "@patinox/core"
import { TelemetrySink } from "@patinox/telemetry-store"
import { Effect, FiberSet, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ConfigFile from "../src/ConfigFile.js"
import * as Telemetry from "../src/Telemetry.js"

const event: TelemetryEvent.TelemetryEvent = {
  timestamp: 0,
  traceId: Ids.TraceId.make("0123456789abcdef0123456789abcdef"),
  spanId: Ids.SpanId.make("0123456789abcdef"),
  type: "tool.end",
  agentId: Ids.AgentId.make("burst"),
  metrics: { latencyMs: 1 },
  context: { tool: "burst" }
}

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "patinox-burst-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("the service's telemetry under a burst", () => {
  it.scopedLive("keeps writing while reporters keep the event loop busy with back-to-back timers", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
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
      const until = performance.now() + 2_000
      yield* Effect.promise(() =>
        new Promise<void>((resolve) => {
          const slice = () => {
            if (performance.now() >= until) return resolve()
            for (let i = 0; i < 13_000; i++) run(monitor.record({ ...event, timestamp: Date.now() }))
            setTimeout(slice, 0)
          }
          setTimeout(slice, 0)
        })
      )
      const stats = yield* sink.stats
      // Stalled, the sink stops at the batches in flight (8 × 500).
      assert.isAbove(stats.written - before, 20_000, JSON.stringify(stats))
      assert.isAbove(stats.dropped, 0, "the burst is more than the sink takes: drops are counted")
    }), { timeout: 30_000 })
})
