/**
 * What `Patinox.layer` is configured with: the validation stack, the SQLite
 * file, telemetry, monitoring and OpenTelemetry. Every field has an embedded
 * default, so `PatinoxConfig.make({})` is a working configuration; a service
 * decodes its own config file with this schema, or extends its `fields`.
 *
 * @since 0.1.0
 */
import { MonitoringConfig } from "@patinox/monitoring"
import { TelemetryStore } from "@patinox/telemetry-store"
import { HallucinationValidator, JailbreakValidator, RateLimiter } from "@patinox/validation"
import { Schema } from "effect"
import { ObservabilityConfig } from "./Observability.js"

const Positive = Schema.Number.pipe(Schema.positive())
const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegative = Schema.Number.pipe(Schema.nonNegative())
const Share = Schema.Number.pipe(Schema.between(0, 1))

const Bucket = Schema.Struct({ capacity: Positive, refillPerSecond: Positive })

/** @since 0.1.0 @category schemas */
export const RateLimitConfig = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  priority: Schema.optionalWith(Schema.Number, { default: () => 20 }),
  /**
   * Model requests per user (API token or client address; one shared bucket when unknown). Defaults
   * and why: `RateLimiter.defaults` (600 at once, 20 a second: a few hundred runs a minute).
   */
  requests: Schema.optionalWith(Bucket, { default: () => ({ ...RateLimiter.defaults.requests }) }),
  /** Estimated prompt tokens per user: 1M at once, 1M a minute. */
  tokens: Schema.optionalWith(Bucket, { default: () => ({ ...RateLimiter.defaults.tokens }) }),
  /** A request waits for its share up to this long; a longer wait is a 429 at once, with Retry-After. */
  waitBudgetMs: Schema.optionalWith(NonNegative, { default: () => 1_000 }),
  /** Users (buckets) kept at once; idle ones are dropped first. */
  maxUsers: Schema.optionalWith(PositiveInt, { default: () => RateLimiter.defaultMaxKeys })
})

/** @since 0.1.0 @category schemas */
export const CircuitBreakerConfig = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  priority: Schema.optionalWith(Schema.Number, { default: () => 10 }),
  windowSize: Schema.optionalWith(PositiveInt, { default: () => 20 }),
  minimumCalls: Schema.optionalWith(PositiveInt, { default: () => 10 }),
  failureRateThreshold: Schema.optionalWith(Share, { default: () => 0.5 }),
  openDurationMs: Schema.optionalWith(Positive, { default: () => 30_000 }),
  halfOpenProbes: Schema.optionalWith(PositiveInt, { default: () => 1 })
})

/** @since 0.1.0 @category schemas */
export const ValidationConfig = Schema.Struct({
  /** Retries a validator may ask for per action, and their total wait. */
  maxRetries: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 2 }),
  maxTotalDelayMs: Schema.optionalWith(NonNegative, { default: () => 5_000 }),
  circuitBreaker: Schema.optionalWith(CircuitBreakerConfig, { default: () => CircuitBreakerConfig.make({}) }),
  rateLimit: Schema.optionalWith(RateLimitConfig, { default: () => RateLimitConfig.make({}) }),
  jailbreak: Schema.optionalWith(JailbreakValidator.Config, { default: () => JailbreakValidator.Config.make({}) }),
  hallucination: Schema.optionalWith(HallucinationValidator.Config, {
    default: () => HallucinationValidator.Config.make({})
  })
})
/** @since 0.1.0 @category models */
export type ValidationConfig = typeof ValidationConfig.Type

/** @since 0.1.0 @category schemas */
export const TelemetryConfig = Schema.Struct({
  ...TelemetryStore.Config.fields,
  /** Commit a run's events to SQLite before its HTTP response (group commit); off, they follow within a second. */
  durable: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /**
   * Store each model response (redacted) with its event, so that the meta-layer replays runs without
   * calling the model when an edit does not touch the prompt. Off: replays call the configured model.
   */
  recordModelResponses: Schema.optionalWith(Schema.Boolean, { default: () => false })
})

/** @since 0.1.0 @category schemas */
export const PatinoxConfig = Schema.Struct({
  /** The SQLite file for the telemetry store and the knowledge base. */
  database: Schema.optionalWith(Schema.Struct({ path: Schema.NonEmptyString }), {
    default: () => ({ path: ".data/patinox.db" })
  }),
  validation: Schema.optionalWith(ValidationConfig, { default: () => ValidationConfig.make({}) }),
  observability: Schema.optionalWith(ObservabilityConfig, { default: () => ObservabilityConfig.make({}) }),
  /** Batching, queue and retention of the SQLite telemetry store; `durable` (see `Durability.ts`). */
  telemetry: Schema.optionalWith(TelemetryConfig, { default: () => TelemetryConfig.make({}) }),
  /** The event bus, monitors, sampling, price table, status thresholds and alert rules. */
  monitoring: Schema.optionalWith(MonitoringConfig.MonitoringConfig, { default: () => MonitoringConfig.defaults })
})
/** @since 0.1.0 @category models */
export type PatinoxConfig = typeof PatinoxConfig.Type
