import { assert, describe, it } from "@effect/vitest"
import { Monitor } from "@patinox/core"
import { Chunk, Effect, Exit, Metric, Queue, Scope } from "effect"
import * as EventBus from "../src/EventBus.js"
import * as MonitoringConfig from "../src/MonitoringConfig.js"
import { event, eventually } from "./events.js"

const numbered = (i: number) => event("tool.start", { timestamp: i, context: { n: i } })

describe("EventBus", () => {
  it.scoped("never blocks a publisher and counts every drop under a burst of 10x its capacity", () =>
    Effect.gen(function*() {
      const before = (yield* Metric.value(EventBus.droppedEvents)).count
      const { bus, monitor } = yield* EventBus.make({ capacity: 16, strategy: "sliding" })
      const subscription = yield* bus.subscribe // a consumer that never reads
      for (let i = 0; i < 160; i++) yield* monitor.record(numbered(i))
      const stats = yield* bus.stats
      assert.strictEqual(stats.published, 160)
      assert.strictEqual(stats.dropped, 144)
      assert.strictEqual(stats.size, 16)
      assert.strictEqual((yield* Metric.value(EventBus.droppedEvents)).count - before, 144)
      // sliding: the newest survive
      const kept = Chunk.toReadonlyArray(yield* Queue.takeAll(subscription))
      assert.deepStrictEqual(kept.map((e) => e.timestamp), Array.from({ length: 16 }, (_, i) => 144 + i))
    }))

  it.scoped("with the dropping strategy keeps the oldest and refuses the rest", () =>
    Effect.gen(function*() {
      const { bus } = yield* EventBus.make({ capacity: 8, strategy: "dropping" })
      const subscription = yield* bus.subscribe
      let accepted = 0
      for (let i = 0; i < 80; i++) if (yield* bus.publish(numbered(i))) accepted++
      assert.strictEqual(accepted, 8)
      assert.strictEqual(yield* bus.dropped, 72)
      const kept = Chunk.toReadonlyArray(yield* Queue.takeAll(subscription))
      assert.deepStrictEqual(kept.map((e) => e.timestamp), [0, 1, 2, 3, 4, 5, 6, 7])
    }))

  it.scoped("delivers reported events to every subscriber through the core Monitor", () =>
    Effect.gen(function*() {
      const a = yield* EventBus.subscribe
      const b = yield* EventBus.subscribe
      yield* Monitor.report({ type: "run.start", agentId: event("run.start").agentId })
      assert.strictEqual((yield* Queue.take(a)).type, "run.start")
      assert.strictEqual((yield* Queue.take(b)).type, "run.start")
      assert.strictEqual((yield* EventBus.stats).subscribers, 2)
    }).pipe(Effect.provide(EventBus.layer(MonitoringConfig.make({ bus: { capacity: 4 } })))))

  it.effect("counts events recorded after the bus closed instead of interrupting the caller", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { bus, monitor } = yield* Scope.extend(EventBus.make({ capacity: 4, strategy: "sliding" }), scope)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Effect.exit(monitor.record(numbered(1)))
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(yield* bus.dropped, 1)
    }))

  it.scoped("unsubscribes when the subscriber's scope closes", () =>
    Effect.gen(function*() {
      const { bus } = yield* EventBus.make({ capacity: 4, strategy: "sliding" })
      const scope = yield* Scope.make()
      yield* Scope.extend(bus.subscribe, scope)
      assert.strictEqual((yield* bus.stats).subscribers, 1)
      yield* Scope.close(scope, Exit.void)
      const stats = yield* eventually(bus.stats, (s) => s.subscribers === 0)
      assert.strictEqual(stats.subscribers, 0)
    }))
})
