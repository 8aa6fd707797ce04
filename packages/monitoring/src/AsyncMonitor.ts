/**
 * Monitors that read the event bus in the background. Each runs as its own
 * fiber, owned by the scope that started it, on its own subscription, so a
 * slow monitor never slows a step (at worst the bus drops, and counts it).
 *
 * A monitor may see a sample of runs: the decision hashes the run id, so a
 * run is kept or dropped whole and every monitor with the same rate keeps the
 * same runs. Events outside a run (memory and system samples, circuit
 * breaker changes, alerts) are always kept.
 *
 * @since 0.1.0
 */
import { Hash, type TelemetryEvent } from "@patinox/core"
import { Chunk, Effect, type Fiber, Queue, Schema, type Scope } from "effect"
import { EventBus } from "./EventBus.js"
import * as MonitoringConfig from "./MonitoringConfig.js"

/** @since 0.1.0 @category schemas */
export const Pattern = Schema.Struct({
  /** What was found, e.g. `error_rate`, `slow_tool`, `peak_hour`. */
  kind: Schema.String,
  /** What it was found about, e.g. `tool:search`, `model:gpt-4o`, `agent:<id>`. */
  subject: Schema.String,
  severity: MonitoringConfig.Severity,
  /** The numbers behind it. */
  evidence: Schema.Record({ key: Schema.String, value: Schema.Union(Schema.Number, Schema.String) }),
  /** The headline figure (a rate, a count, milliseconds...). */
  value: Schema.Number
})
/** @since 0.1.0 @category models */
export type Pattern = typeof Pattern.Type

/** @since 0.1.0 @category schemas */
export const Report = Schema.Struct({
  monitor: Schema.String,
  generatedAt: Schema.Number,
  /** Events the monitor observed (after sampling). */
  observed: Schema.Number,
  patterns: Schema.Array(Pattern),
  /** Monitor-specific figures. */
  summary: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})
/** @since 0.1.0 @category models */
export type Report = typeof Report.Type

/** @since 0.1.0 @category models */
export interface AsyncMonitor {
  readonly name: string
  readonly observe: (event: TelemetryEvent.TelemetryEvent) => Effect.Effect<void>
  readonly analyze: Effect.Effect<ReadonlyArray<Pattern>>
  readonly report: Effect.Effect<Report>
}

/**
 * Whether a monitor sampling at `rate` sees `event`: always for events
 * outside a run, else by the hash of the run id.
 *
 * @since 0.1.0 @category sampling
 */
export const sampled = (rate: number, event: TelemetryEvent.TelemetryEvent): boolean => {
  if (rate >= 1 || event.runId === undefined) return true
  if (rate <= 0) return false
  return Hash.fnv1a(event.runId) / 0x1_0000_0000 < rate
}

/** @since 0.1.0 @category models */
export interface StartOptions {
  /** 0..1; default 1. */
  readonly sampleRate?: number | undefined
  /** Events taken from the subscription at a time; default 256. */
  readonly batchSize?: number | undefined
}

/**
 * Subscribes `monitor` to the bus (before returning, so nothing published
 * afterwards is missed) and feeds it from a fiber owned by the scope. A
 * failing or dying `observe` is logged and the monitor goes on.
 *
 * @since 0.1.0 @category running
 */
export const start = (
  monitor: AsyncMonitor,
  options: StartOptions = {}
): Effect.Effect<Fiber.RuntimeFiber<never>, never, EventBus | Scope.Scope> =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const subscription = yield* bus.subscribe
    const rate = options.sampleRate ?? 1
    const batchSize = options.batchSize ?? 256
    const observeAll = (events: Chunk.Chunk<TelemetryEvent.TelemetryEvent>) =>
      Effect.forEach(events, (event) => (sampled(rate, event) ? monitor.observe(event) : Effect.void), { discard: true })
    return yield* Queue.takeBetween(subscription, 1, batchSize).pipe(
      Effect.flatMap((events) =>
        observeAll(events).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logError(`monitor ${monitor.name} failed to observe ${Chunk.size(events)} events`, cause)
          )
        )
      ),
      Effect.forever,
      Effect.annotateLogs("monitor", monitor.name),
      Effect.forkScoped
    )
  })

/**
 * Starts `monitor` with its sample rate and batch size from the config.
 *
 * @since 0.1.0 @category running
 */
export const startWith = (
  monitor: AsyncMonitor,
  config: MonitoringConfig.MonitoringConfig
): Effect.Effect<Fiber.RuntimeFiber<never>, never, EventBus | Scope.Scope> =>
  start(monitor, { sampleRate: MonitoringConfig.sampleRateOf(config, monitor.name), batchSize: config.batchSize })

/** Severity by thresholds on a value where higher is worse. @since 0.1.0 @category helpers */
export const severityOf = (value: number, warning: number, critical: number): MonitoringConfig.Severity =>
  value >= critical ? "critical" : value >= warning ? "warning" : "info"
