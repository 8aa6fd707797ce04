/**
 * The production `Monitor`: `record` puts the event on a bounded `PubSub`
 * and returns at once. With the `sliding` strategy a full bus drops its
 * oldest unread event, with `dropping` the new one; either way the step that
 * reported never waits, and every dropped event is counted (in `stats` and in
 * the `patinox_monitoring_dropped_events_total` counter).
 *
 * A full `sliding` bus slides in batches: new events wait in an overflow of
 * at most `SLIDE_BATCH` and go on the bus together, the same number of the
 * oldest dropped to make room, when the overflow is full, when a consumer
 * wakes, every `lingerMs`, on `stats`, `dropped` and `flush`, and when the
 * bus closes. One slide per event cost the
 * publisher a turn of the runtime and a pass over the subscribers each time:
 * in a burst, a sliding bus took 1.06M events/s from one publisher, a
 * dropping one 1.53M/s.
 *
 * Consumers (the async monitors, the SQLite sink's feed) read the bus with
 * `consume`: in batches, each woken every `lingerMs` (in turn, at phases
 * spread over it) or as soon as half the capacity is waiting, never by a
 * single event. Recording an event is then a
 * queue slot and nothing else; the monitors' work happens later, a batch at a
 * time, `batchSize` events between yields. `flush` wakes every consumer now
 * and waits until each has handled what was published before the call.
 *
 * The bus holds an event until every subscriber has read it, so its capacity
 * is shared: a subscriber that falls behind by `capacity` events makes the
 * bus drop. Events published while nobody is subscribed go nowhere and are
 * not counted as drops. A slide drops the oldest event some subscriber has
 * not read yet, which faster ones may already have: the bus's `dropped`
 * counts events at least one subscriber missed, and each consumer's own
 * misses are counted apart (`stats.consumers`, and the
 * `patinox_monitoring_consumer_missed_events_total` counter by consumer), so
 * that what a consumer handled plus what it missed is exactly what was
 * published while it consumed.
 *
 * @since 0.1.0
 */
import { Monitor, type TelemetryEvent } from "@patinox/core"
import { Chunk, Context, Deferred, Effect, Exit, Layer, Metric, MetricLabel, PubSub, Queue, type Fiber, type Scope } from "effect"
import * as GcPhase from "./internal/gcPhase.js"
import * as MonitoringConfig from "./MonitoringConfig.js"

/** @since 0.1.0 @category metrics */
export const droppedEvents = Metric.counter("patinox_monitoring_dropped_events_total", {
  description: "Telemetry events the monitoring bus dropped because it was full",
  incremental: true
})

/** @since 0.1.0 @category metrics */
export const consumerMissedEvents = Metric.counter("patinox_monitoring_consumer_missed_events_total", {
  description: "Telemetry events a bus consumer never received: dropped before it read them",
  incremental: true
})

/**
 * At most this many events wait in a full `sliding` bus's overflow; then
 * they slide in together.
 *
 * @since 0.1.0 @category constants
 */
export const SLIDE_BATCH = 64

/** The linger tick, which wakes the consumers in turn, comes at most this often (ms). */
const MIN_TICK_MS = 2

/**
 * A tick waits (see `BusConfig.gcDeferMs`) while the last scavenge ended
 * less than this long ago: with the model answering at once, the run it
 * fell in goes on for 1-2.5 ms more.
 */
const GC_AFTER_MS = 3
/** ... or while the next is expected within this long: the run it will fall in has started. */
const GC_BEFORE_MS = 4

/**
 * A plain timer: the tick's own sleep, several hundred times a second, for
 * less than `Effect.sleep` costs through the clock service.
 */
const realSleep = (ms: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), Math.max(0, ms))
    return Effect.sync(() => clearTimeout(timer))
  })

/** @since 0.1.0 @category models */
export interface Stats {
  readonly capacity: number
  readonly strategy: MonitoringConfig.BusStrategy
  /** Events handed to `record`. */
  readonly published: number
  /**
   * Events lost because the bus was full (or closed): each missed by at
   * least one subscriber (a faster one may have read it before it slid out).
   */
  readonly dropped: number
  /** Events waiting for the slowest subscriber. */
  readonly size: number
  readonly subscribers: number
  /** Each running consumer's own count, in the order they started. */
  readonly consumers: ReadonlyArray<ConsumerStats>
}

/** @since 0.1.0 @category models */
export interface ConsumerStats {
  readonly name: string
  /** Events handed to its `handle` since it started. */
  readonly received: number
  /**
   * Events published since it started that it never received (dropped
   * before it read them).
   */
  readonly missed: number
  /**
   * Events published since it started that it has yet to receive (in its
   * subscription, or waiting to slide in). `received + missed + waiting` is
   * what was published since it started.
   */
  readonly waiting: number
}

/** @since 0.1.0 @category models */
export interface ConsumeOptions {
  /** For logs. */
  readonly name: string
  /** Events handed to `handle` at a time; other fibers run between two calls. Default 256. */
  readonly batchSize?: number | undefined
}

/** @since 0.1.0 @category models */
export interface Service {
  /** Never waits; `false` when the event was refused (the new event under `dropping`, or a closed bus). */
  readonly publish: (event: TelemetryEvent.TelemetryEvent) => Effect.Effect<boolean>
  /** A subscription for the life of the scope: every event published from now on, until the bus drops. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<TelemetryEvent.TelemetryEvent>, never, Scope.Scope>
  /**
   * Subscribes now (nothing published afterwards is missed) and hands the
   * events to `handle` in batches from a fiber owned by the scope. A failing
   * or dying `handle` is logged and the consumer goes on. When the scope
   * closes, the consumer handles what is still waiting, then unsubscribes.
   */
  readonly consume: (
    handle: (events: ReadonlyArray<TelemetryEvent.TelemetryEvent>) => Effect.Effect<void>,
    options: ConsumeOptions
  ) => Effect.Effect<Fiber.RuntimeFiber<never>, never, Scope.Scope>
  /** Wakes every consumer and waits until each has handled the events published before this call. */
  readonly flush: Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
  readonly dropped: Effect.Effect<number>
}

/** @since 0.1.0 @category tags */
export class EventBus extends Context.Tag("@patinox/monitoring/EventBus")<EventBus, Service>() {}

/** @since 0.1.0 @category models */
export interface MakeOptions {
  /**
   * Whether the agents' garbage collection is at a moment to keep out of
   * (see `BusConfig.gcDeferMs`). By default this thread's, read from V8;
   * tests pass their own.
   */
  readonly gcBusy?: (() => boolean) | undefined
}

/**
 * Builds the bus; it is shut down when the scope closes (events recorded
 * after that are counted as dropped, never an interruption of the caller).
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  config: Partial<MonitoringConfig.BusConfig> & Pick<MonitoringConfig.BusConfig, "capacity" | "strategy"> =
    MonitoringConfig.defaults.bus,
  options: MakeOptions = {}
): Effect.Effect<{ readonly bus: Service; readonly monitor: Monitor.Service }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { capacity, strategy } = config
    const lingerMs = config.lingerMs ?? MonitoringConfig.defaults.bus.lingerMs
    const gcDeferMs = config.gcDeferMs ?? MonitoringConfig.defaults.bus.gcDeferMs
    if (!Number.isInteger(capacity) || capacity < 1) {
      return yield* Effect.dieMessage(`EventBus capacity must be a positive integer, got ${capacity}`)
    }
    if (!Number.isInteger(lingerMs) || lingerMs < 1) {
      return yield* Effect.dieMessage(`EventBus lingerMs must be a positive integer, got ${lingerMs}`)
    }
    if (!Number.isInteger(gcDeferMs) || gcDeferMs < 0) {
      return yield* Effect.dieMessage(`EventBus gcDeferMs must be a non-negative integer, got ${gcDeferMs}`)
    }
    const pubsub = strategy === "sliding"
      ? yield* PubSub.sliding<TelemetryEvent.TelemetryEvent>(capacity)
      : yield* PubSub.dropping<TelemetryEvent.TelemetryEvent>(capacity)
    const wakeAt = Math.max(1, Math.floor(capacity / 2))
    let published = 0
    let dropped = 0
    let subscribers = 0
    const drop = (count: number) => {
      dropped += count
      droppedEvents.unsafeUpdate(count, [])
    }
    /** Events for a full `sliding` bus, in order, waiting to slide in together (see `slideIn`). */
    let overflow: Array<TelemetryEvent.TelemetryEvent> = []
    const fullEnough = () => {
      const size = pubsub.unsafeSize()
      if (size._tag === "Some" && size.value >= wakeAt) wakeAll()
    }

    /**
     * Puts the overflow on the bus: what fits in the free slots, then the
     * rest by sliding (one oldest event dropped, and counted, for each). No
     * other fiber runs in between (the runtime's yield is put off), so the
     * free slots counted are the ones the publish finds.
     */
    const slideOverflow: Effect.Effect<void> = Effect.suspend(() => {
      const events = overflow
      overflow = []
      if (!pubsub.isActive()) {
        drop(events.length)
        return Effect.void
      }
      const size = pubsub.unsafeSize()
      const free = capacity - (size._tag === "Some" ? size.value : capacity)
      if (events.length > free) drop(events.length - free)
      return PubSub.publishAll(pubsub, events)
    }).pipe(Effect.asVoid, Effect.withMaxOpsBeforeYield(Number.MAX_SAFE_INTEGER))
    // Nothing waiting (the usual case, on every tick and round): not even the yield guard's few steps.
    const slideIn: Effect.Effect<void> = Effect.suspend(() => overflow.length === 0 ? Effect.void : slideOverflow)

    // Runs after the consumers' last rounds: whatever still waits goes to the subscribers left.
    yield* Effect.addFinalizer(() => Effect.zipRight(slideIn, PubSub.shutdown(pubsub)))

    const accepted = Effect.succeed(true)
    const refused = Effect.succeed(false)
    /**
     * Publishes at once where it can (no fiber wakes, nothing allocated
     * beyond the slot): true when published or waiting to slide in, false
     * when refused, "slide" when the overflow of a full `sliding` bus is
     * full and must slide in now.
     */
    const offerNow = (event: TelemetryEvent.TelemetryEvent): boolean | "slide" => {
      published++
      if (!pubsub.isActive()) {
        drop(1)
        return false
      }
      // Behind events waiting in the overflow, a new one waits too: the bus keeps their order.
      if (overflow.length === 0 && pubsub.unsafeOffer(event)) {
        fullEnough()
        return true
      }
      // Full. `dropping` refuses the new event; `sliding` makes room by discarding the oldest.
      if (strategy === "dropping") {
        drop(1)
        return false
      }
      overflow.push(event)
      return overflow.length >= SLIDE_BATCH ? "slide" : true
    }

    const publish = (event: TelemetryEvent.TelemetryEvent): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        const offered = offerNow(event)
        return offered === "slide" ? Effect.as(slideIn, true) : offered ? accepted : refused
      })

    const subscribe = Effect.acquireRelease(
      Effect.tap(PubSub.subscribe(pubsub), () => Effect.sync(() => subscribers++)),
      () => Effect.sync(() => subscribers--)
    )

    interface Consumer {
      readonly name: string
      /** `published` when it subscribed, less the overflow then waiting (which it will receive). */
      readonly since: number
      received: number
      /** Misses already added to its counter. */
      missedCounted: number
      /** Its counter's labels, kept so that Effect's hook cache (keyed by the array) finds the hook. */
      readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
      waiters: Array<Deferred.Deferred<void>>
      /** Opened when this consumer is to run a round. */
      readonly wake: Effect.Latch
      /**
       * Its subscription: a tick passes over a consumer with nothing waiting
       * (idle, the service's main thread spent 12-13 ms of CPU a second
       * instead of 19-20 with the six rounds run empty).
       */
      readonly subscription: Queue.Dequeue<TelemetryEvent.TelemetryEvent>
    }
    /** In the order the linger tick wakes them. */
    let consumers: ReadonlyArray<Consumer> = []
    /**
     * Brings the consumer's misses up to date (and its counter with them),
     * and returns what waits in its subscription. Missed: what was published
     * since it started that it neither received nor has waiting (in its
     * subscription, or in the overflow, which it will receive). It only
     * grows: a take moves events from waiting to received, a slide takes one
     * from waiting.
     */
    const countMissed = (consumer: Consumer): number => {
      const size = consumer.subscription.unsafeSize()
      const waiting = size._tag === "Some" ? size.value : 0
      const missed = published - overflow.length - consumer.since - consumer.received - waiting
      if (missed > consumer.missedCounted) {
        consumerMissedEvents.unsafeUpdate(missed - consumer.missedCounted, consumer.labels)
        consumer.missedCounted = missed
      }
      return waiting
    }
    /** Something waits in its subscription (or it is shut down, which a round handles). */
    const hasWork = (consumer: Consumer) => {
      const size = consumer.subscription.unsafeSize()
      return size._tag === "None" || size.value > 0
    }
    let lastWoken = -1
    const wakeAll = () => {
      for (let i = 0; i < consumers.length; i++) consumers[i]!.wake.unsafeOpen()
    }
    // One timer wakes the consumers in turn, each every `lingerMs`, at phases
    // spread evenly over it (6 consumers at 100 ms: one every ~17 ms), so a
    // tick puts one consumer's round on the agents' thread, not all of them:
    // woken together, the six rounds made one pause of 0.3-0.45 ms every
    // 25 ms (the linger then), and with a model answering at once the
    // slowest agent runs were those it fell in (bench `monitoring-overhead`:
    // p99 against monitoring off 1.082-1.1 together, 1.067-1.072 in turn).
    // One timer rather than a race of the latch and a sleep per consumer per
    // round (two fibers, an interruption and a cause each time). The linger
    // is a batching delay, not domain time: on the real clock even where a
    // TestClock is installed, so consumers keep up in users' tests.
    //
    // Ticks are due at fixed steps of `lingerMs` over the consumers, at least
    // `MIN_TICK_MS` apart (with more consumers than that allows, several wake
    // per tick), and sleep until the due time rather than for a step, so that
    // timers firing late do not stretch every consumer's period. After a
    // stall, at most one linger's worth of ticks is caught up.
    let due = performance.now()
    /** Opens the next `count` consumers' latches, in turn, passing over those with nothing waiting. */
    const wakeNext = (count: number) => {
      for (let i = 0; i < count && i < consumers.length; i++) {
        lastWoken = lastWoken + 1 >= consumers.length ? 0 : lastWoken + 1
        const consumer = consumers[lastWoken]!
        if (hasWork(consumer)) consumer.wake.unsafeOpen()
      }
    }
    /** Whether any of the next `count` consumers `wakeNext` would pass has something waiting. */
    const nextHaveWork = (count: number) => {
      for (let i = 1; i <= count && i <= consumers.length; i++) {
        if (hasWork(consumers[(lastWoken + i) % consumers.length]!)) return true
      }
      return false
    }
    const gc = gcDeferMs === 0
      ? undefined
      : options.gcBusy !== undefined
      ? { busy: options.gcBusy }
      : yield* Effect.acquireRelease(
        Effect.sync(() => GcPhase.observe({ afterMs: GC_AFTER_MS, beforeMs: GC_BEFORE_MS })),
        (phase) => Effect.sync(phase.stop)
      )
    /** Waits, a millisecond at a time for at most `left` of them, while a scavenge has just ended or is due. */
    const quietMoment = (left: number, perTick: number): Effect.Effect<void> =>
      Effect.suspend(() =>
        gc === undefined || left <= 0 || !nextHaveWork(perTick) || !gc.busy()
          ? Effect.void
          : Effect.zipRight(realSleep(1), quietMoment(left - 1, perTick))
      )
    // The overflow slides in on every tick too, for subscribers that read the bus directly.
    const tick = Effect.suspend(() => {
      const count = Math.max(1, consumers.length)
      const perTick = Math.min(count, Math.ceil((count * MIN_TICK_MS) / lingerMs))
      const now = performance.now()
      due = Math.max(due + (lingerMs * perTick) / count, now - lingerMs)
      return realSleep(due - now).pipe(
        Effect.zipRight(quietMoment(gcDeferMs, perTick)),
        Effect.zipRight(slideIn),
        Effect.zipRight(Effect.sync(() => wakeNext(perTick)))
      )
    })
    yield* Effect.forkScoped(Effect.forever(tick))

    const consume: Service["consume"] = (handle, options) =>
      Effect.gen(function*() {
        const batchSize = options.batchSize ?? 256
        const wake = yield* Effect.makeLatch(false)
        // Subscribed and counted from in one step, so no event falls between the two.
        const { subscription, since } = yield* Effect.flatMap(
          subscribe,
          (subscription) => Effect.sync(() => ({ subscription, since: published - overflow.length }))
        )
        const consumer: Consumer = {
          name: options.name,
          since,
          received: 0,
          missedCounted: 0,
          labels: [MetricLabel.make("consumer", options.name)],
          waiters: [],
          wake,
          subscription
        }
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            consumers = [...consumers, consumer]
          }),
          () =>
            Effect.sync(() => {
              consumers = consumers.filter((other) => other !== consumer)
              for (const waiter of consumer.waiters) Deferred.unsafeDone(waiter, Exit.void)
            })
        )
        const handleSafely = (events: Chunk.Chunk<TelemetryEvent.TelemetryEvent>) =>
          handle(Chunk.toReadonlyArray(events)).pipe(
            Effect.catchAllCause((cause) =>
              Effect.logError(`consumer ${options.name} failed to handle ${Chunk.size(events)} events`, cause)
            )
          )
        /** Everything waiting now, `batchSize` at a time; then answers the flushes that asked before. */
        const round = Effect.gen(function*() {
          const waiters = consumer.waiters
          consumer.waiters = []
          yield* slideIn
          // A closed bus has nothing more to hand over (its subscriptions are shut down).
          const take = Queue.takeUpTo(subscription, batchSize).pipe(
            Effect.catchAllCause(() => Effect.succeed(Chunk.empty<TelemetryEvent.TelemetryEvent>()))
          )
          let events = yield* take
          while (Chunk.isNonEmpty(events)) {
            consumer.received += Chunk.size(events)
            yield* handleSafely(events)
            if (Chunk.size(events) < batchSize) break
            yield* Effect.yieldNow()
            events = yield* take
          }
          countMissed(consumer)
          for (const waiter of waiters) Deferred.unsafeDone(waiter, Exit.void)
        }).pipe(Effect.uninterruptible)
        // Registered before the fork, so it runs after the fiber is interrupted: a last round.
        yield* Effect.addFinalizer(() => round)
        return yield* consumer.wake.await.pipe(
          Effect.zipRight(Effect.sync(() => consumer.wake.unsafeClose())),
          Effect.zipRight(round),
          Effect.forever,
          Effect.annotateLogs("consumer", options.name),
          Effect.forkScoped
        )
      })

    const flush = Effect.gen(function*() {
      yield* slideIn
      const pending: Array<Deferred.Deferred<void>> = []
      for (const consumer of consumers) {
        const waiter = yield* Deferred.make<void>()
        consumer.waiters.push(waiter)
        pending.push(waiter)
      }
      wakeAll()
      yield* Effect.forEach(pending, Deferred.await, { discard: true })
    })

    const bus: Service = {
      publish,
      subscribe,
      consume,
      flush,
      stats: Effect.zipRight(slideIn, Effect.sync(() => {
        const size = pubsub.unsafeSize()
        return {
          capacity,
          strategy,
          published,
          dropped,
          size: size._tag === "Some" ? size.value : 0,
          subscribers,
          consumers: consumers.map((consumer) => {
            const waiting = countMissed(consumer)
            return {
              name: consumer.name,
              received: consumer.received,
              missed: consumer.missedCounted,
              waiting: waiting + overflow.length
            }
          })
        }
      })),
      dropped: Effect.zipRight(slideIn, Effect.sync(() => dropped))
    }
    // One suspension per event, and no result to map away on the usual path.
    const monitor: Monitor.Service = {
      record: (event) =>
        Effect.suspend(() => offerNow(event) === "slide" ? slideIn : Effect.void)
    }
    return { bus, monitor }
  })

/**
 * Provides the core `Monitor` (backed by the bus) and `EventBus`.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  config: MonitoringConfig.MonitoringConfig = MonitoringConfig.defaults
): Layer.Layer<Monitor.Monitor | EventBus> =>
  Layer.scopedContext(
    Effect.map(make(config.bus), ({ bus, monitor }) => Context.make(EventBus, bus).pipe(Context.add(Monitor.Monitor, monitor)))
  )

/** @since 0.1.0 @category accessors */
export const stats: Effect.Effect<Stats, never, EventBus> = Effect.flatMap(EventBus, (bus) => bus.stats)

/** @since 0.1.0 @category accessors */
export const subscribe: Effect.Effect<Queue.Dequeue<TelemetryEvent.TelemetryEvent>, never, EventBus | Scope.Scope> =
  Effect.flatMap(EventBus, (bus) => bus.subscribe)

/** @since 0.1.0 @category accessors */
export const flush: Effect.Effect<void, never, EventBus> = Effect.flatMap(EventBus, (bus) => bus.flush)
