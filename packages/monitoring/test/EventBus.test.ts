import { assert, describe, it } from "@effect/vitest"
import { Monitor } from "@patinox/core"
import { Chunk, Effect, Exit, Fiber, Metric, Queue, Scope } from "effect"
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

  it.scoped("a full sliding bus slides in batches: in order, and a slot freed meanwhile takes an event instead of a drop", () =>
    Effect.gen(function*() {
      const { bus, monitor } = yield* EventBus.make({ capacity: 16, strategy: "sliding", lingerMs: 60_000 })
      const subscription = yield* bus.subscribe
      // 16 fill the bus; the next 10 wait in the overflow (fewer than SLIDE_BATCH)
      for (let i = 0; i < 26; i++) yield* monitor.record(numbered(i))
      // the reader frees 8 slots before the overflow slides in
      const first = Chunk.toReadonlyArray(yield* Queue.takeUpTo(subscription, 8))
      assert.deepStrictEqual(first.map((e) => e.timestamp), [0, 1, 2, 3, 4, 5, 6, 7])
      const stats = yield* bus.stats // slides the overflow in
      assert.strictEqual(stats.published, 26)
      assert.strictEqual(stats.dropped, 2, "8 fit in the freed slots; 2 slid the oldest out")
      assert.strictEqual(stats.size, 16)
      const rest = Chunk.toReadonlyArray(yield* Queue.takeAll(subscription))
      assert.deepStrictEqual(rest.map((e) => e.timestamp), Array.from({ length: 16 }, (_, i) => 10 + i))
      // every event read or counted
      assert.strictEqual(first.length + rest.length + stats.dropped, stats.published)
    }))

  it.scopedLive("every event a consumer did not get is counted as dropped, with the consumer running between publishes", () =>
    Effect.gen(function*() {
      const { bus, monitor } = yield* EventBus.make({ capacity: 64, strategy: "sliding", lingerMs: 1 })
      const received: Array<number> = []
      yield* bus.consume((events) => Effect.sync(() => {
        for (const e of events) received.push(e.timestamp)
      }), { name: "counter", batchSize: 16 })
      // 50,000 events in slices of 500, the consumer woken in between: it keeps up with part of them.
      for (let i = 0; i < 50_000; i++) {
        yield* monitor.record(numbered(i))
        if (i % 500 === 499) yield* Effect.yieldNow()
      }
      yield* bus.flush
      const stats = yield* bus.stats
      assert.strictEqual(stats.published, 50_000)
      assert.isAbove(stats.dropped, 0)
      assert.strictEqual(received.length + stats.dropped, 50_000, "received or counted, every one")
      assert.isTrue(received.every((t, i) => i === 0 || t > received[i - 1]!), "in order")
      assert.strictEqual(received.at(-1), 49_999, "the newest kept")
    }))

  it.effect("counts drops exactly when the runtime lets a reader run between the publisher's steps", () =>
    // The runtime yields every `maxOps` operations; over these values its yields fall at every step of a
    // slide, among them between counting the free slots and publishing into them: there, a reader freeing
    // slots made up to 5,014 of 5,000 events received or counted (at 13 of these 55 values) until the
    // slide held off the yield.
    Effect.forEach(Array.from({ length: 55 }, (_, i) => 10 + i), (maxOps) =>
      Effect.scoped(Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 8, strategy: "sliding", lingerMs: 60_000 })
        const subscription = yield* bus.subscribe
        const received: Array<number> = []
        let published = false
        // A reader slower than the publisher, so the bus fills and slides while it reads; it stops
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
        assert.isAbove(received.length, 100, `maxOps ${maxOps}: the reader ran during the publishing`)
        assert.isAbove(stats.dropped, 0)
        assert.strictEqual(all.length + stats.dropped, 5_000, `maxOps ${maxOps}: received or counted, every one, once`)
        assert.isTrue(all.every((t, i) => i === 0 || t > all[i - 1]!), "in order")
      })), { discard: true }))

  it.scopedLive("a full sliding bus slides its overflow in on the linger tick, for a subscriber that reads it directly", () =>
    Effect.gen(function*() {
      const { bus, monitor } = yield* EventBus.make({ capacity: 4, strategy: "sliding", lingerMs: 10 })
      const subscription = yield* bus.subscribe
      for (let i = 0; i < 6; i++) yield* monitor.record(numbered(i))
      const next = yield* Queue.takeN(subscription, 4).pipe(
        Effect.zipRight(Queue.takeN(subscription, 2)),
        Effect.timeout("2 seconds")
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(next).map((e) => e.timestamp), [4, 5])
      assert.strictEqual(yield* bus.dropped, 0, "the reader freed the slots before the tick")
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

  describe("consume", () => {
    const collector = () => {
      const batches: Array<ReadonlyArray<number>> = []
      const handle = (events: ReadonlyArray<ReturnType<typeof numbered>>) =>
        Effect.sync(() => void batches.push(events.map((e) => e.timestamp)))
      return { batches, handle, seen: () => batches.flat() }
    }

    it.scoped("hands events over in batches, not one wake-up per event, and flush waits for every consumer", () =>
      Effect.gen(function*() {
        // a linger far longer than the test: only flush (or half the capacity) wakes the consumers
        const { bus, monitor } = yield* EventBus.make({ capacity: 1024, strategy: "sliding", lingerMs: 60_000 })
        const a = collector()
        const b = collector()
        yield* bus.consume(a.handle, { name: "a" })
        yield* bus.consume(b.handle, { name: "b", batchSize: 4 })
        for (let i = 0; i < 10; i++) yield* monitor.record(numbered(i))
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
        assert.deepStrictEqual(a.batches, [], "recording alone wakes nobody")
        yield* bus.flush
        assert.deepStrictEqual(a.batches, [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
        assert.deepStrictEqual(b.batches, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
      }))

    it.scopedLive("counts each consumer's own misses: a slide drops what the slowest has not read, which a faster one may have", () =>
      Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 8, strategy: "sliding", lingerMs: 2 })
        const missedOf = (name: string) =>
          Effect.map(Metric.value(EventBus.consumerMissedEvents.pipe(Metric.tagged("consumer", name))), (c) => c.count)
        const before = { fast: yield* missedOf("misses-fast"), slow: yield* missedOf("misses-slow") }
        const fast = collector()
        yield* bus.consume(fast.handle, { name: "misses-fast" })
        // the slow consumer takes one event and then holds its round until released: the bus fills behind it
        const release = yield* Effect.makeLatch(false)
        let slowReceived = 0
        yield* bus.consume(
          (events) => Effect.zipRight(release.await, Effect.sync(() => void (slowReceived += events.length))),
          { name: "misses-slow", batchSize: 1 }
        )
        for (let i = 0; i < 60; i++) {
          yield* monitor.record(numbered(i))
          yield* Effect.sleep("3 millis")
        }
        // while the slow one still holds: what each received, missed and has waiting is what was published
        const held = yield* bus.stats
        assert.strictEqual(held.consumers.length, 2)
        for (const c of held.consumers) assert.strictEqual(c.received + c.missed + c.waiting, 60, c.name)
        assert.isAbove(held.consumers.find((c) => c.name === "misses-slow")?.waiting ?? 0, 0)
        yield* release.open
        yield* bus.flush
        const stats = yield* bus.stats
        const byName = new Map(stats.consumers.map((c) => [c.name, c]))
        const fastStats = byName.get("misses-fast")
        const slowStats = byName.get("misses-slow")
        assert.isDefined(fastStats)
        assert.isDefined(slowStats)
        assert.strictEqual(stats.published, 60)
        // the fast consumer read every event, though the bus dropped some: the bus's count is not its loss
        assert.isAbove(stats.dropped, 40)
        assert.deepStrictEqual(fast.seen(), Array.from({ length: 60 }, (_, i) => i))
        assert.deepStrictEqual(
          { received: fastStats.received, missed: fastStats.missed, waiting: fastStats.waiting },
          { received: 60, missed: 0, waiting: 0 }
        )
        // the slow one missed exactly what the bus dropped; received and missed make up what was published
        assert.strictEqual(slowStats.received, slowReceived)
        assert.strictEqual(slowStats.missed, stats.dropped)
        assert.strictEqual(slowStats.received + slowStats.missed, 60)
        assert.strictEqual((yield* missedOf("misses-slow")) - before.slow, slowStats.missed)
        assert.strictEqual((yield* missedOf("misses-fast")) - before.fast, 0)
      }))

    it.scoped("wakes the consumers as soon as half the capacity is waiting", () =>
      Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 64, strategy: "dropping", lingerMs: 60_000 })
        const a = collector()
        yield* bus.consume(a.handle, { name: "a", batchSize: 1000 })
        for (let i = 0; i < 31; i++) yield* monitor.record(numbered(i))
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
        assert.strictEqual(a.seen().length, 0)
        yield* monitor.record(numbered(31))
        const seen = yield* eventually(Effect.sync(a.seen), (s) => s.length === 32, 2_000)
        assert.deepStrictEqual(seen, Array.from({ length: 32 }, (_, i) => i))
        assert.strictEqual(yield* bus.dropped, 0)
      }))

    it.scoped("wakes every lingerMs without being asked", () =>
      Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 64, strategy: "sliding", lingerMs: 5 })
        const a = collector()
        yield* bus.consume(a.handle, { name: "a" })
        yield* monitor.record(numbered(1))
        const seen = yield* eventually(Effect.sync(a.seen), (s) => s.length === 1, 2_000)
        assert.deepStrictEqual(seen, [1])
      }))

    it.scopedLive("a tick waits while the agents' garbage collection is busy, and wakes the consumers once it is quiet", () =>
      Effect.gen(function*() {
        let busy = true
        let asked = 0
        const { bus, monitor } = yield* EventBus.make(
          { capacity: 64, strategy: "sliding", lingerMs: 5, gcDeferMs: 60_000 },
          { gcBusy: () => (asked++, busy) }
        )
        const a = collector()
        yield* bus.consume(a.handle, { name: "a" })
        for (let i = 0; i < 3; i++) yield* monitor.record(numbered(i))
        yield* Effect.sleep("150 millis")
        assert.deepStrictEqual(a.seen(), [], "no round while busy (30 lingers)")
        assert.isAtLeast(asked, 10, "asked again about every millisecond")
        busy = false
        const seen = yield* eventually(Effect.sync(a.seen), (s) => s.length === 3, 2_000)
        assert.deepStrictEqual(seen, [0, 1, 2])
      }))

    it.scopedLive("a tick never waits longer than gcDeferMs, and flush does not wait at all", () =>
      Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make(
          { capacity: 64, strategy: "sliding", lingerMs: 5, gcDeferMs: 20 },
          { gcBusy: () => true }
        )
        const a = collector()
        yield* bus.consume(a.handle, { name: "a" })
        const rounds: Array<number> = []
        yield* bus.consume(() => Effect.sync(() => void rounds.push(performance.now())), { name: "b" })
        let i = 0
        yield* Effect.forkScoped(Effect.forever(Effect.zipRight(monitor.record(numbered(i++)), Effect.sleep("1 millis"))))
        yield* Effect.sleep("500 millis")
        // each tick waits its 20 ms: a round every ~25-30 ms per consumer over two consumers' ticks, not none
        assert.isAtLeast(rounds.length, 6, `${rounds.length} rounds in 500 ms`)
        const { bus: quiet, monitor: quietMonitor } = yield* EventBus.make(
          { capacity: 64, strategy: "sliding", lingerMs: 60_000, gcDeferMs: 60_000 },
          { gcBusy: () => true }
        )
        const c = collector()
        yield* quiet.consume(c.handle, { name: "c" })
        yield* quietMonitor.record(numbered(7))
        yield* quiet.flush
        assert.deepStrictEqual(c.seen(), [7])
        assert.isAbove(a.seen().length, 0)
      }))

    it.scopedLive("with gcDeferMs 0 the garbage collection is never asked about", () =>
      Effect.gen(function*() {
        let asked = 0
        const { bus, monitor } = yield* EventBus.make(
          { capacity: 64, strategy: "sliding", lingerMs: 2, gcDeferMs: 0 },
          { gcBusy: () => (asked++, true) }
        )
        const a = collector()
        yield* bus.consume(a.handle, { name: "a" })
        yield* monitor.record(numbered(1))
        yield* eventually(Effect.sync(a.seen), (s) => s.length === 1, 2_000)
        yield* Effect.sleep("20 millis")
        assert.strictEqual(asked, 0)
      }))

    it.scopedLive("wakes the consumers in turn, each every lingerMs, not all on the same tick", () =>
      Effect.gen(function*() {
        const { bus, monitor } = yield* EventBus.make({ capacity: 4096, strategy: "sliding", lingerMs: 120 })
        const rounds: Array<{ readonly at: number; readonly name: string }> = []
        const names = ["a", "b", "c", "d"]
        for (const name of names) {
          yield* bus.consume(() => Effect.sync(() => void rounds.push({ at: performance.now(), name })), { name })
        }
        // an event every 2 ms, so that every round has something to hand over
        let i = 0
        yield* Effect.forkScoped(Effect.forever(Effect.zipRight(monitor.record(numbered(i++)), Effect.sleep("2 millis"))))
        yield* Effect.sleep("750 millis")
        for (const name of names) {
          const own = rounds.filter((round) => round.name === name).length
          assert.isAtLeast(own, 3, `consumer ${name} ran ${own} rounds in 750 ms with a 120 ms linger`)
        }
        // Rounds less than 5 ms apart belong to one wake-up: all four when one tick woke them all,
        // one when each has its own phase (a tick every 30 ms).
        const bursts: Array<Set<string>> = []
        let last = -Infinity
        for (const round of [...rounds].sort((x, y) => x.at - y.at)) {
          if (round.at - last >= 5) bursts.push(new Set())
          bursts[bursts.length - 1]!.add(round.name)
          last = round.at
        }
        const perBurst = bursts.reduce((sum, burst) => sum + burst.size, 0) / bursts.length
        assert.isBelow(perBurst, 1.5, `consumers per wake-up: ${perBurst.toFixed(2)}`)
      }))

    it.scopedLive("with more consumers than ticks fit in the linger, wakes several per tick: each still every lingerMs", () =>
      Effect.gen(function*() {
        // 50 consumers over 10 ms: one tick each would be 0.2 ms apart, below what a timer does
        const { bus, monitor } = yield* EventBus.make({ capacity: 4096, strategy: "sliding", lingerMs: 10 })
        const rounds = new Map<number, number>()
        for (let c = 0; c < 50; c++) {
          yield* bus.consume(() => Effect.sync(() => void rounds.set(c, (rounds.get(c) ?? 0) + 1)), { name: `c${c}` })
        }
        let i = 0
        yield* Effect.forkScoped(Effect.forever(Effect.zipRight(monitor.record(numbered(i++)), Effect.sleep("1 millis"))))
        yield* Effect.sleep("400 millis")
        const fewest = Math.min(...Array.from({ length: 50 }, (_, c) => rounds.get(c) ?? 0))
        // every 10 ms: about 40 rounds each; one consumer per (1 ms or later) timer: at most 8
        assert.isAtLeast(fewest, 16, `the least woken consumer ran ${fewest} rounds in 400 ms`)
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
        for (let i = 1; i < 5; i++) yield* monitor.record(numbered(i))
        yield* Scope.close(consumerScope, Exit.void)
        assert.deepStrictEqual(a.seen(), [1, 2, 3, 4])
        assert.strictEqual((yield* bus.stats).subscribers, 0)
        yield* Scope.close(busScope, Exit.void)
      }))
  })
})
