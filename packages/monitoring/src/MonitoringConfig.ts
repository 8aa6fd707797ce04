/**
 * The monitoring section of the app's configuration file. Every field has a
 * default, so `{}` decodes to a working configuration; the app decodes its
 * file with `Schema.decodeUnknown(MonitoringConfig)` and hands the result to
 * the layers of this package.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** @since 0.1.0 @category schemas */
export const BusStrategy = Schema.Literal("sliding", "dropping")
/** @since 0.1.0 @category models */
export type BusStrategy = typeof BusStrategy.Type

/**
 * Each subscriber has a queue of `capacity` events. When it is full,
 * `sliding` drops its oldest unread event (the subscriber sees the newest),
 * `dropping` refuses the new one. Either way the publisher never waits and
 * the drop is counted.
 *
 * @since 0.1.0 @category schemas
 */
export const BusConfig = Schema.Struct({
  capacity: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4096 }),
  strategy: Schema.optionalWith(BusStrategy, { default: () => "sliding" as const }),
  /**
   * How long a consumer waits, after the first event reaches its queue, for
   * more to gather before it handles them; a half-full queue or a flush ends
   * the wait. Each round has a cost of its own, so fewer, larger rounds cost
   * the agents less; events reach the monitors at most this much later.
   */
  lingerMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 100 })
})
/** @since 0.1.0 @category models */
export type BusConfig = typeof BusConfig.Type

/** USD per one million tokens. @since 0.1.0 @category schemas */
export const ModelPrice = Schema.Struct({
  inputPerMillion: Schema.NonNegative,
  outputPerMillion: Schema.NonNegative
})
/** @since 0.1.0 @category models */
export type ModelPrice = typeof ModelPrice.Type

/**
 * List prices (USD per 1M tokens) of a few OpenAI models. A model name is
 * matched exactly, then by the longest known prefix (so dated snapshots such
 * as `gpt-4o-mini-2024-07-18` are priced); anything else costs 0.
 *
 * @since 0.1.0 @category defaults
 */
export const defaultPrices: Readonly<Record<string, ModelPrice>> = {
  "gpt-4o": { inputPerMillion: 2.5, outputPerMillion: 10 },
  "gpt-4o-mini": { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  "gpt-4.1": { inputPerMillion: 2, outputPerMillion: 8 },
  "gpt-4.1-mini": { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  "gpt-4.1-nano": { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  "o3-mini": { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  "gpt-3.5-turbo": { inputPerMillion: 0.5, outputPerMillion: 1.5 }
}

/** @since 0.1.0 @category schemas */
export const StatusThresholds = Schema.Struct({
  /** Errors / calls (tools and model together) above which the status is `warning`. */
  errorRate: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.2 }),
  /** Model p95 latency above which the status is `warning`. */
  p95LatencyMs: Schema.optionalWith(Schema.NonNegative, { default: () => 10_000 }),
  /** Calls needed before the error rate counts (one failure in one call is not a trend). */
  minimumCalls: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 5 }),
  /** How long after the last event the status stays `active`. */
  activeWindowMs: Schema.optionalWith(Schema.NonNegative, { default: () => 60_000 })
})
/** @since 0.1.0 @category models */
export type StatusThresholds = typeof StatusThresholds.Type

/** @since 0.1.0 @category schemas */
export const AlertMetric = Schema.Literal(
  "tool.error_rate",
  "tool.p95_ms",
  "llm.p95_ms",
  "llm.error_rate",
  "system.cpu",
  "process.rss_mb",
  "monitoring.dropped"
)
/** @since 0.1.0 @category models */
export type AlertMetric = typeof AlertMetric.Type

/** @since 0.1.0 @category schemas */
export const Comparison = Schema.Literal(">", ">=", "<", "<=")
/** @since 0.1.0 @category models */
export type Comparison = typeof Comparison.Type

/** @since 0.1.0 @category schemas */
export const Severity = Schema.Literal("info", "warning", "critical")
/** @since 0.1.0 @category models */
export type Severity = typeof Severity.Type

/** @since 0.1.0 @category schemas */
export const AlertAction = Schema.Union(
  Schema.Literal("log", "disable_tool"),
  Schema.Struct({ webhook: Schema.String.pipe(Schema.pattern(/^https?:\/\//)) })
)
/** @since 0.1.0 @category models */
export type AlertAction = typeof AlertAction.Type

/**
 * One alert rule. `subject` names a tool or model (`"*"`: each one
 * separately; absent: all of them together). `system.cpu` is host CPU in
 * percent (0..100), `process.rss_mb` the process RSS in MiB,
 * `monitoring.dropped` the events the bus dropped within the window.
 *
 * @since 0.1.0 @category schemas
 */
export const AlertRule = Schema.Struct({
  name: Schema.NonEmptyString,
  metric: AlertMetric,
  subject: Schema.optional(Schema.String),
  comparison: Comparison,
  threshold: Schema.Number,
  /** How long the condition must hold before the alert fires. */
  forMs: Schema.optionalWith(Schema.NonNegative, { default: () => 0 }),
  severity: Schema.optionalWith(Severity, { default: () => "warning" as const }),
  actions: Schema.optionalWith(Schema.Array(AlertAction), { default: () => ["log" as const] })
})
/** @since 0.1.0 @category models */
export type AlertRule = typeof AlertRule.Type

/** @since 0.1.0 @category schemas */
export const WebhookConfig = Schema.Struct({
  /** Retries after the first attempt. */
  retries: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 3 }),
  /** First retry delay; doubles each time. */
  baseDelayMs: Schema.optionalWith(Schema.NonNegative, { default: () => 500 }),
  timeoutMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5_000 })
})
/** @since 0.1.0 @category models */
export type WebhookConfig = typeof WebhookConfig.Type

/** @since 0.1.0 @category schemas */
export const AlertsConfig = Schema.Struct({
  evaluationIntervalMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1_000 }),
  /** Rules look at the events of this recent window. */
  windowMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 60_000 }),
  /** The most outcomes kept in the window (older ones go first). */
  maxWindowEvents: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10_000 }),
  /** Alert events kept in memory. */
  historySize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1_000 }),
  webhook: Schema.optionalWith(WebhookConfig, { default: () => WebhookConfig.make({}) }),
  rules: Schema.optionalWith(Schema.Array(AlertRule), { default: () => [] })
})
/** @since 0.1.0 @category models */
export type AlertsConfig = typeof AlertsConfig.Type

/** @since 0.1.0 @category schemas */
export const MonitoringConfig = Schema.Struct({
  bus: Schema.optionalWith(BusConfig, { default: () => BusConfig.make({}) }),
  /**
   * Per monitor name (`performance`, `errors`, `usage`, `metrics`, `alerts`
   * or a custom monitor's), the share of runs it sees, 0..1; default 1.
   */
  sampleRates: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.Number.pipe(Schema.between(0, 1)) }),
    { default: () => ({}) }
  ),
  /** Events a consumer handles before it lets other fibers run (bounds the pause a batch causes). */
  batchSize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 256 }),
  memorySampleIntervalMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10_000 }),
  /** Memory samples kept by the performance monitor (a ring). */
  memorySamples: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 360 }),
  systemSampleIntervalMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 15_000 }),
  /** Where disk usage is measured (`statfs`). */
  dataDir: Schema.optionalWith(Schema.String, { default: () => "." }),
  /** Latencies kept per tool / for the model, for percentiles (most recent). */
  latencySamples: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1_024 }),
  /** Runs with open state (pending tool/model calls, current state) kept at once; the oldest are evicted. */
  maxPendingRuns: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1_000 }),
  prices: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ModelPrice }), {
    default: () => defaultPrices
  }),
  status: Schema.optionalWith(StatusThresholds, { default: () => StatusThresholds.make({}) }),
  /**
   * The heap size the status measures memory against (bytes); the status is
   * `warning` above 90 % of it. Unset: V8's heap limit, read when the monitor starts.
   */
  memoryLimitBytes: Schema.optional(Schema.Int.pipe(Schema.positive())),
  alerts: Schema.optionalWith(AlertsConfig, { default: () => AlertsConfig.make({}) })
})
/** @since 0.1.0 @category models */
export type MonitoringConfig = typeof MonitoringConfig.Type
/** What the config file holds (everything optional). @since 0.1.0 @category models */
export type MonitoringConfigInput = typeof MonitoringConfig.Encoded

/** @since 0.1.0 @category defaults */
export const defaults: MonitoringConfig = MonitoringConfig.make({})

/**
 * A configuration from a partial one, each section filled in from the
 * defaults; for code (the config file goes through the schema).
 *
 * @since 0.1.0 @category constructors
 */
export const make = (input: MonitoringConfigInput = {}): MonitoringConfig =>
  Schema.decodeUnknownSync(MonitoringConfig)(input)

/** The sample rate of a monitor (1 when not configured). @since 0.1.0 @category accessors */
export const sampleRateOf = (config: MonitoringConfig, monitor: string): number => config.sampleRates[monitor] ?? 1
