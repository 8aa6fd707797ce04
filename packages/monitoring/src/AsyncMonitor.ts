/**
 * Monitors that read the event bus in the background. Each runs as its own
 * fiber, owned by the scope that started it, on its own subscription, and
 * sees the events in batches (`EventBus.consume`), so a slow monitor never
 * slows a step (at worst the bus drops, and counts it).
 *
 * A monitor may see a sample of runs: the decision hashes the run id, so a
 * run is kept or dropped whole and every monitor with the same rate keeps the
 * same runs. Events outside a run (memory and system samples, circuit
 * breaker changes, alerts) are always kept.
 *
 * @since 0.1.0
 */
import { Hash, type TelemetryEvent } from "@patinox/core"
import { Effect, type Fiber, Schema, type Scope } from "effect"
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
  /** A batch at once, in order; when absent, `observe` runs for each event. */
  readonly observeAll?: ((events: ReadonlyArray<TelemetryEvent.TelemetryEvent>) => Effect.Effect<void>) | undefined
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
  /** Events handled at a time before other fibers run; default 256. */
  readonly batchSize?: number | undefined
}

/**
 * A monitor whose work is synchronous bookkeeping: `observe` and
 * `observeAll` from one function, the batch in a single step.
 *
 * @since 0.1.0 @category constructors
 */
export const fromSync = (options: {
  readonly name: string
  readonly observe: (event: TelemetryEvent.TelemetryEvent) => void
  readonly analyze: Effect.Effect<ReadonlyArray<Pattern>>
  readonly report: Effect.Effect<Report>
}): AsyncMonitor => ({
  name: options.name,
  observe: (event) => Effect.sync(() => options.observe(event)),
  observeAll: (events) =>
    Effect.sync(() => {
      for (let i = 0; i < events.length; i++) options.observe(events[i]!)
    }),
  analyze: options.analyze,
  report: options.report
})

/**
 * Subscribes `monitor` to the bus (before returning, so nothing published
 * afterwards is missed) and feeds it in batches from a fiber owned by the
 * scope (see `EventBus.consume`). A failing or dying `observe` is logged and
 * the monitor goes on.
 *
 * @since 0.1.0 @category running
 */
export const start = (
  monitor: AsyncMonitor,
  options: StartOptions = {}
): Effect.Effect<Fiber.RuntimeFiber<never>, never, EventBus | Scope.Scope> =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const rate = options.sampleRate ?? 1
    const observeAll = monitor.observeAll ??
      ((events: ReadonlyArray<TelemetryEvent.TelemetryEvent>) => Effect.forEach(events, monitor.observe, { discard: true }))
    const handle = rate >= 1
      ? observeAll
      : (events: ReadonlyArray<TelemetryEvent.TelemetryEvent>) => observeAll(events.filter((event) => sampled(rate, event)))
    return yield* bus.consume(handle, { name: monitor.name, batchSize: options.batchSize })
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
