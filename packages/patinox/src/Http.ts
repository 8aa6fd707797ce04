/**
 * Handlers for the API groups that need only what `Patinox.layer` provides:
 * the knowledge base, `/metrics`, the monitoring dashboard's data and the
 * stored runs. Each is
 * a function of a group's handlers, so a host implements the group in its
 * own `HttpApi`:
 *
 * ```ts
 * class HostApi extends HttpApi.make("host").add(Api.KnowledgeGroup) {}
 * HttpApiBuilder.group(HostApi, "knowledge", Http.knowledge)
 * ```
 *
 * @since 0.1.0
 */
import { type HttpApiBuilder, type HttpApiGroup, HttpServerResponse } from "@effect/platform"
import { type Errors, Ids } from "@patinox/core"
import { Alerts, Monitoring, PerformanceMonitor, ToolSwitch } from "@patinox/monitoring"
import { TelemetryQueries, type TelemetryStoreError } from "@patinox/telemetry-store"
import { KnowledgeBase } from "@patinox/validation"
import { Clock, Effect, Schema } from "effect"
import {
  AlertNotFound,
  DocumentAdded,
  DocumentNotFound,
  ExportedMetrics,
  InvalidRequest,
  Issue,
  KnowledgeDocument,
  type KnowledgeGroup,
  KnowledgeUnavailable,
  maxBuckets,
  ModelFailed,
  type MonitoringGroup,
  type ObservabilityGroup,
  RunNotFound,
  RunRateLimited,
  RunRejected,
  type RunsGroup,
  RunTimedOut,
  SearchHit,
  TelemetryUnavailable,
  ToolNotDisabled
} from "./Api.js"
import { PrometheusMetrics } from "./Observability.js"
import * as Runs from "./Runs.js"

/** A group's handlers, whatever API (and its errors and middleware) it is part of. */
type HandlersOf<Group extends HttpApiGroup.HttpApiGroup.Any, E, P> = HttpApiBuilder.Handlers<
  E,
  P,
  never,
  HttpApiGroup.HttpApiGroup.Endpoints<Group>
>

/**
 * A failed run is never a 500: each run error gets the status that says whose
 * problem it is, and the run's id to find it in telemetry.
 *
 * @since 0.1.0 @category errors
 */
export const toHttpError = (error: Errors.RunError, runId: Ids.RunId) => {
  switch (error._tag) {
    case "InvalidInput":
      return new InvalidRequest({ message: error.message, runId })
    case "ValidationRejected":
      return error.retryAfterMs === undefined
        ? new RunRejected({ error: error._tag, message: error.message, runId, validator: error.validator, stage: error.stage })
        : new RunRateLimited({ error: "RateLimited", message: error.message, runId, retryAfterMs: error.retryAfterMs })
    case "ValidationRetriesExhausted":
    case "ModificationNotAllowed":
      return new RunRejected({ error: error._tag, message: error.message, runId, validator: error.validator, stage: error.stage })
    case "MaxStepsExceeded":
      return new RunRejected({ error: error._tag, message: error.message, runId })
    case "RunDeadlineExceeded":
      return new RunTimedOut({ error: error._tag, message: error.message, runId })
    default:
      return new ModelFailed({ error: error._tag, message: error.message, runId })
  }
}

/**
 * A telemetry store failure as the API answers it: logged with its cause,
 * answered 503 naming only the operation.
 *
 * @since 0.1.0 @category errors
 */
export const telemetryUnavailable = (error: TelemetryStoreError.TelemetryStoreError) =>
  Effect.zipRight(
    Effect.logError("telemetry store failed", error),
    Effect.fail(new TelemetryUnavailable({ message: `The telemetry store failed during ${error.operation}` }))
  )

/**
 * `POST /knowledge`, `GET /knowledge/search` on the knowledge base.
 *
 * @since 0.1.0 @category handlers
 */
export const knowledge = <E, P>(handlers: HandlersOf<typeof KnowledgeGroup, E, P>) =>
  Effect.gen(function*() {
    const knowledge = yield* KnowledgeBase.KnowledgeBase
    const unavailable = (error: KnowledgeBase.KnowledgeBaseError) =>
      Effect.zipRight(
        Effect.logError("knowledge base failed", error),
        Effect.fail(new KnowledgeUnavailable({ message: `The knowledge base failed during ${error.operation}` }))
      )
    return handlers
      .handle("add", ({ payload }) =>
        Effect.gen(function*() {
          const id = yield* knowledge.add({
            ...(payload.id === undefined ? {} : { id: payload.id }),
            ...(payload.title === undefined ? {} : { title: payload.title }),
            ...(payload.source === undefined ? {} : { source: payload.source }),
            text: payload.text
          })
          return new DocumentAdded({ id, documents: yield* knowledge.count })
        }).pipe(Effect.catchTag("KnowledgeBaseError", unavailable)))
      .handle("search", ({ urlParams }) =>
        knowledge.search(urlParams.q, { limit: urlParams.limit ?? 5 }).pipe(
          Effect.map((hits) => hits.map((hit) => new SearchHit(hit))),
          Effect.catchTag("KnowledgeBaseError", unavailable)
        ))
      .handle("list", () =>
        knowledge.list.pipe(
          Effect.map((documents) =>
            documents.map((document) =>
              new KnowledgeDocument({
                id: document.id,
                passages: document.passages,
                addedAt: document.addedAt,
                ...(document.title === undefined ? {} : { title: document.title }),
                ...(document.source === undefined ? {} : { source: document.source })
              })
            )
          ),
          Effect.catchTag("KnowledgeBaseError", unavailable)
        ))
      .handle("remove", ({ path }) =>
        knowledge.remove(path.id).pipe(
          Effect.catchTag("KnowledgeBaseError", unavailable),
          Effect.flatMap((removed) =>
            removed
              ? Effect.void
              : Effect.fail(new DocumentNotFound({ id: path.id, message: `No document with id "${path.id}"` }))
          )
        ))
  })

const encodeExport = Schema.encode(ExportedMetrics)

/**
 * `GET /metrics`: the Prometheus text of Effect's and the agents' metrics.
 *
 * @since 0.1.0 @category handlers
 */
export const observability = <E, P>(handlers: HandlersOf<typeof ObservabilityGroup, E, P>) =>
  Effect.map(PrometheusMetrics, (prometheus) => handlers.handle("metrics", () => prometheus.render))

/**
 * The monitoring dashboard's data: live aggregates from the monitors, the
 * tool switch, and history from the telemetry store.
 *
 * @since 0.1.0 @category handlers
 */
export const monitoring = <E, P>(handlers: HandlersOf<typeof MonitoringGroup, E, P>) =>
  Effect.gen(function*() {
    const performance = yield* PerformanceMonitor.PerformanceMonitor
    const alerts = yield* Alerts.Alerts
    const monitoring = yield* Monitoring.Monitoring
    const tools = yield* ToolSwitch.ToolSwitch
    const queries = yield* TelemetryQueries.TelemetryQueries
    const windowOf = (windowMs: number | undefined) =>
      Effect.map(Clock.currentTimeMillis, (now) => ({ since: now - (windowMs ?? 3_600_000), until: now }))
    return handlers
      .handle("metrics", () => performance.getMetrics)
      .handle("status", () =>
        Effect.flatMap(alerts.active, (active) => performance.status({ firingAlerts: active.length })))
      .handle("reset", () => Effect.map(performance.reset, (at) => ({ reset: true as const, at })))
      // Raw, for the download's headers; the body is the declared schema, encoded as a handler's would be.
      .handleRaw("export", () =>
        Effect.gen(function*() {
          const exportedAt = yield* Clock.currentTimeMillis
          const body = yield* encodeExport({ exportedAt, ...yield* performance.getMetrics }).pipe(Effect.orDie)
          return yield* HttpServerResponse.json(body, {
            headers: { "content-disposition": `attachment; filename="patinox-metrics-${exportedAt}.json"` }
          }).pipe(Effect.orDie)
        }))
      .handle("alerts", () => Effect.zipWith(alerts.active, alerts.history, (active, history) => ({ active, history })))
      .handle("acknowledgeAlert", ({ path }) =>
        alerts.acknowledge(path.id).pipe(
          Effect.catchTag("AlertNotFound", (error) =>
            Effect.fail(new AlertNotFound({ id: error.id, message: error.message })))
        ))
      .handle("patterns", () => monitoring.patterns)
      .handle("disabledTools", () => Effect.map(tools.disabled, (map) => Object.fromEntries(map)))
      .handle("enableTool", ({ path }) =>
        Effect.flatMap(tools.enable(path.name), (wasDisabled) =>
          wasDisabled
            ? Effect.succeed({ tool: path.name, enabled: true })
            : Effect.fail(new ToolNotDisabled({ tool: path.name, message: `Tool "${path.name}" is not disabled` }))))
      .handle("summary", ({ urlParams }) =>
        Effect.gen(function*() {
          const window = yield* windowOf(urlParams.windowMs)
          return {
            window,
            toolLatency: yield* queries.latencyPercentiles("tool", window),
            modelLatency: yield* queries.latencyPercentiles("model", window),
            toolErrors: yield* queries.errorRates("tool", window),
            modelErrors: yield* queries.errorRates("model", window),
            tokens: yield* queries.tokenUsage("model", window),
            decisions: yield* queries.decisionCounts(window)
          }
        }).pipe(Effect.catchTag("TelemetryStoreError", telemetryUnavailable)))
      .handle("timeseries", ({ urlParams }) =>
        Effect.gen(function*() {
          const window = yield* windowOf(urlParams.windowMs)
          const span = window.until - window.since
          const bucketMs = urlParams.bucketMs ?? Math.max(1_000, Math.ceil(span / 60_000) * 1_000)
          if (Math.ceil(span / bucketMs) + 1 > maxBuckets) {
            return yield* Effect.fail(
              new InvalidRequest({
                message: `windowMs / bucketMs gives more than ${maxBuckets} buckets: use larger buckets`,
                details: [new Issue({ path: ["bucketMs"], message: `must be at least ${Math.ceil(span / (maxBuckets - 1))}` })]
              })
            )
          }
          const buckets = yield* queries.timeseries(window, bucketMs, { costOf: performance.costOf })
          return { window, bucketMs, buckets }
        }).pipe(Effect.catchTag("TelemetryStoreError", telemetryUnavailable)))
  })

/**
 * `GET /runs` and `GET /runs/:runId` from the telemetry store, each run
 * priced by the performance monitor (the monitoring config's price table).
 *
 * @since 0.1.0 @category handlers
 */
export const runs = <E, P>(handlers: HandlersOf<typeof RunsGroup, E, P>) =>
  Effect.gen(function*() {
    const queries = yield* TelemetryQueries.TelemetryQueries
    const { costOf } = yield* PerformanceMonitor.PerformanceMonitor
    return handlers
      .handle("list", ({ urlParams }) =>
        queries.runs({ ...urlParams, limit: urlParams.limit ?? 50 }).pipe(
          Effect.map((summaries) => summaries.map((summary) => Runs.listItem(summary, costOf))),
          Effect.catchTag("TelemetryStoreError", telemetryUnavailable)
        ))
      .handle("get", ({ path }) =>
        queries.eventsByRun(Ids.RunId.make(path.runId)).pipe(
          Effect.catchTag("TelemetryStoreError", telemetryUnavailable),
          Effect.flatMap((events) => {
            const trace = Runs.trace(events, costOf)
            return trace === undefined
              ? Effect.fail(new RunNotFound({ runId: path.runId, message: `No run "${path.runId}" in the telemetry store` }))
              : Effect.succeed(trace)
          })
        ))
  })
