/**
 * The telemetry store in one layer: migrations, then the batched sink, the
 * window queries and scheduled retention, on whatever `SqlClient` is
 * provided. `layerSqlite` opens the SQLite file as well.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Redaction from "@patinox/core/Redaction"
import { Context, Effect, Layer, Schema } from "effect"
import * as Migrations from "./Migrations.js"
import * as Retention from "./Retention.js"
import * as TelemetryQueries from "./TelemetryQueries.js"
import * as TelemetrySink from "./TelemetrySink.js"
import { fromCause, type TelemetryStoreError } from "./TelemetryStoreError.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const Positive = Schema.Number.pipe(Schema.positive())

/** @since 0.1.0 @category config */
export const RetentionConfig = Schema.Struct({
  maxAgeDays: Schema.optionalWith(Positive, { default: () => 7 }),
  maxSizeMb: Schema.optionalWith(Positive, { default: () => 512 }),
  intervalMs: Schema.optionalWith(PositiveInt, { default: () => 60_000 })
}).annotations({ identifier: "@patinox/telemetry-store/RetentionConfig" })

/** A custom redaction detector: `pattern` is a JavaScript regular expression source. @since 0.1.0 @category config */
export const RedactionPattern = Schema.Struct({
  name: Schema.NonEmptyTrimmedString,
  pattern: Schema.String,
  flags: Schema.optional(Schema.String.pipe(Schema.pattern(/^[imsu]*$/)))
})

/**
 * The store's part of the application's configuration file. Every field has
 * a default; the database path is the application's to choose.
 *
 * @since 0.1.0 @category config
 */
export const Config = Schema.Struct({
  batchSize: Schema.optionalWith(PositiveInt, { default: () => 500 }),
  flushIntervalMs: Schema.optionalWith(PositiveInt, { default: () => 1_000 }),
  queueCapacity: Schema.optionalWith(PositiveInt, { default: () => 10_000 }),
  retention: Schema.optionalWith(RetentionConfig, {
    default: () => ({ maxAgeDays: 7, maxSizeMb: 512, intervalMs: 60_000 })
  }),
  redaction: Schema.optionalWith(Schema.Struct({ patterns: Schema.Array(RedactionPattern) }), {
    default: () => ({ patterns: [] })
  })
}).annotations({ identifier: "@patinox/telemetry-store/Config" })
/** @since 0.1.0 @category config */
export type Config = typeof Config.Type

/** @since 0.1.0 @category config */
export const defaults: Config = Schema.decodeUnknownSync(Config)({})

/**
 * The configured redaction as options; an invalid custom pattern fails here,
 * at start-up.
 *
 * @since 0.1.0 @category constructors
 */
export const redactionOf = (config: Config): Effect.Effect<Redaction.Options, TelemetryStoreError> =>
  Effect.try({
    try: () => {
      const options: Redaction.Options = {
        patterns: config.redaction.patterns.map((p) => ({ name: p.name, pattern: new RegExp(p.pattern, p.flags ?? "") }))
      }
      Redaction.make(options)
      return options
    },
    catch: fromCause("redaction config")
  })

/**
 * The configured redactor; an invalid custom pattern fails here, at start-up.
 *
 * @since 0.1.0 @category constructors
 */
export const redactorOf = (config: Config): Effect.Effect<Redaction.Redactor, TelemetryStoreError> =>
  Effect.map(redactionOf(config), Redaction.make)

/** @since 0.1.0 @category models */
export interface LayerOptions {
  /**
   * The SQLite file the provided `SqlClient` has open. Given a file, the sink
   * inserts on a thread of its own (see `TelemetrySink`); without one, on the
   * main thread.
   */
  readonly filename?: string | undefined
}

/** @since 0.1.0 @category models */
export type Services = TelemetrySink.TelemetrySink | TelemetryQueries.TelemetryQueries | Retention.Retention

/**
 * Migrates the database, then provides the sink (its writer and retention's
 * pruner live as long as the layer), the queries and retention. Pass the
 * `filename` of the provided `SqlClient`'s file to move the sink's inserts,
 * and retention's deletes, off the main thread (onto the sink's write
 * thread).
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  config: Config = defaults,
  options: LayerOptions = {}
): Layer.Layer<Services, TelemetryStoreError, SqlClient.SqlClient> =>
  Layer.unwrapEffect(
    Effect.map(redactionOf(config), (redaction) =>
      Layer.merge(
        // The sink and retention together: retention's deletes run on the sink's write thread when it has one.
        Layer.scopedContext(Effect.gen(function*() {
          const { route, service } = yield* TelemetrySink.makeRouted({
            batchSize: config.batchSize,
            flushIntervalMs: config.flushIntervalMs,
            queueCapacity: config.queueCapacity,
            redaction,
            filename: options.filename
          })
          const retention = yield* Retention.makeScheduled(config.retention, route)
          return Context.make(TelemetrySink.TelemetrySink, service).pipe(Context.add(Retention.Retention, retention))
        })),
        TelemetryQueries.layer
      ).pipe(Layer.provide(Layer.effectDiscard(Migrations.run()))))
  )

/**
 * `layer` over a SQLite file (WAL), also providing the `SqlClient` for other
 * readers of the same store. The sink writes on its own thread and
 * connection.
 *
 * @since 0.1.0 @category layers
 */
export const layerSqlite = (
  filename: string,
  config: Config = defaults
): Layer.Layer<Services | SqlClient.SqlClient, TelemetryStoreError> =>
  layer(config, { filename }).pipe(
    Layer.provideMerge(SqliteClient.layer({ filename })),
    Layer.mapError(fromCause("open"))
  )
