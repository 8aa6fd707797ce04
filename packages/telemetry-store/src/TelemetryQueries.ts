/**
 * Window queries over stored telemetry: the events of a run or a trace,
 * latency percentiles, error rates, token usage, validator decisions, recent
 * runs and alerts. Each is answered from a covering index, so it stays well
 * under 500 ms on a million events (see `bench/telemetry-store.bench.ts`).
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { RunId, TraceId } from "@patinox/core/Ids"
import { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Context, Effect, Layer, Schema } from "effect"
import { eventsByTraceSql } from "./internal/traceSql.js"
import { fromCause, type TelemetryStoreError } from "./TelemetryStoreError.js"

/** `[since, until)` in epoch milliseconds; `until` defaults to "no end". @since 0.1.0 @category models */
export interface Window {
  readonly since: number
  readonly until?: number | undefined
}

/** What latencies, error rates and token usage are grouped by. @since 0.1.0 @category models */
export type Dimension = "tool" | "model"

/** Nearest-rank percentiles of one group's latencies, in ms. @since 0.1.0 @category models */
export interface LatencyPercentiles {
  readonly key: string
  readonly count: number
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly mean: number
  readonly max: number
}

/** @since 0.1.0 @category models */
export interface ErrorRate {
  readonly key: string
  readonly total: number
  readonly errors: number
  /** `errors / total`, 0 when there were no calls. */
  readonly rate: number
}

/** @since 0.1.0 @category models */
export interface TokenUsage {
  readonly key: string
  readonly calls: number
  readonly tokensIn: number
  readonly tokensOut: number
}

/** @since 0.1.0 @category models */
export interface DecisionCount {
  readonly validator: string
  readonly decision: string
  readonly count: number
}

/** How a run stands: no end event yet, `run.end`, or `run.error`. @since 0.1.0 @category models */
export type RunStatus = "running" | "succeeded" | "failed"

/** @since 0.1.0 @category models */
export interface RunSummary {
  readonly runId: string
  readonly agentId: string
  readonly startedAt: number
  readonly status: RunStatus
  readonly endedAt: number | undefined
  readonly durationMs: number | undefined
  readonly tokensIn: number | undefined
  readonly tokensOut: number | undefined
  /** The run error's tag (`ValidationRejected`, …). */
  readonly error: string | undefined
  /** The run error's message, redacted as stored. */
  readonly errorMessage: string | undefined
  /** Tokens per model over the run's `model.response` events, for pricing the run. */
  readonly models: ReadonlyArray<TokenUsage>
}

/**
 * Which runs `runs` lists: every field narrows, `since`/`until` bound the
 * start time (`[since, until)`), `offset` skips the newest ones.
 *
 * @since 0.1.0 @category models
 */
export interface RunFilter {
  readonly agent?: string | undefined
  readonly status?: RunStatus | undefined
  readonly since?: number | undefined
  readonly until?: number | undefined
  readonly limit: number
  readonly offset?: number | undefined
}

/** @since 0.1.0 @category models */
export interface AlertRecord {
  readonly ts: number
  readonly rule: string
  readonly severity: string
  readonly state: "firing" | "resolved"
  readonly value: number | undefined
  readonly agentId: string
}

/** One bucket of `timeseries`: what started or ended in `[t, t + bucketMs)`. @since 0.1.0 @category models */
export interface TimeBucket {
  readonly t: number
  /** Runs started. */
  readonly runs: number
  /** Runs that ended in `run.error`. */
  readonly failedRuns: number
  /** Model calls ended (answered or failed). */
  readonly llmCalls: number
  readonly tokensIn: number
  readonly tokensOut: number
  /** USD, from the price function given (0 without one). */
  readonly cost: number
  /** Tool calls ended (returned or failed). */
  readonly toolCalls: number
  readonly toolErrors: number
  readonly decisions: { readonly approved: number; readonly modified: number; readonly rejected: number; readonly retried: number }
}

/** @since 0.1.0 @category models */
export interface TimeseriesOptions {
  /** USD for a model's tokens; the store keeps no prices. */
  readonly costOf?: ((model: string, tokensIn: number, tokensOut: number) => number) | undefined
}

/** @since 0.1.0 @category models */
export interface Service {
  readonly eventsByRun: (runId: RunId) => Effect.Effect<ReadonlyArray<TelemetryEvent>, TelemetryStoreError>
  readonly eventsByTrace: (traceId: TraceId) => Effect.Effect<ReadonlyArray<TelemetryEvent>, TelemetryStoreError>
  /** Over `tool.end`/`tool.error` (by tool) or `model.response`/`model.error` (by model). */
  readonly latencyPercentiles: (
    by: Dimension,
    window: Window
  ) => Effect.Effect<ReadonlyArray<LatencyPercentiles>, TelemetryStoreError>
  /** Tool calls ending in `tool.error`, model calls ending in `model.error`. */
  readonly errorRates: (by: Dimension, window: Window) => Effect.Effect<ReadonlyArray<ErrorRate>, TelemetryStoreError>
  /** Summed over `model.response` events, per model or per agent. */
  readonly tokenUsage: (
    by: "model" | "agent",
    window: Window
  ) => Effect.Effect<ReadonlyArray<TokenUsage>, TelemetryStoreError>
  readonly decisionCounts: (window: Window) => Effect.Effect<ReadonlyArray<DecisionCount>, TelemetryStoreError>
  /** The latest runs by start time, newest first, with how each ended. */
  readonly recentRuns: (limit: number) => Effect.Effect<ReadonlyArray<RunSummary>, TelemetryStoreError>
  /** Runs matching `filter` by start time, newest first, with how each ended and its tokens per model. */
  readonly runs: (filter: RunFilter) => Effect.Effect<ReadonlyArray<RunSummary>, TelemetryStoreError>
  readonly alerts: (window: Window, limit?: number) => Effect.Effect<ReadonlyArray<AlertRecord>, TelemetryStoreError>
  /**
   * Counts per `bucketMs` over `[window.since, window.until)`, buckets aligned
   * to multiples of `bucketMs` since the epoch, oldest first, empty ones included.
   */
  readonly timeseries: (
    window: { readonly since: number; readonly until: number },
    bucketMs: number,
    options?: TimeseriesOptions
  ) => Effect.Effect<ReadonlyArray<TimeBucket>, TelemetryStoreError>
  /** Stored events, all types. */
  readonly count: Effect.Effect<number, TelemetryStoreError>
}

/** @since 0.1.0 @category tags */
export class TelemetryQueries
  extends Context.Tag("@patinox/telemetry-store/TelemetryQueries")<TelemetryQueries, Service>()
{}

const decodePayloads = Schema.decodeUnknown(Schema.Array(Schema.parseJson(TelemetryEvent)))

// Column names are spliced into SQL: only these two can ever be.
const columnOf = (dimension: Dimension): "tool" | "model" => dimension === "tool" ? "tool" : "model"
const until = (window: Window) => window.until ?? Number.MAX_SAFE_INTEGER
const numberOf = (u: unknown): number => typeof u === "number" ? u : typeof u === "bigint" ? Number(u) : 0
const optionalNumber = (u: unknown): number | undefined =>
  typeof u === "number" ? u : typeof u === "bigint" ? Number(u) : undefined
const stringOf = (u: unknown): string => typeof u === "string" ? u : String(u)

/** @since 0.1.0 @category constructors */
export const make: Effect.Effect<Service, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const payloads = (rows: ReadonlyArray<{ readonly payload: unknown }>) =>
    decodePayloads(rows.map((row) => row.payload))

  const eventsByRun = Effect.fn("TelemetryQueries.eventsByRun")(function*(runId: RunId) {
    const rows = yield* sql<{ payload: unknown }>`
      SELECT payload FROM events WHERE run_id = ${runId} ORDER BY ts, id`.withoutTransform
    return yield* payloads(rows)
  }, Effect.mapError(fromCause("eventsByRun")))

  const eventsByTrace = Effect.fn("TelemetryQueries.eventsByTrace")(function*(traceId: TraceId) {
    const rows = yield* sql.unsafe<{ payload: unknown }>(eventsByTraceSql, [traceId, traceId, traceId]).withoutTransform
    return yield* payloads(rows)
  }, Effect.mapError(fromCause("eventsByTrace")))

  const latencyPercentiles = Effect.fn("TelemetryQueries.latencyPercentiles")(function*(dimension: Dimension, window: Window) {
    const by = columnOf(dimension)
    // Nearest rank: the value at position ceil(p/100 × n) of the sorted sample.
    // One sort per group inside SQLite; only one row per group comes back.
    const rows = yield* sql.unsafe<Record<string, unknown>>(
      `WITH sample AS (
        SELECT ${by} AS key, latency_ms AS v,
          ROW_NUMBER() OVER (PARTITION BY ${by} ORDER BY latency_ms) AS rn,
          COUNT(*) OVER (PARTITION BY ${by}) AS n
        FROM events INDEXED BY idx_events_${by}_ts
        WHERE ${by} IS NOT NULL AND ts >= ? AND ts < ? AND latency_ms IS NOT NULL
      )
      SELECT key, n AS count,
        MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN v END) AS p50,
        MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN v END) AS p95,
        MAX(CASE WHEN rn = (n * 99 + 99) / 100 THEN v END) AS p99,
        AVG(v) AS mean, MAX(v) AS max
      FROM sample GROUP BY key ORDER BY key`,
      [window.since, until(window)]
    ).withoutTransform
    return rows.map((row): LatencyPercentiles => ({
      key: stringOf(row["key"]),
      count: numberOf(row["count"]),
      p50: numberOf(row["p50"]),
      p95: numberOf(row["p95"]),
      p99: numberOf(row["p99"]),
      mean: numberOf(row["mean"]),
      max: numberOf(row["max"])
    }))
  }, Effect.mapError(fromCause("latencyPercentiles")))

  const errorRates = Effect.fn("TelemetryQueries.errorRates")(function*(dimension: Dimension, window: Window) {
    const by = columnOf(dimension)
    const [ok, failed] = by === "tool" ? ["tool.end", "tool.error"] : ["model.response", "model.error"]
    const rows = yield* sql.unsafe<Record<string, unknown>>(
      `SELECT ${by} AS key, COUNT(*) AS total, SUM(type = ?) AS errors
      FROM events INDEXED BY idx_events_${by}_ts
      WHERE ${by} IS NOT NULL AND ts >= ? AND ts < ? AND type IN (?, ?)
      GROUP BY ${by} ORDER BY ${by}`,
      [failed, window.since, until(window), ok, failed]
    ).withoutTransform
    return rows.map((row): ErrorRate => {
      const total = numberOf(row["total"])
      const errors = numberOf(row["errors"])
      return { key: stringOf(row["key"]), total, errors, rate: total === 0 ? 0 : errors / total }
    })
  }, Effect.mapError(fromCause("errorRates")))

  const tokenUsage = Effect.fn("TelemetryQueries.tokenUsage")(function*(by: "model" | "agent", window: Window) {
    const rows = by === "model"
      ? yield* sql<Record<string, unknown>>`
        SELECT model AS key, COUNT(*) AS calls, TOTAL(tokens_in) AS tokens_in, TOTAL(tokens_out) AS tokens_out
        FROM events INDEXED BY idx_events_model_ts
        WHERE model IS NOT NULL AND ts >= ${window.since} AND ts < ${until(window)} AND type = 'model.response'
        GROUP BY model ORDER BY model`.withoutTransform
      : yield* sql<Record<string, unknown>>`
        SELECT agent_id AS key, COUNT(*) AS calls, TOTAL(tokens_in) AS tokens_in, TOTAL(tokens_out) AS tokens_out
        FROM events
        WHERE type = 'model.response' AND ts >= ${window.since} AND ts < ${until(window)}
        GROUP BY agent_id ORDER BY agent_id`.withoutTransform
    return rows.map((row): TokenUsage => ({
      key: stringOf(row["key"]),
      calls: numberOf(row["calls"]),
      tokensIn: numberOf(row["tokens_in"]),
      tokensOut: numberOf(row["tokens_out"])
    }))
  }, Effect.mapError(fromCause("tokenUsage")))

  const decisionCounts = Effect.fn("TelemetryQueries.decisionCounts")(function*(window: Window) {
    const rows = yield* sql<Record<string, unknown>>`
      SELECT validator, decision, COUNT(*) AS count
      FROM events INDEXED BY idx_events_validator_ts
      WHERE validator IS NOT NULL AND ts >= ${window.since} AND ts < ${until(window)}
      GROUP BY validator, decision ORDER BY validator, decision`.withoutTransform
    return rows.map((row): DecisionCount => ({
      validator: stringOf(row["validator"]),
      decision: row["decision"] === null ? "unknown" : stringOf(row["decision"]),
      count: numberOf(row["count"])
    }))
  }, Effect.mapError(fromCause("decisionCounts")))

  const runs = Effect.fn("TelemetryQueries.runs")(function*(filter: RunFilter) {
    // A run's end is its first `run.end`/`run.error` (found through the run index); the
    // filters on the start go to the `(type, ts)` index, or the run starts' index by agent.
    const end = sql`(SELECT id FROM events WHERE run_id = s.run_id AND type IN ('run.end', 'run.error') ORDER BY ts, id LIMIT 1)`
    const conditions = [
      sql`s.type = 'run.start'`,
      sql`s.run_id IS NOT NULL`,
      ...(filter.agent === undefined ? [] : [sql`s.agent_id = ${filter.agent}`]),
      ...(filter.since === undefined ? [] : [sql`s.ts >= ${filter.since}`]),
      ...(filter.until === undefined ? [] : [sql`s.ts < ${filter.until}`]),
      ...(filter.status === undefined
        ? []
        : filter.status === "running"
        ? [sql`e.id IS NULL`]
        : [sql`e.type = ${filter.status === "succeeded" ? "run.end" : "run.error"}`])
    ]
    const rows = yield* sql<Record<string, unknown>>`
      SELECT s.run_id, s.agent_id, s.ts, e.type AS end_type, e.ts AS end_ts, e.latency_ms, e.tokens_in, e.tokens_out,
        e.error_tag, json_extract(e.payload, '$.result.message') AS error_message
      FROM events s LEFT JOIN events e ON e.id = ${end}
      WHERE ${sql.and(conditions)}
      ORDER BY s.ts DESC, s.id DESC
      LIMIT ${Math.max(0, Math.floor(filter.limit))} OFFSET ${Math.max(0, Math.floor(filter.offset ?? 0))}`.withoutTransform
    if (rows.length === 0) return []
    const ids = rows.map((row) => stringOf(row["run_id"]))
    const usage = yield* sql<Record<string, unknown>>`
      SELECT run_id, model, COUNT(*) AS calls, TOTAL(tokens_in) AS tokens_in, TOTAL(tokens_out) AS tokens_out
      FROM events
      WHERE run_id IN ${sql.in(ids)} AND type = 'model.response'
      GROUP BY run_id, model ORDER BY run_id, model`.withoutTransform
    const modelsOf = new Map<string, Array<TokenUsage>>()
    for (const row of usage) {
      const runId = stringOf(row["run_id"])
      const list = modelsOf.get(runId) ?? []
      list.push({
        key: row["model"] === null ? "unknown" : stringOf(row["model"]),
        calls: numberOf(row["calls"]),
        tokensIn: numberOf(row["tokens_in"]),
        tokensOut: numberOf(row["tokens_out"])
      })
      modelsOf.set(runId, list)
    }
    return rows.map((row): RunSummary => {
      const runId = stringOf(row["run_id"])
      const startedAt = numberOf(row["ts"])
      const ended = row["end_type"] !== null && row["end_type"] !== undefined
      const endedAt = ended ? numberOf(row["end_ts"]) : undefined
      return {
        runId,
        agentId: stringOf(row["agent_id"]),
        startedAt,
        status: !ended ? "running" : row["end_type"] === "run.end" ? "succeeded" : "failed",
        endedAt,
        durationMs: ended ? optionalNumber(row["latency_ms"]) ?? (endedAt ?? startedAt) - startedAt : undefined,
        tokensIn: ended ? optionalNumber(row["tokens_in"]) : undefined,
        tokensOut: ended ? optionalNumber(row["tokens_out"]) : undefined,
        error: typeof row["error_tag"] === "string" ? row["error_tag"] : undefined,
        errorMessage: typeof row["error_message"] === "string" ? row["error_message"] : undefined,
        models: modelsOf.get(runId) ?? []
      }
    })
  }, Effect.mapError(fromCause("runs")))

  const recentRuns = (limit: number) => runs({ limit })

  const alerts = Effect.fn("TelemetryQueries.alerts")(function*(window: Window, limit = 1_000) {
    const rows = yield* sql<Record<string, unknown>>`
      SELECT ts, rule, severity, state, value, agent_id FROM alerts
      WHERE ts >= ${window.since} AND ts < ${until(window)}
      ORDER BY ts DESC, id DESC LIMIT ${Math.max(0, Math.floor(limit))}`.withoutTransform
    return rows.map((row): AlertRecord => ({
      ts: numberOf(row["ts"]),
      rule: stringOf(row["rule"]),
      severity: stringOf(row["severity"]),
      state: row["state"] === "firing" ? "firing" : "resolved",
      value: optionalNumber(row["value"]),
      agentId: stringOf(row["agent_id"])
    }))
  }, Effect.mapError(fromCause("alerts")))

  const timeseries = Effect.fn("TelemetryQueries.timeseries")(function*(
    window: { readonly since: number; readonly until: number },
    bucketMs: number,
    options?: TimeseriesOptions
  ) {
    const size = Math.max(1, Math.floor(bucketMs))
    const first = Math.floor(window.since / size) * size
    const buckets = new Map<number, {
      t: number
      runs: number
      failedRuns: number
      llmCalls: number
      tokensIn: number
      tokensOut: number
      cost: number
      toolCalls: number
      toolErrors: number
      decisions: { approved: number; modified: number; rejected: number; retried: number }
    }>()
    for (let t = first; t < window.until; t += size) {
      buckets.set(t, {
        t,
        runs: 0,
        failedRuns: 0,
        llmCalls: 0,
        tokensIn: 0,
        tokensOut: 0,
        cost: 0,
        toolCalls: 0,
        toolErrors: 0,
        decisions: { approved: 0, modified: 0, rejected: 0, retried: 0 }
      })
    }
    const bucketOf = (row: Record<string, unknown>) => buckets.get(numberOf(row["t"]))
    const range = [window.since, window.until] as const
    // Each query reads one existing covering index; only one row per bucket (and key) comes back.
    const runs = yield* sql.unsafe<Record<string, unknown>>(
      `SELECT (ts / ${size}) * ${size} AS t, SUM(type = 'run.start') AS runs, SUM(type = 'run.error') AS failed
      FROM events INDEXED BY idx_events_type_ts
      WHERE type IN ('run.start', 'run.error') AND ts >= ? AND ts < ?
      GROUP BY t`,
      range
    ).withoutTransform
    for (const row of runs) {
      const bucket = bucketOf(row)
      if (bucket === undefined) continue
      bucket.runs = numberOf(row["runs"])
      bucket.failedRuns = numberOf(row["failed"])
    }
    const models = yield* sql.unsafe<Record<string, unknown>>(
      `SELECT (ts / ${size}) * ${size} AS t, model, COUNT(*) AS calls, TOTAL(tokens_in) AS tokens_in, TOTAL(tokens_out) AS tokens_out
      FROM events INDEXED BY idx_events_model_ts
      WHERE model IS NOT NULL AND ts >= ? AND ts < ? AND type IN ('model.response', 'model.error')
      GROUP BY t, model`,
      range
    ).withoutTransform
    for (const row of models) {
      const bucket = bucketOf(row)
      if (bucket === undefined) continue
      const tokensIn = numberOf(row["tokens_in"])
      const tokensOut = numberOf(row["tokens_out"])
      bucket.llmCalls += numberOf(row["calls"])
      bucket.tokensIn += tokensIn
      bucket.tokensOut += tokensOut
      bucket.cost += options?.costOf?.(stringOf(row["model"]), tokensIn, tokensOut) ?? 0
    }
    const tools = yield* sql.unsafe<Record<string, unknown>>(
      `SELECT (ts / ${size}) * ${size} AS t, COUNT(*) AS calls, SUM(type = 'tool.error') AS errors
      FROM events INDEXED BY idx_events_tool_ts
      WHERE tool IS NOT NULL AND ts >= ? AND ts < ? AND type IN ('tool.end', 'tool.error')
      GROUP BY t`,
      range
    ).withoutTransform
    for (const row of tools) {
      const bucket = bucketOf(row)
      if (bucket === undefined) continue
      bucket.toolCalls = numberOf(row["calls"])
      bucket.toolErrors = numberOf(row["errors"])
    }
    const decisions = yield* sql.unsafe<Record<string, unknown>>(
      `SELECT (ts / ${size}) * ${size} AS t, decision, COUNT(*) AS count
      FROM events INDEXED BY idx_events_validator_ts
      WHERE validator IS NOT NULL AND ts >= ? AND ts < ?
      GROUP BY t, decision`,
      range
    ).withoutTransform
    for (const row of decisions) {
      const bucket = bucketOf(row)
      // Stored as the decision's kind; `retry` is counted as `retried`.
      const decision = row["decision"] === "retry" ? "retried" : row["decision"]
      if (bucket === undefined) continue
      if (decision === "approved" || decision === "modified" || decision === "rejected" || decision === "retried") {
        bucket.decisions[decision] += numberOf(row["count"])
      }
    }
    return [...buckets.values()].map((bucket): TimeBucket => ({ ...bucket, cost: Math.round(bucket.cost * 1e6) / 1e6 }))
  }, Effect.mapError(fromCause("timeseries")))

  const count = sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM events`.withoutTransform.pipe(
    Effect.map((rows) => numberOf(rows[0]?.n)),
    Effect.mapError(fromCause("count")),
    Effect.withSpan("TelemetryQueries.count")
  )

  return {
    eventsByRun,
    eventsByTrace,
    latencyPercentiles,
    errorRates,
    tokenUsage,
    decisionCounts,
    recentRuns,
    runs,
    alerts,
    timeseries,
    count
  } satisfies Service
})

/** @since 0.1.0 @category layers */
export const layer: Layer.Layer<TelemetryQueries, never, SqlClient.SqlClient> = Layer.effect(TelemetryQueries, make)
