import { assert, describe, it } from "@effect/vitest"
import { Monitor } from "@patinox/core"
import { Chunk, Effect, Exit, Fiber, Metric, Queue, Scope, TestClock } from "effect"
import * as EventBus from "../src/EventBus.js"
import * as MonitoringConfig from "../src/MonitoringConfig.js"
import { event } from "./events.js"

const numbered = (i: number) => event("tool.start", { timestamp: i, context: { n: i } })

/** Lets every forked fiber run until it waits (TestClock waits for them before moving time). */
const settle = TestClock.adjust(0)

const missedOf = (name: string) =>
  Effect.map(Metric.value(EventBus.consumerMissedEvents.pipe(Metric.tagged("consumer", name))), (c) => c.count)

const collector = () => {
  const batches: Array<ReadonlyArray<number>> = []
  const handle = (events: ReadonlyArray<ReturnType<typeof numbered>>) =>
    Effect.sync(() => void batches.push(events.map((e) => e.timestamp)))
  return { batches, handle, seen: () => batches.flat() }
}

describe("EventBus", () => {
  it.scoped("never blocks a publisher and counts every drop under a burst of 10x its capacity", () =>
    Effect.gen(function*() {
      const before = (yield* Metric.value(EventBus.droppedEvents)).count
      const { bus, monitor } = yield* EventBus.make({ capacity: 16, strategy: "sliding" })
      const subscription = yield* bus.subscribe // a subscriber that never reads
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

  it.scoped("a subscriber that falls behind loses events from its own queue only", () =>
    Effect.gen(function*() {
      const { bus, monitor } = yield* EventBus.make({ capacity: 8, strategy: "sliding" })
      const fast = yield* bus.subscribe
      const slow = yield* bus.subscribe
      const read: Array<number> = []
      for (let i = 0; i < 100; i++) {
        yield* monitor.record(numbered(i))
        for (const e of yield* Queue.takeAll(fast)) read.push(e.timestamp)
      }
      assert.deepStrictEqual(read, Array.from({ length: 100 }, (_, i) => i))
      const kept = Chunk.toReadonlyArray(yield* Queue.takeAll(slow)).map((e) => e.timestamp)
      assert.deepStrictEqual(kept, Array.from({ length: 8 }, (_, i) => 92 + i))
      assert.strictEqual(yield* bus.dropped, 92, "only the slow subscriber's losses")
    }))

  it.effect("counts drops exactly when the runtime lets a reader run between the publisher's steps", () =>
    // The runtime yields every `maxOps` operations; over these values its yields fall at every step of a
    // publish, so a reader freeing slots runs at every point between two of them.
    Effect.forEach(Array.from({ length: 55 }, (_, i) => 10 + i), (maxOps) =>
      Effect.scoped(Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 8, strategy: "sliding" })
        const subscription = yield* bus.subscribe
        const received: Array<number> = []
        let published = false
        // A reader slower than the publisher, so the queue fills and slides while it reads; it stops
        // once the publisher is done (never holding an event it took and has not counted).
        const reader = Effect.gen(function*() {
          while (!published) {
            for (const e of yield* Queue.takeUpTo(subscription, 1)) received.push(e.timestamp)
            yield* Effect.yieldNow()
            yield* Effect.yieldNow()
          }
        })
        yield* Effect.gen(function*() {
          const fiber = yield* Effect.fork(reader)
          for (let i = 0; i < 5_000; i++) yield* monitor.record(numbered(i))
          published = true
          yield* Fiber.join(fiber)
        }).pipe(Effect.withMaxOpsBeforeYield(maxOps))
        const stats = yield* bus.stats
        const all = [...received, ...Chunk.toReadonlyArray(yield* Queue.takeAll(subscription)).map((e) => e.timestamp)]
        assert.strictEqual(stats.published, 5_000)
        assert.isAbove(received.length, 10, `maxOps ${maxOps}: the reader ran during the publishing`)
        assert.isAbove(stats.dropped, 0)
        assert.strictEqual(all.length + stats.dropped, 5_000, `maxOps ${maxOps}: received or counted, every one, once`)
        assert.isTrue(all.every((t, i) => i === 0 || t > all[i - 1]!), "in order")
      })), { discard: true }))

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
      const subscription = yield* Scope.extend(bus.subscribe, scope)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Effect.exit(monitor.record(numbered(1)))
      assert.isTrue(Exit.isSuccess(exit))
      assert.isFalse(yield* bus.publish(numbered(2)))
      assert.strictEqual(yield* bus.dropped, 2)
      assert.isTrue(yield* Queue.isShutdown(subscription))
    }))

  it.scoped("unsubscribes when the subscriber's scope closes", () =>
    Effect.gen(function*() {
      const { bus, monitor } = yield* EventBus.make({ capacity: 4, strategy: "sliding" })
      const scope = yield* Scope.make()
      yield* Scope.extend(bus.subscribe, scope)
      assert.strictEqual((yield* bus.stats).subscribers, 1)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* bus.stats).subscribers, 0)
      for (let i = 0; i < 10; i++) yield* monitor.record(numbered(i))
      assert.strictEqual(yield* bus.dropped, 0, "nobody subscribed: nothing lost")
    }))

  describe("consume", () => {
    it.scoped("hands events over in batches once lingerMs has passed, not one wake-up per event", () =>
      Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 1024, strategy: "sliding", lingerMs: 100 })
        const a = collector()
        const b = collector()
        yield* bus.consume(a.handle, { name: "a" })
        yield* bus.consume(b.handle, { name: "b", batchSize: 4 })
        for (let i = 0; i < 10; i++) yield* monitor.record(numbered(i))
        yield* TestClock.adjust("99 millis")
        assert.deepStrictEqual(a.batches, [], "still lingering")
        yield* TestClock.adjust("1 millis")
        yield* settle
        assert.deepStrictEqual(a.batches, [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
        assert.deepStrictEqual(b.batches, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        // the next event waits its own linger
        yield* monitor.record(numbered(10))
        yield* TestClock.adjust("50 millis")
        assert.deepStrictEqual(a.seen().length, 10)
        yield* TestClock.adjust("50 millis")
        yield* settle
        assert.deepStrictEqual(a.batches.at(-1), [10])
      }))

    it.scoped("flush ends the linger and waits for every consumer; with nothing pending it returns at once", () =>
      Effect.gen(function*() {
        // a linger far longer than the test: only flush (or a half-full queue) wakes the consumers
        const { bus, monitor } = yield* EventBus.make({ capacity: 1024, strategy: "sliding", lingerMs: 60_000 })
        const a = collector()
        const b = collector()
        yield* bus.consume(a.handle, { name: "a" })
        yield* bus.flush
        yield* bus.consume(b.handle, { name: "b", batchSize: 4 })
        for (let i = 0; i < 5; i++) yield* monitor.record(numbered(i))
        yield* settle
        assert.deepStrictEqual(a.batches, [])
        for (let i = 5; i < 10; i++) yield* monitor.record(numbered(i))
        yield* bus.flush
        assert.deepStrictEqual(a.seen(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        assert.deepStrictEqual(b.seen(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        yield* bus.flush
        assert.strictEqual(a.batches.length, 1, "the second flush found nothing to hand over")
      }))

    it.scoped("wakes a consumer as soon as half its queue is waiting", () =>
      Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 64, strategy: "dropping", lingerMs: 60_000 })
        const a = collector()
        yield* bus.consume(a.handle, { name: "a", batchSize: 1000 })
        // the first 10 are taken at once and linger in hand; the queue itself then fills
        for (let i = 0; i < 10; i++) yield* monitor.record(numbered(i))
        yield* settle
        for (let i = 10; i < 41; i++) yield* monitor.record(numbered(i))
        yield* settle
        assert.strictEqual(a.seen().length, 0, "31 waiting: still lingering")
        yield* monitor.record(numbered(41))
        yield* settle
        assert.deepStrictEqual(a.seen(), Array.from({ length: 42 }, (_, i) => i))
        assert.strictEqual(yield* bus.dropped, 0)
      }))

    it.scoped("counts every event a consumer did not get, with the consumer running between publishes", () =>
      Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 64, strategy: "sliding", lingerMs: 1 })
        const received: Array<number> = []
        yield* bus.consume((events) =>
          Effect.sync(() => {
            for (const e of events) received.push(e.timestamp)
          }), { name: "counter", batchSize: 16 })
        // 20,000 events in slices of 500, a millisecond between them: the consumer keeps up with part of them
        for (let i = 0; i < 20_000; i++) {
          yield* monitor.record(numbered(i))
          if (i % 500 === 499) yield* TestClock.adjust("1 millis")
        }
        yield* bus.flush
        const stats = yield* bus.stats
        const own = stats.consumers[0]
        assert.isDefined(own)
        assert.strictEqual(stats.published, 20_000)
        assert.isAbove(own.missed, 0)
        assert.strictEqual(own.received, received.length)
        assert.strictEqual(received.length + own.missed, 20_000, "received or counted, every one")
        assert.strictEqual(own.missed, stats.dropped)
        assert.isTrue(received.every((t, i) => i === 0 || t > received[i - 1]!), "in order")
        assert.strictEqual(received.at(-1), 19_999, "the newest kept")
      }))

    it.scoped("counts each consumer's own misses: a consumer held up loses events, the others none", () =>
      Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 8, strategy: "sliding", lingerMs: 10 })
        const before = { fast: yield* missedOf("misses-fast"), slow: yield* missedOf("misses-slow") }
        const fast = collector()
        yield* bus.consume(fast.handle, { name: "misses-fast" })
        // the slow consumer takes one event and then holds its round until released: its queue fills behind it
        const release = yield* Effect.makeLatch(false)
        let slowHandled = 0
        yield* bus.consume(
          (events) => Effect.zipRight(release.await, Effect.sync(() => void (slowHandled += events.length))),
          { name: "misses-slow", batchSize: 1 }
        )
        for (let i = 0; i < 60; i++) {
          yield* monitor.record(numbered(i))
          yield* TestClock.adjust("3 millis")
        }
        yield* TestClock.adjust("10 millis")
        // while the slow one still holds: what each received, missed and has waiting is what was published
        const held = yield* bus.stats
        assert.deepStrictEqual(
          held.consumers.map((c) => ({ name: c.name, received: c.received, missed: c.missed, waiting: c.waiting })),
          [
            { name: "misses-fast", received: 60, missed: 0, waiting: 0 },
            // one in its blocked round, the newest 8 in its queue, the rest slid out
            { name: "misses-slow", received: 1, missed: 51, waiting: 8 }
          ]
        )
        assert.strictEqual(held.dropped, 51)
        yield* release.open
        yield* bus.flush
        const stats = yield* bus.stats
        const slow = stats.consumers.find((c) => c.name === "misses-slow")
        assert.deepStrictEqual(slow && { received: slow.received, missed: slow.missed, waiting: slow.waiting }, {
          received: 9,
          missed: 51,
          waiting: 0
        })
        assert.strictEqual(slowHandled, 9)
        assert.deepStrictEqual(fast.seen(), Array.from({ length: 60 }, (_, i) => i))
        assert.strictEqual((yield* missedOf("misses-slow")) - before.slow, 51)
        assert.strictEqual((yield* missedOf("misses-fast")) - before.fast, 0)
      }))

    it.effect("a closing scope hands over what is still waiting, and a failing handler does not stop the consumer", () =>
      Effect.gen(function*() {
        const busScope = yield* Scope.make()
        const { bus, monitor } = yield* Scope.extend(
          EventBus.make({ capacity: 64, strategy: "sliding", lingerMs: 60_000 }),
          busScope
        )
        const consumerScope = yield* Scope.make()
        const a = collector()
        let calls = 0
        yield* Scope.extend(
          bus.consume((events) => (calls++ === 0 ? Effect.die("boom") : a.handle(events)), { name: "a" }),
          consumerScope
        )
        yield* monitor.record(numbered(0))
        yield* bus.flush // the first batch dies in the handler: logged, not fatal
        for (let i = 1; i < 3; i++) yield* monitor.record(numbered(i))
        yield* settle // these two are taken and linger in hand
        for (let i = 3; i < 5; i++) yield* monitor.record(numbered(i)) // these wait in the queue
        yield* Scope.close(consumerScope, Exit.void)
        assert.deepStrictEqual(a.seen(), [1, 2, 3, 4])
        assert.strictEqual((yield* bus.stats).subscribers, 0)
        yield* Scope.close(busScope, Exit.void)
      }))
  })
})
