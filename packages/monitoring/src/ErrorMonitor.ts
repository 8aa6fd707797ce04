/**
 * Finds error patterns in the event stream: the error rate of each tool and
 * model, error tags that keep coming back, and bursts of errors close
 * together in time. Counts are kept per subject and tag (each map bounded);
 * bursts are found over the timestamps of the most recent errors.
 *
 * @since 0.1.0
 */
import type { TelemetryEvent } from "@patinox/core"
import { Clock, Context, Effect, Layer } from "effect"
import * as AsyncMonitor from "./AsyncMonitor.js"
import type { EventBus } from "./EventBus.js"
import { BoundedMap, contextString, errorTagOf, Ring } from "./internal/stats.js"
import * as MonitoringConfig from "./MonitoringConfig.js"

/** @since 0.1.0 @category models */
export interface Options {
  /** Calls a tool or model needs before its error rate is a pattern. Default 5. */
  readonly minimumCalls?: number | undefined
  /** Error rate from which the pattern is a warning (below: info). Default 0.1; critical from 0.5. */
  readonly warningRate?: number | undefined
  readonly criticalRate?: number | undefined
  /** Occurrences of one error tag that make it a pattern. Default 3. */
  readonly repeatedCount?: number | undefined
  /** A burst: `burstCount` errors (default 5) within `burstWindowMs` (default 60 s). */
  readonly burstCount?: number | undefined
  readonly burstWindowMs?: number | undefined
  /** Subjects and tags kept (oldest first out). Default 1000. */
  readonly maxKeys?: number | undefined
}

/** @since 0.1.0 @category models */
export interface ErrorCounts {
  readonly calls: number
  readonly errors: number
}

/** @since 0.1.0 @category models */
export interface Service {
  readonly monitor: AsyncMonitor.AsyncMonitor
  /** Per `tool:<name>` / `model:<name>`. */
  readonly counts: Effect.Effect<ReadonlyMap<string, ErrorCounts>>
  /** Per error tag. */
  readonly tags: Effect.Effect<ReadonlyMap<string, number>>
}

/** @since 0.1.0 @category tags */
export class ErrorMonitor extends Context.Tag("@patinox/monitoring/ErrorMonitor")<ErrorMonitor, Service>() {}

/** The most errors within any `windowMs` in sorted timestamps. */
const densest = (timestamps: ReadonlyArray<number>, windowMs: number): { count: number; from: number } => {
  const sorted = [...timestamps].sort((a, b) => a - b)
  let best = { count: 0, from: 0 }
  let lo = 0
  for (let hi = 0; hi < sorted.length; hi++) {
    const end = sorted[hi] ?? 0
    while ((sorted[lo] ?? end) < end - windowMs) lo++
    if (hi - lo + 1 > best.count) best = { count: hi - lo + 1, from: sorted[lo] ?? end }
  }
  return best
}

/** @since 0.1.0 @category constructors */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.sync(() => {
    const minimumCalls = options.minimumCalls ?? 5
    const warningRate = options.warningRate ?? 0.1
    const criticalRate = options.criticalRate ?? 0.5
    const repeatedCount = options.repeatedCount ?? 3
    const burstCount = options.burstCount ?? 5
    const burstWindowMs = options.burstWindowMs ?? 60_000
    const maxKeys = options.maxKeys ?? 1_000
    const subjects = new BoundedMap<string, { calls: number; errors: number }>(maxKeys)
    const tags = new BoundedMap<string, number>(maxKeys)
    const recentErrors = new Ring<number>(1_000)
    let observed = 0

    const count = (subject: string, failed: boolean) => {
      const entry = subjects.get(subject) ?? { calls: 0, errors: 0 }
      entry.calls++
      if (failed) entry.errors++
      subjects.set(subject, entry)
    }
    const observeNow = (event: TelemetryEvent.TelemetryEvent) => {
      observed++
      switch (event.type) {
        case "tool.end":
        case "tool.error":
          count(`tool:${contextString(event, "tool") ?? "unknown"}`, event.type === "tool.error")
          break
        case "model.response":
        case "model.error":
          count(`model:${contextString(event, "model") ?? "unknown"}`, event.type === "model.error")
          break
        case "run.error":
          break
        default:
          return
      }
      if (event.type === "tool.error" || event.type === "model.error" || event.type === "run.error") {
        const tag = errorTagOf(event)
        tags.set(tag, (tags.get(tag) ?? 0) + 1)
        recentErrors.push(event.timestamp)
      }
    }

    const analyze = Effect.sync((): ReadonlyArray<AsyncMonitor.Pattern> => {
      const patterns: Array<AsyncMonitor.Pattern> = []
      for (const [subject, { calls, errors }] of subjects.entries()) {
        if (calls < minimumCalls || errors === 0) continue
        const rate = errors / calls
        patterns.push({
          kind: "error_rate",
          subject,
          severity: AsyncMonitor.severityOf(rate, warningRate, criticalRate),
          evidence: { calls, errors },
          value: rate
        })
      }
      for (const [tag, occurrences] of tags.entries()) {
        if (occurrences < repeatedCount) continue
        patterns.push({
          kind: "repeated_error",
          subject: `error:${tag}`,
          severity: AsyncMonitor.severityOf(occurrences, repeatedCount, repeatedCount * 5),
          evidence: { occurrences },
          value: occurrences
        })
      }
      const burst = densest(recentErrors.toArray(), burstWindowMs)
      if (burst.count >= burstCount) {
        patterns.push({
          kind: "error_burst",
          subject: "errors",
          severity: AsyncMonitor.severityOf(burst.count, burstCount, burstCount * 2),
          evidence: { errors: burst.count, windowMs: burstWindowMs, from: burst.from },
          value: burst.count
        })
      }
      return patterns
    })

    const monitor: AsyncMonitor.AsyncMonitor = AsyncMonitor.fromSync({
      name: "errors",
      observe: observeNow,
      analyze,
      report: Effect.gen(function*() {
        const patterns = yield* analyze
        return {
          monitor: "errors",
          generatedAt: yield* Clock.currentTimeMillis,
          observed,
          patterns,
          summary: {
            subjects: Object.fromEntries(Array.from(subjects.entries(), ([key, value]) => [key, { ...value }])),
            tags: Object.fromEntries(tags.entries())
          }
        }
      })
    })
    return {
      monitor,
      counts: Effect.sync(() => new Map(Array.from(subjects.entries(), ([key, value]) => [key, { ...value }]))),
      tags: Effect.sync(() => new Map(tags.entries()))
    } satisfies Service
  })

/** The error monitor on the bus, sampled per config (`errors`). @since 0.1.0 @category layers */
export const layer = (
  config: MonitoringConfig.MonitoringConfig = MonitoringConfig.defaults,
  options: Options = {}
): Layer.Layer<ErrorMonitor, never, EventBus> =>
  Layer.scoped(
    ErrorMonitor,
    Effect.tap(make(options), (service) => AsyncMonitor.startWith(service.monitor, config))
  )
