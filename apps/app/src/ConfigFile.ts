/**
 * The service's config file: JSON, decoded with a Schema so that a bad value
 * stops the service at start with the path of the offending key. Every field
 * has an embedded default, so the file is optional.
 *
 * Found at `PATINOX_CONFIG` if set (then it must exist), else
 * `./patinox.config.json` if present, else the defaults.
 */
import { MonitoringConfig } from "@patinox/monitoring"
import { TelemetryStore } from "@patinox/telemetry-store"
import { HallucinationValidator, JailbreakValidator, RateLimiter } from "@patinox/validation"
import { Config, Data, Effect, Option, ParseResult, Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { resolve } from "node:path"
import { ObservabilityConfig } from "./Observability.js"

const Positive = Schema.Number.pipe(Schema.positive())
const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegative = Schema.Number.pipe(Schema.nonNegative())
const Share = Schema.Number.pipe(Schema.between(0, 1))

const Bucket = Schema.Struct({ capacity: Positive, refillPerSecond: Positive })

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

export const CircuitBreakerConfig = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  priority: Schema.optionalWith(Schema.Number, { default: () => 10 }),
  windowSize: Schema.optionalWith(PositiveInt, { default: () => 20 }),
  minimumCalls: Schema.optionalWith(PositiveInt, { default: () => 10 }),
  failureRateThreshold: Schema.optionalWith(Share, { default: () => 0.5 }),
  openDurationMs: Schema.optionalWith(Positive, { default: () => 30_000 }),
  halfOpenProbes: Schema.optionalWith(PositiveInt, { default: () => 1 })
})

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
export type ValidationConfig = typeof ValidationConfig.Type

export const AgentsConfig = Schema.Struct({
  /** On shutdown, how long in-flight messages may take to finish before they are interrupted. */
  shutdownDeadlineMs: Schema.optionalWith(Positive, { default: () => 10_000 }),
  /** How many levels an agent may delegate through other agents (cycles stop here). */
  maxDelegationDepth: Schema.optionalWith(PositiveInt, { default: () => 3 }),
  /** How long an agent asking another waits for the answer. */
  askTimeoutMs: Schema.optionalWith(Positive, { default: () => 60_000 }),
  /** Bounds a whole run (model calls and their retries, tools, validators); past it the run fails. */
  runDeadlineMs: Schema.optionalWith(Positive, { default: () => 120_000 })
})

/** Who may call the service, and what a request may carry (see docs/http-api.md). */
export const ServerConfig = Schema.Struct({
  /** Required bearer token (overridden by PATINOX_API_TOKEN); needed to bind a non-loopback address. */
  apiToken: Schema.optional(Schema.Redacted(Schema.NonEmptyTrimmedString)),
  /** Origins answered with CORS headers; none by default, so browsers on other origins get no access. */
  allowedOrigins: Schema.optionalWith(Schema.Array(Schema.NonEmptyTrimmedString), { default: () => [] }),
  /** Larger request bodies get 413 before they are read. */
  maxBodyBytes: Schema.optionalWith(PositiveInt, { default: () => 1_048_576 }),
  /** Deeper JSON gets 400 before it is parsed (parsers and decoders recurse per level). */
  maxJsonDepth: Schema.optionalWith(PositiveInt.pipe(Schema.lessThanOrEqualTo(1_000)), { default: () => 64 })
})
export type ServerConfig = typeof ServerConfig.Type

export const TelemetryConfig = Schema.Struct({
  ...TelemetryStore.Config.fields,
  /** Commit a run's events to SQLite before its HTTP response (group commit); off, they follow within a second. */
  durable: Schema.optionalWith(Schema.Boolean, { default: () => true })
})

export const ConfigFile = Schema.Struct({
  server: Schema.optionalWith(ServerConfig, { default: () => ServerConfig.make({}) }),
  agents: Schema.optionalWith(AgentsConfig, { default: () => AgentsConfig.make({}) }),
  /** The SQLite file for the knowledge base (and, later, telemetry). */
  database: Schema.optionalWith(Schema.Struct({ path: Schema.NonEmptyString }), {
    default: () => ({ path: ".data/patinox.db" })
  }),
  validation: Schema.optionalWith(ValidationConfig, { default: () => ValidationConfig.make({}) }),
  observability: Schema.optionalWith(ObservabilityConfig, { default: () => ObservabilityConfig.make({}) }),
  /** The offline simulated model (used when no real model is configured). */
  simulatedModel: Schema.optionalWith(
    Schema.Struct({
      /** Delay before each answer, to try the service under realistic latency (load, shutdown). */
      latencyMs: Schema.optionalWith(NonNegative, { default: () => 0 })
    }),
    { default: () => ({ latencyMs: 0 }) }
  ),
  /** Batching, queue and retention of the SQLite telemetry store; `durable` (see `Durability.ts`). */
  telemetry: Schema.optionalWith(TelemetryConfig, { default: () => TelemetryConfig.make({}) }),
  /** The event bus, monitors, sampling, price table, status thresholds and alert rules. */
  monitoring: Schema.optionalWith(MonitoringConfig.MonitoringConfig, { default: () => MonitoringConfig.defaults })
})
export type ConfigFile = typeof ConfigFile.Type

export class ConfigFileError extends Data.TaggedError("ConfigFileError")<{ readonly path: string; readonly reason: string }> {
  override get message() {
    return `Invalid config file ${this.path}: ${this.reason}`
  }
}

const decode = Schema.decodeUnknown(Schema.parseJson(ConfigFile), { errors: "all", onExcessProperty: "error" })

/** Decodes config text; errors name the file and every offending key path. */
export const parse = (text: string, path: string): Effect.Effect<ConfigFile, ConfigFileError> =>
  decode(text).pipe(
    Effect.mapError((error) =>
      new ConfigFileError({
        path,
        reason: ParseResult.ArrayFormatter.formatErrorSync(error)
          // An optional section's "or undefined" alternative adds nothing to the real issue beneath it.
          .filter((issue) => !issue.message.startsWith("Expected undefined"))
          .map((issue) => `${issue.path.length === 0 ? "(file)" : issue.path.join(".")}: ${issue.message}`)
          .join("; ")
      })
    )
  )

/** Finds and reads the config file, or returns the defaults. */
export const load: Effect.Effect<{ readonly config: ConfigFile; readonly path: string | undefined }, ConfigFileError | import("effect").ConfigError.ConfigError> =
  Effect.gen(function*() {
    const explicit = yield* Config.option(Config.string("PATINOX_CONFIG"))
    const path = Option.isSome(explicit) ? resolve(explicit.value) : resolve("patinox.config.json")
    if (Option.isNone(explicit) && !existsSync(path)) {
      return { config: yield* parse("{}", "(defaults)"), path: undefined }
    }
    const text = yield* Effect.try({
      try: () => readFileSync(path, "utf8"),
      catch: (error) => new ConfigFileError({ path, reason: error instanceof Error ? error.message : String(error) })
    })
    return { config: yield* parse(text, path), path }
  })
