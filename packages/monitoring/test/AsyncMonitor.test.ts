import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import * as AsyncMonitor from "../src/AsyncMonitor.js"
import * as EventBus from "../src/EventBus.js"
import { event, runId } from "./events.js"

const counting = () => {
  const seen: Array<string> = []
  const monitor: AsyncMonitor.AsyncMonitor = {
    name: "counting",
    observe: (e) => Effect.sync(() => void seen.push(e.runId ?? "-")),
    analyze: Effect.succeed([]),
    report: Effect.succeed({ monitor: "counting", generatedAt: 0, observed: seen.length, patterns: [], summary: {} })
  }
  return { monitor, seen }
}

const busLayer = Layer.scoped(EventBus.EventBus, Effect.map(EventBus.make({ capacity: 1024, strategy: "sliding" }), (b) => b.bus))

describe("AsyncMonitor", () => {
  it.scoped("runs each monitor on its own fiber that stops when its scope closes", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus.EventBus
      const { monitor, seen } = counting()
      const scope = yield* Scope.make()
      const fiber = yield* Scope.extend(AsyncMonitor.start(monitor), scope)
      yield* bus.publish(event("run.start", { runId: runId("r1") }))
      yield* bus.flush
      assert.strictEqual(seen.length, 1)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* bus.publish(event("run.start", { runId: runId("r2") }))
      yield* Effect.yieldNow()
      assert.strictEqual(seen.length, 1)
      assert.strictEqual((yield* bus.stats).subscribers, 0)
    }).pipe(Effect.provide(busLayer)))

  it("samples whole runs by the hash of the run id", () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => runId(`run-${i}`))
    const kept = ids.filter((id) => AsyncMonitor.sampled(0.25, event("run.start", { runId: id })))
    assert.isAbove(kept.length, 400)
    assert.isBelow(kept.length, 600)
    for (const id of ids.slice(0, 50)) {
      const decisions = new Set(
        (["run.start", "model.request", "tool.end", "run.end"] as const).map((type) =>
          AsyncMonitor.sampled(0.25, event(type, { runId: id }))
        )
      )
      assert.strictEqual(decisions.size, 1)
    }
    assert.isFalse(AsyncMonitor.sampled(0, event("run.start", { runId: runId("x") })))
    assert.isTrue(AsyncMonitor.sampled(0, event("memory.sample")))
    assert.isTrue(AsyncMonitor.sampled(1, event("run.start", { runId: runId("x") })))
  })

  it.scoped("a sampled monitor sees only the kept runs, and every event outside runs", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus.EventBus
      const { monitor, seen } = counting()
      yield* AsyncMonitor.start(monitor, { sampleRate: 0.5 })
      const ids = Array.from({ length: 40 }, (_, i) => runId(`r-${i}`))
      for (const id of ids) {
        yield* bus.publish(event("run.start", { runId: id }))
        yield* bus.publish(event("run.end", { runId: id }))
      }
      yield* bus.publish(event("system.sample"))
      const expected = ids.filter((id) => AsyncMonitor.sampled(0.5, event("run.start", { runId: id })))
      yield* bus.flush
      assert.strictEqual(seen.length, expected.length * 2 + 1)
      assert.deepStrictEqual([...new Set(seen.filter((s) => s !== "-"))], expected)
    }).pipe(Effect.provide(busLayer)))
})
