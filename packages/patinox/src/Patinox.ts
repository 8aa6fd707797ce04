/**
 * The one Layer an Effect service adds to run Patinox agents: the validation
 * pipeline with the circuit breaker and the knowledge base, the monitor and
 * its async monitors, the SQLite telemetry store fed from the event bus
 * (on its write thread), durable runs, and OpenTelemetry with a Prometheus
 * renderer, all from one `PatinoxConfig`.
 *
 * @since 0.1.0
 */
import { type LanguageModel, Monitor } from "@patinox/core"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Layer } from "effect"
import * as Guard from "./Guard.js"
import * as Observability from "./Observability.js"
import type { PatinoxConfig } from "./PatinoxConfig.js"
import * as Telemetry from "./Telemetry.js"
import * as Validation from "./Validation.js"

/** @since 0.1.0 @category models */
export interface Options {
  /** The SQLite file for the store and the knowledge base; default: `config.database.path`. */
  readonly filename?: string | undefined
  /** Added to the OpenTelemetry SDK's (tests capture spans in memory with one). */
  readonly spanProcessors?: ReadonlyArray<SpanProcessor> | undefined
}

/**
 * The service's own SQLite client (the telemetry store's file, migrated),
 * under a tag of its own: other stores on that file, such as the meta-layer's
 * proposals, use it without a host's `SqlClient` being replaced.
 *
 * @since 0.1.0 @category tags
 */
export class Database extends Context.Tag("@patinox/patinox/Database")<Database, SqlClient.SqlClient>() {}

/** `Database` as the `SqlClient` in context, for a layer built on the service's file. @since 0.1.0 @category layers */
export const databaseSqlClient: Layer.Layer<SqlClient.SqlClient, never, Database> = Layer.effect(
  SqlClient.SqlClient,
  Database
)

// Beside the telemetry store, whose layer runs the migrations while the
// service starts, so the tables exist before any request reaches them.
const database = Layer.effect(Database, SqlClient.SqlClient)

/**
 * Everything beneath the agents, on one SQLite file (created with its folder
 * if missing). The SQL client stays inside, given out only as `Database`:
 * a host's own `SqlClient` is not replaced. Shutdown runs in reverse: the
 * feed from the bus stops, the sink flushes, the database closes, then
 * OpenTelemetry.
 *
 * @since 0.1.0 @category layers
 */
export const services = (config: PatinoxConfig, options: Options = {}) => {
  const filename = options.filename ?? config.database.path
  // The tool switch goes over the breaker's guard, so it is built on the validation stack.
  return Guard.layer.pipe(
    Layer.provideMerge(Validation.layer(config.validation)),
    Layer.provideMerge(Layer.merge(Telemetry.layer(config, filename), database)),
    Layer.provide(Telemetry.databaseLayer(filename)),
    Layer.provideMerge(Observability.layer(config.observability, options.spanProcessors)),
    Layer.merge(Layer.succeed(Monitor.RecordModelResponses, config.telemetry.recordModelResponses))
  )
}

/**
 * `services` with the model the agents call, when given (else the host
 * provides `LanguageModel` itself).
 *
 * @since 0.1.0 @category layers
 */
export function layer(config: PatinoxConfig, options?: Options): ReturnType<typeof services>
export function layer<E>(
  config: PatinoxConfig,
  options: Options & { readonly model: Layer.Layer<LanguageModel.LanguageModel, E> }
): Layer.Layer<
  Layer.Layer.Success<ReturnType<typeof services>> | LanguageModel.LanguageModel,
  Layer.Layer.Error<ReturnType<typeof services>> | E,
  Exclude<Layer.Layer.Context<ReturnType<typeof services>>, LanguageModel.LanguageModel>
>
export function layer<E>(
  config: PatinoxConfig,
  options: Options & { readonly model?: Layer.Layer<LanguageModel.LanguageModel, E> | undefined } = {}
) {
  return options.model === undefined
    ? services(config, options)
    : Layer.provideMerge(services(config, options), options.model)
}
