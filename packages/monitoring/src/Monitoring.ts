/**
 * Everything in this package wired together for the app: the bus as the
 * core `Monitor`, the built-in monitors on it, metrics, system sampling,
 * alerts and the tool switch, all owned by one layer's scope. The SQLite
 * sink is wired by the app (`EventBus.subscribe` → `sink.offer`).
 *
 * @since 0.1.0
 */
import type { Monitor } from "@patinox/core"
import { Context, Effect, Layer } from "effect"
import * as Alerts from "./Alerts.js"
import type * as AsyncMonitor from "./AsyncMonitor.js"
import * as ErrorMonitor from "./ErrorMonitor.js"
import * as EventBus from "./EventBus.js"
import * as Metrics from "./Metrics.js"
import * as MonitoringConfig from "./MonitoringConfig.js"
import * as PerformanceMonitor from "./PerformanceMonitor.js"
import * as SystemMetrics from "./SystemMetrics.js"
import * as ToolSwitch from "./ToolSwitch.js"
import * as UsageMonitor from "./UsageMonitor.js"

/** @since 0.1.0 @category models */
export interface Service {
  readonly monitors: ReadonlyArray<AsyncMonitor.AsyncMonitor>
  /** Every monitor's patterns now, tagged with the monitor's name. */
  readonly patterns: Effect.Effect<ReadonlyArray<AsyncMonitor.Pattern & { readonly monitor: string }>>
  readonly reports: Effect.Effect<ReadonlyArray<AsyncMonitor.Report>>
}

/** @since 0.1.0 @category tags */
export class Monitoring extends Context.Tag("@patinox/monitoring/Monitoring")<Monitoring, Service>() {}

/** @since 0.1.0 @category constructors */
export const make = (monitors: ReadonlyArray<AsyncMonitor.AsyncMonitor>): Service => ({
  monitors,
  patterns: Effect.map(
    Effect.forEach(monitors, (monitor) =>
      Effect.map(monitor.analyze, (patterns) => patterns.map((pattern) => ({ ...pattern, monitor: monitor.name })))),
    (all) => all.flat()
  ).pipe(Effect.withSpan("Monitoring.patterns")),
  reports: Effect.forEach(monitors, (monitor) => monitor.report).pipe(Effect.withSpan("Monitoring.reports"))
})

/** Every service of this package. @since 0.1.0 @category models */
export type Services =
  | Monitor.Monitor
  | EventBus.EventBus
  | PerformanceMonitor.PerformanceMonitor
  | ErrorMonitor.ErrorMonitor
  | UsageMonitor.UsageMonitor
  | Metrics.Metrics
  | SystemMetrics.SystemMetrics
  | Alerts.Alerts
  | ToolSwitch.ToolSwitch
  | Monitoring

/**
 * The whole package from one configuration.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (config: MonitoringConfig.MonitoringConfig = MonitoringConfig.defaults): Layer.Layer<Services> => {
  const monitors = Layer.mergeAll(
    PerformanceMonitor.layer(config),
    ErrorMonitor.layer(config),
    UsageMonitor.layer(config),
    Metrics.layer(config),
    SystemMetrics.layer(config),
    Alerts.layer(config)
  ).pipe(Layer.provideMerge(ToolSwitch.layer))
  const registry = Layer.effect(
    Monitoring,
    Effect.gen(function*() {
      const list = [
        (yield* PerformanceMonitor.PerformanceMonitor).monitor,
        (yield* ErrorMonitor.ErrorMonitor).monitor,
        (yield* UsageMonitor.UsageMonitor).monitor,
        (yield* Metrics.Metrics).monitor,
        (yield* Alerts.Alerts).monitor
      ]
      return make(list)
    })
  )
  return registry.pipe(Layer.provideMerge(monitors), Layer.provideMerge(EventBus.layer(config)))
}
