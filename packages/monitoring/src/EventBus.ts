/**
 * The production `Monitor`: `record` puts the event on a bounded `PubSub`
 * and returns at once. With the `sliding` strategy a full bus drops its
 * oldest unread event, with `dropping` the new one; either way the step that
 * reported never waits, and every dropped event is counted (in `stats` and in
 * the `patinox_monitoring_dropped_events_total` counter).
 *
 * Consumers (the async monitors, the SQLite sink) each take their own
 * subscription with `subscribe`. The bus holds an event until every
 * subscriber has read it, so its capacity is shared: a subscriber that falls
 * behind by `capacity` events makes the bus drop. Events published while
 * nobody is subscribed go nowhere and are not counted as drops.
 *
 * @since 0.1.0
 */
import { Monitor, type TelemetryEvent } from "@patinox/core"
import { Context, Effect, Layer, Metric, PubSub, type Queue, type Scope } from "effect"
import * as MonitoringConfig from "./MonitoringConfig.js"

/** @since 0.1.0 @category metrics */
export const droppedEvents = Metric.counter("patinox_monitoring_dropped_events_total", {
  description: "Telemetry events the monitoring bus dropped because it was full",
  incremental: true
})

/** @since 0.1.0 @category models */
export interface Stats {
  readonly capacity: number
  readonly strategy: MonitoringConfig.BusStrategy
  /** Events handed to `record`. */
  readonly published: number
  /** Events lost because the bus was full (or closed). */
  readonly dropped: number
  /** Events waiting for the slowest subscriber. */
  readonly size: number
  readonly subscribers: number
}

/** @since 0.1.0 @category models */
export interface Service {
  /** Never waits; `false` when the event was refused (the new event under `dropping`, or a closed bus). */
  readonly publish: (event: TelemetryEvent.TelemetryEvent) => Effect.Effect<boolean>
  /** A subscription for the life of the scope: every event published from now on, until the bus drops. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<TelemetryEvent.TelemetryEvent>, never, Scope.Scope>
  readonly stats: Effect.Effect<Stats>
  readonly dropped: Effect.Effect<number>
}

/** @since 0.1.0 @category tags */
export class EventBus extends Context.Tag("@patinox/monitoring/EventBus")<EventBus, Service>() {}

/**
 * Builds the bus; it is shut down when the scope closes (events recorded
 * after that are counted as dropped, never an interruption of the caller).
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  config: MonitoringConfig.BusConfig = MonitoringConfig.defaults.bus
): Effect.Effect<{ readonly bus: Service; readonly monitor: Monitor.Service }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { capacity, strategy } = config
    if (!Number.isInteger(capacity) || capacity < 1) {
      return yield* Effect.dieMessage(`EventBus capacity must be a positive integer, got ${capacity}`)
    }
    const pubsub = strategy === "sliding"
      ? yield* PubSub.sliding<TelemetryEvent.TelemetryEvent>(capacity)
      : yield* PubSub.dropping<TelemetryEvent.TelemetryEvent>(capacity)
    yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
    let published = 0
    let dropped = 0
    let subscribers = 0
    const drop = () => {
      dropped++
      droppedEvents.unsafeUpdate(1, [])
    }

    const publish = (event: TelemetryEvent.TelemetryEvent): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        published++
        if (!pubsub.isActive()) {
          drop()
          return Effect.succeed(false)
        }
        if (strategy === "dropping") {
          // Synchronous: no fiber, nothing allocated beyond the bus slot.
          const accepted = pubsub.unsafeOffer(event)
          if (!accepted) drop()
          return Effect.succeed(accepted)
        }
        const size = pubsub.unsafeSize()
        // A full sliding bus makes room by discarding its oldest event.
        if (size._tag === "Some" && size.value >= capacity) drop()
        return PubSub.publish(pubsub, event)
      })

    const bus: Service = {
      publish,
      subscribe: Effect.acquireRelease(
        Effect.tap(PubSub.subscribe(pubsub), () => Effect.sync(() => subscribers++)),
        () => Effect.sync(() => subscribers--)
      ),
      stats: Effect.sync(() => {
        const size = pubsub.unsafeSize()
        return {
          capacity,
          strategy,
          published,
          dropped,
          size: size._tag === "Some" ? size.value : 0,
          subscribers
        }
      }),
      dropped: Effect.sync(() => dropped)
    }
    const monitor: Monitor.Service = { record: (event) => Effect.asVoid(publish(event)) }
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
