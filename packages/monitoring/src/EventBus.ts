/**
 * The production `Monitor`: `record` offers the event to one bounded queue
 * per subscriber and returns at once. A full queue drops (`sliding`: its
 * oldest event, `dropping`: the new one); the step that reported never waits,
 * and every drop is counted, per subscriber (`stats.consumers`) and in the
 * `patinox_monitoring_dropped_events_total` counter. A slow subscriber loses
 * events only from its own queue, never from the others'.
 *
 * Consumers (the async monitors, the SQLite sink's feed) read their queue
 * with `consume`: a fiber waits for the first event, lingers `lingerMs` so
 * that more gather, then hands everything waiting to `handle` in batches of
 * `batchSize`. Recording an event is then a queue slot per subscriber, and
 * the monitors' work happens later, a batch at a time. A queue half full, or
 * `flush`, ends the linger early.
 *
 * @since 0.1.0
 */
import { Monitor, type TelemetryEvent } from "@patinox/core"
import { Chunk, Context, Deferred, Effect, Exit, type Fiber, Layer, Metric, type MetricLabel, Queue, type Scope } from "effect"
import { Ring } from "./internal/ring.js"
import * as MonitoringConfig from "./MonitoringConfig.js"

/** @since 0.1.0 @category metrics */
export const droppedEvents = Metric.counter("patinox_monitoring_dropped_events_total", {
  description: "Telemetry events lost because a subscriber's queue was full (once per subscriber that lost one)",
  incremental: true
})

/** @since 0.1.0 @category metrics */
export const consumerMissedEvents = Metric.counter("patinox_monitoring_consumer_missed_events_total", {
  description: "Telemetry events a bus consumer never received: dropped from its full queue",
  incremental: true
})

const noTags: ReadonlyArray<MetricLabel.MetricLabel> = []

/** @since 0.1.0 @category models */
export interface Stats {
  readonly capacity: number
  readonly strategy: MonitoringConfig.BusStrategy
  /** Events handed to `record`. */
  readonly published: number
  /**
   * Events lost: once per subscriber whose queue was full, plus those
   * recorded after the bus closed.
   */
  readonly dropped: number
  /** Events waiting in the fullest subscriber's queue. */
  readonly size: number
  readonly subscribers: number
  /** Each running consumer's own count, in the order they started. */
  readonly consumers: ReadonlyArray<ConsumerStats>
}

/** @since 0.1.0 @category models */
export interface ConsumerStats {
  readonly name: string
  /** Events taken from its queue since it started. */
  readonly received: number
  /** Events published since it started that its full queue dropped. */
  readonly missed: number
  /**
   * Events published since it started that it has yet to receive.
   * `received + missed + waiting` is what was published since it started.
   */
  readonly waiting: number
}

/** @since 0.1.0 @category models */
export interface ConsumeOptions {
  /** For logs and the misses counter's `consumer` label. */
  readonly name: string
  /** Events handed to `handle` at a time; other fibers run between two calls. Default 256. */
  readonly batchSize?: number | undefined
}

/** @since 0.1.0 @category models */
export interface Service {
  /** Never waits; `false` when some subscriber refused the event (`dropping`) or the bus is closed. */
  readonly publish: (event: TelemetryEvent.TelemetryEvent) => Effect.Effect<boolean>
  /** A queue of its own for the life of the scope: every event published from now on, until it is full. */
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

interface Subscriber {
  readonly queue: Queue.Queue<TelemetryEvent.TelemetryEvent>
  readonly ring: Ring<TelemetryEvent.TelemetryEvent>
  /** `delivered` when it subscribed: it was offered every event since. */
  readonly since: number
  dropped: number
  /** A consumer's, opened to end its linger; undefined for a plain subscription. */
  readonly wake: Effect.Latch | undefined
}

interface Consumer extends Subscriber {
  readonly name: string
  received: number
  handled: number
  /** Taken, not yet handled: the linger's batch, kept here for the last round if the fiber is interrupted. */
  inHand: Chunk.Chunk<TelemetryEvent.TelemetryEvent>
  /** Misses already added to its counter. */
  missedCounted: number
  readonly missedCounter: Metric.Metric.Counter<number>
  waiters: Array<Deferred.Deferred<void>>
}

/**
 * Builds the bus; its queues are shut down when the scope closes (events
 * recorded after that are counted as dropped, never an interruption of the
 * caller).
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  config: Partial<MonitoringConfig.BusConfig> & Pick<MonitoringConfig.BusConfig, "capacity" | "strategy"> =
    MonitoringConfig.defaults.bus
): Effect.Effect<{ readonly bus: Service; readonly monitor: Monitor.Service }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { capacity, strategy } = config
    const lingerMs = config.lingerMs ?? MonitoringConfig.defaults.bus.lingerMs
    if (!Number.isInteger(capacity) || capacity < 1) {
      return yield* Effect.dieMessage(`EventBus capacity must be a positive integer, got ${capacity}`)
    }
    if (!Number.isInteger(lingerMs) || lingerMs < 1) {
      return yield* Effect.dieMessage(`EventBus lingerMs must be a positive integer, got ${lingerMs}`)
    }
    const sliding = strategy === "sliding"
    const wakeAt = Math.max(1, Math.floor(capacity / 2))
    let published = 0
    /** Events offered to the subscribers: those published while the bus was open. */
    let delivered = 0
    let dropped = 0
    let closed = false
    let subscribers: ReadonlyArray<Subscriber> = []
    let consumers: ReadonlyArray<Consumer> = []
    // At 0 from the start: a metric is exported only once updated, and "none dropped" is worth seeing.
    droppedEvents.unsafeUpdate(0, noTags)

    /** Offers to every subscriber; true unless one refused it or the bus is closed. */
    const offer = (event: TelemetryEvent.TelemetryEvent): boolean => {
      published++
      if (closed) {
        dropped++
        droppedEvents.unsafeUpdate(1, noTags)
        return false
      }
      delivered++
      let lost = 0
      for (let i = 0; i < subscribers.length; i++) {
        const subscriber = subscribers[i]!
        const ring = subscriber.ring
        // Takers wait only on an empty queue, so with events waiting the ring takes the event as
        // `unsafeOffer` would, without the queue's look for a taker (a closure per call).
        if (ring.length() > 0 ? !ring.offer(event) : !subscriber.queue.unsafeOffer(event)) {
          // Full, so no taker waits: the slide needs no wake-up.
          if (sliding) {
            ring.poll(undefined)
            ring.offer(event)
          }
          subscriber.dropped++
          lost++
        }
        if (subscriber.wake !== undefined && ring.length() >= wakeAt) subscriber.wake.unsafeOpen()
      }
      if (lost === 0) return true
      dropped += lost
      droppedEvents.unsafeUpdate(lost, noTags)
      return sliding
    }

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const all = subscribers
        subscribers = []
        return Effect.forEach(all, (subscriber) => Queue.shutdown(subscriber.queue), { discard: true })
      })
    )

    /** A subscriber's queue, registered in the same step so that no event falls between. */
    const join = <S extends Subscriber>(
      build: (queue: Queue.Queue<TelemetryEvent.TelemetryEvent>, ring: Ring<TelemetryEvent.TelemetryEvent>, since: number) => S
    ): Effect.Effect<S, never, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          const ring = new Ring<TelemetryEvent.TelemetryEvent>(capacity)
          return Effect.flatMap(Queue.make(ring, Queue.droppingStrategy()), (queue) => {
            const subscriber = build(queue, ring, delivered)
            if (closed) return Effect.as(Queue.shutdown(queue), subscriber)
            subscribers = [...subscribers, subscriber]
            return Effect.succeed(subscriber)
          })
        }),
        (subscriber) =>
          Effect.suspend(() => {
            subscribers = subscribers.filter((other) => other !== subscriber)
            return Queue.shutdown(subscriber.queue)
          })
      )

    const subscribe = Effect.map(
      join((queue, ring, since): Subscriber => ({ queue, ring, since, dropped: 0, wake: undefined })),
      (subscriber): Queue.Dequeue<TelemetryEvent.TelemetryEvent> => subscriber.queue
    )

    /** Brings the consumer's misses counter up to date with its queue's drops. */
    const countMissed = (consumer: Consumer): Effect.Effect<void> =>
      Effect.suspend(() => {
        const delta = consumer.dropped - consumer.missedCounted
        if (delta === 0) return Effect.void
        consumer.missedCounted = consumer.dropped
        return Metric.incrementBy(consumer.missedCounter, delta)
      })

    const consume: Service["consume"] = (handle, options) =>
      Effect.gen(function*() {
        const batchSize = options.batchSize ?? 256
        const wake = yield* Effect.makeLatch(false)
        const missedCounter = Metric.tagged(consumerMissedEvents, "consumer", options.name)
        // Exported at 0 from the start, as `droppedEvents`.
        yield* Metric.incrementBy(missedCounter, 0)
        const consumer = yield* join((queue, ring, since): Consumer => ({
          queue,
          ring,
          since,
          dropped: 0,
          wake,
          name: options.name,
          received: 0,
          handled: 0,
          inHand: Chunk.empty(),
          missedCounted: 0,
          missedCounter,
          waiters: []
        }))
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
        const { queue } = consumer
        // A shut-down queue (the bus closed) has nothing more to hand over.
        const take = (max: number) =>
          Queue.takeUpTo(queue, max).pipe(
            Effect.catchAllCause(() => Effect.succeed(Chunk.empty<TelemetryEvent.TelemetryEvent>())),
            Effect.tap((events) => Effect.sync(() => void (consumer.received += Chunk.size(events))))
          )
        const handleSafely = (events: Chunk.Chunk<TelemetryEvent.TelemetryEvent>) =>
          handle(Chunk.toReadonlyArray(events)).pipe(
            Effect.catchAllCause((cause) =>
              Effect.logError(`consumer ${options.name} failed to handle ${Chunk.size(events)} events`, cause)
            ),
            Effect.zipRight(Effect.sync(() => void (consumer.handled += Chunk.size(events))))
          )
        /** What is in hand and waiting now, `batchSize` at a time; then answers the flushes that asked before. */
        const round = Effect.gen(function*() {
          wake.unsafeClose()
          const waiters = consumer.waiters
          consumer.waiters = []
          let events = consumer.inHand
          consumer.inHand = Chunk.empty()
          if (Chunk.size(events) < batchSize) events = Chunk.appendAll(events, yield* take(batchSize - Chunk.size(events)))
          while (Chunk.isNonEmpty(events)) {
            yield* handleSafely(events)
            // Fewer than asked for: the queue was empty.
            if (Chunk.size(events) < batchSize) break
            yield* Effect.yieldNow()
            events = yield* take(batchSize)
          }
          yield* countMissed(consumer)
          for (const waiter of waiters) Deferred.unsafeDone(waiter, Exit.void)
        }).pipe(Effect.uninterruptible)
        // The first event's batch is kept in the same uninterruptible step as the take, so none is lost.
        const awaitFirst = Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(restore(Queue.takeBetween(queue, 1, batchSize)), (events) =>
            Effect.sync(() => {
              consumer.inHand = events
              consumer.received += Chunk.size(events)
            }))
        )
        // The linger lets events gather, so that a round handles many; a flush or a half-full queue ends it.
        const linger = Effect.raceFirst(wake.await, Effect.sleep(lingerMs))
        const step = Effect.suspend(() =>
          consumer.waiters.length > 0 ? round : awaitFirst.pipe(Effect.zipRight(linger), Effect.zipRight(round))
        )
        // Registered before the fork, so it runs after the fiber is interrupted: a last round.
        yield* Effect.addFinalizer(() => round)
        return yield* step.pipe(Effect.forever, Effect.annotateLogs("consumer", options.name), Effect.forkScoped)
      })

    const flush = Effect.gen(function*() {
      const pending: Array<Deferred.Deferred<void>> = []
      // A closed bus's queues are shut down: what they still hold will never be handled.
      if (closed) return
      for (const consumer of consumers) {
        // Every event offered to it is handled or dropped: nothing to wait for.
        if (consumer.handled + consumer.dropped === delivered - consumer.since) continue
        const waiter = yield* Deferred.make<void>()
        consumer.waiters.push(waiter)
        pending.push(waiter)
        consumer.wake?.unsafeOpen()
      }
      yield* Effect.forEach(pending, Deferred.await, { discard: true })
    })

    const bus: Service = {
      publish: (event) => Effect.sync(() => offer(event)),
      subscribe,
      consume,
      flush,
      stats: Effect.zipRight(
        Effect.forEach(consumers, countMissed, { discard: true }),
        Effect.sync((): Stats => ({
          capacity,
          strategy,
          published,
          dropped,
          size: subscribers.reduce((most, subscriber) => Math.max(most, subscriber.ring.length()), 0),
          subscribers: subscribers.length,
          consumers: consumers.map((consumer) => ({
            name: consumer.name,
            received: consumer.received,
            missed: consumer.dropped,
            waiting: delivered - consumer.since - consumer.received - consumer.dropped
          }))
        }))
      ),
      dropped: Effect.sync(() => dropped)
    }
    const monitor: Monitor.Service = {
      record: (event) =>
        Effect.sync(() => {
          offer(event)
        })
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
