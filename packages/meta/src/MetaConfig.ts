/**
 * The meta-layer's configuration: the `meta` section of the service's config
 * file, and what `patinox analyze` reads. Every key has a default, so an
 * empty section runs the loop with the built-in analysers, publishing to a
 * local git branch, never merging.
 *
 * @since 0.1.0
 */
import { Cron, Duration, Either, Option, Schedule, Schema } from "effect"

/**
 * `meta.schedule` as a schedule: an interval (`"1 hour"`) or a cron
 * expression (`"0 3 * * *"`, UTC). The first pass comes after the first
 * interval, not at start.
 *
 * @since 0.1.0 @category scheduling
 */
export const schedule = (text: string): Either.Either<Schedule.Schedule<unknown>, string> => {
  const interval = Duration.decodeUnknown(text)
  if (Option.isSome(interval) && Duration.greaterThan(interval.value, Duration.zero)) {
    return Either.right(Schedule.spaced(interval.value))
  }
  return Cron.parse(text, "UTC").pipe(
    Either.map((cron) => Schedule.cron(cron)),
    Either.mapLeft(() => `"${text}" is neither an interval ("1 hour") nor a cron expression ("0 3 * * *")`)
  )
}

const ScheduleText = Schema.NonEmptyTrimmedString.pipe(
  Schema.filter((text) => Either.match(schedule(text), { onLeft: (reason) => reason, onRight: () => true }))
)

const Positive = Schema.Number.pipe(Schema.positive())
const PositiveInt = Schema.Int.pipe(Schema.positive())
const Fraction = Schema.Number.pipe(Schema.between(0, 1))

const withDefaults = <S extends Schema.Struct.Fields>(fields: S) => {
  const struct = Schema.Struct(fields)
  return Schema.optionalWith(struct, { default: () => struct.make({} as Schema.Struct.Constructor<S>) })
}

/** High latency: a tool's or model's p95 above its threshold, or above `baselineFactor` × its previous window's. @since 0.1.0 @category schemas */
export const LatencyConfig = Schema.Struct({
  toolP95Ms: Schema.optionalWith(Positive, { default: () => 2_000 }),
  modelP95Ms: Schema.optionalWith(Positive, { default: () => 30_000 }),
  baselineFactor: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThan(1)), { default: () => 2 }),
  /** Fewer calls than this in the window say nothing. */
  minCalls: Schema.optionalWith(PositiveInt, { default: () => 20 })
})

/** Frequent errors: error rate, timeouts and circuit-breaker trips per tool / model. @since 0.1.0 @category schemas */
export const ErrorsConfig = Schema.Struct({
  errorRate: Schema.optionalWith(Fraction, { default: () => 0.1 }),
  timeoutRate: Schema.optionalWith(Fraction, { default: () => 0.05 }),
  /** Calls refused by an open circuit, per window. */
  circuitTrips: Schema.optionalWith(PositiveInt, { default: () => 1 }),
  minCalls: Schema.optionalWith(PositiveInt, { default: () => 20 })
})

/** Prompt inefficiency, per agent. @since 0.1.0 @category schemas */
export const EfficiencyConfig = Schema.Struct({
  /** Share of runs ending at `maxSteps`. */
  maxStepsShare: Schema.optionalWith(Fraction, { default: () => 0.05 }),
  /** Share of runs calling the same tool with the same arguments twice or more. */
  repeatedCallShare: Schema.optionalWith(Fraction, { default: () => 0.1 }),
  /** Final answers sent back for revision by a validator, per run. */
  validatorRetriesPerRun: Schema.optionalWith(Positive, { default: () => 0.2 }),
  /** Tokens per successful run above this factor of the previous window's. */
  tokensGrowth: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThan(1)), { default: () => 1.5 }),
  minRuns: Schema.optionalWith(PositiveInt, { default: () => 10 })
})

/** Prices per million tokens, for cost; models without a price are costed in tokens. @since 0.1.0 @category schemas */
export const Price = Schema.Struct({ inputPerMillion: Schema.NonNegative, outputPerMillion: Schema.NonNegative })

/** Cost spikes per agent / model against the previous window. @since 0.1.0 @category schemas */
export const CostConfig = Schema.Struct({
  spikeFactor: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThan(1)), { default: () => 1.5 }),
  minRuns: Schema.optionalWith(PositiveInt, { default: () => 10 }),
  prices: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Price }), { default: () => ({}) })
})

/** Publishing to GitHub instead of a local branch: needs `repository` and a token (`GITHUB_TOKEN`). @since 0.1.0 @category schemas */
export const GitHubConfig = Schema.Struct({
  /** `owner/name`. */
  repository: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/)),
  base: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "main" }),
  /** The behaviour folder's path inside the repository. */
  behaviourPath: Schema.optionalWith(Schema.String, { default: () => "agents" }),
  /** API root, for GitHub Enterprise (and the tests' fake GitHub). */
  baseUrl: Schema.optional(Schema.NonEmptyTrimmedString)
})

/**
 * @since 0.1.0 @category schemas
 */
export const MetaConfig = Schema.Struct({
  /** Run the scheduled pass inside the service. `patinox analyze` runs regardless. */
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** An interval (`"1 hour"`, `"30 minutes"`) or a cron expression (`"0 3 * * *"`, UTC). */
  schedule: Schema.optionalWith(ScheduleText, { default: () => "1 hour" }),
  analysisWindowHours: Schema.optionalWith(Positive, { default: () => 24 }),
  /** Expected (and replayed) relative gain an improvement needs before it is proposed. */
  improvementThreshold: Schema.optionalWith(Fraction, { default: () => 0.2 }),
  /** Merge proposals without review. Off by default; nothing merges unless this is true. */
  autoMerge: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  replay: withDefaults({
    /** Recorded inputs re-run per agent, before and after an edit. */
    sampleSize: Schema.optionalWith(PositiveInt, { default: () => 20 })
  }),
  latency: withDefaults(LatencyConfig.fields),
  errors: withDefaults(ErrorsConfig.fields),
  efficiency: withDefaults(EfficiencyConfig.fields),
  cost: withDefaults(CostConfig.fields),
  github: Schema.optional(GitHubConfig)
})
/** @since 0.1.0 @category models */
export type MetaConfig = typeof MetaConfig.Type

/** Every default. @since 0.1.0 @category constructors */
export const defaults: MetaConfig = Schema.decodeUnknownSync(MetaConfig)({})
