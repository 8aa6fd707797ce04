/**
 * Frequent errors per tool and per model in the window: the error rate
 * (failed calls over all calls), the timeout rate (`ToolTimeout` /
 * `ModelTimeout`) and circuit-breaker trips (calls refused with
 * `CircuitOpen`).
 *
 * One finding per cause, so a planner does not get two proposals for the
 * same fault:
 * - `circuit-trips` when trips reach `circuitTrips` (a count, so not gated by
 *   `minCalls`: one refused call is already a dependency declared down);
 * - `tool-timeouts` when the timeout rate reaches `timeoutRate`;
 * - `tool-errors` when the error rate reaches `errorRate`, unless the tool
 *   already has `tool-timeouts` and timeouts are most of its errors other
 *   than trips (trips follow from whatever opened the circuit);
 * - `model-errors` when a model's error rate reaches `errorRate` or its
 *   timeout rate reaches `timeoutRate` (a model has one knob per agent, so
 *   its timeouts are measures of this one finding).
 *
 * Calls are counted from the covering index; error tags, not in it, only on
 * the failed calls' rows.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Analyser, Finding, Target, Window } from "../Analysis.js"
import {
  agentsOf,
  callTypes,
  type Dimension,
  finding,
  nearestRank,
  numberOf,
  percent,
  placeholders,
  type Query,
  quoted,
  round,
  select,
  stringOf
} from "../internal/query.js"
import type { MetaConfig } from "../MetaConfig.js"

/** @since 0.1.0 @category models */
export type Config = MetaConfig["errors"]

/** @since 0.1.0 @category constants */
export const name = "errors"

/** The tag of a call refused by an open circuit breaker. @since 0.1.0 @category constants */
export const circuitOpen = "CircuitOpen"

/**
 * Calls, errors, timeouts and trips per key in the window.
 *
 * @since 0.1.0 @category queries
 */
export const countsQuery = (dimension: Dimension, window: Window): Query => {
  const { failed, ok, timeout } = callTypes(dimension)
  return {
    text: `WITH calls AS (
        SELECT ${dimension} AS key, COUNT(*) AS calls, SUM(type = ?) AS errors
        FROM events INDEXED BY idx_events_${dimension}_ts
        WHERE ${dimension} IS NOT NULL AND ts >= ? AND ts < ? AND type IN (?, ?)
        GROUP BY ${dimension}
      ), tags AS (
        SELECT ${dimension} AS key, SUM(error_tag = ?) AS timeouts, SUM(error_tag = ?) AS trips
        FROM events INDEXED BY idx_events_type_ts
        WHERE type = ? AND ts >= ? AND ts < ? AND ${dimension} IS NOT NULL
        GROUP BY ${dimension}
      )
      SELECT calls.key, calls.calls, calls.errors,
        coalesce(tags.timeouts, 0) AS timeouts, coalesce(tags.trips, 0) AS trips
      FROM calls LEFT JOIN tags ON tags.key = calls.key ORDER BY calls.key`,
    parameters: [failed, window.since, window.until, ok, failed, timeout, circuitOpen, failed, window.since, window.until]
  }
}

/**
 * The p95 and mean latency of the successful calls of `keys`: what a new
 * timeout is chosen from.
 *
 * @since 0.1.0 @category queries
 */
export const successLatencyQuery = (dimension: Dimension, keys: ReadonlyArray<string>, window: Window): Query => ({
  text: `WITH sample AS (
      SELECT ${dimension} AS key, latency_ms AS v,
        ROW_NUMBER() OVER (PARTITION BY ${dimension} ORDER BY latency_ms) AS rn,
        COUNT(*) OVER (PARTITION BY ${dimension}) AS n
      FROM events INDEXED BY idx_events_${dimension}_ts
      WHERE ${dimension} IN (${placeholders(keys.length)}) AND ts >= ? AND ts < ? AND type = ? AND latency_ms IS NOT NULL
    )
    SELECT key, ${nearestRank(95)} AS p95, AVG(v) AS mean FROM sample GROUP BY key`,
  parameters: [...keys, window.since, window.until, callTypes(dimension).ok]
})

interface Counts {
  readonly key: string
  readonly calls: number
  readonly errors: number
  readonly timeouts: number
  readonly trips: number
}

const analyseDimension = (config: Config, dimension: Dimension, window: Window) =>
  Effect.gen(function*() {
    const query = countsQuery(dimension, window)
    const counts = (yield* select(`${dimension} errors`, query)).map((row): Counts => ({
      key: stringOf(row["key"]),
      calls: numberOf(row["calls"]),
      errors: numberOf(row["errors"]),
      timeouts: numberOf(row["timeouts"]),
      trips: numberOf(row["trips"])
    }))
    const raised: Array<{ counts: Counts; kind: string }> = []
    for (const c of counts) {
      if (c.trips >= config.circuitTrips) raised.push({ counts: c, kind: "circuit-trips" })
      if (c.calls < config.minCalls) continue
      const errorRate = c.errors / c.calls
      const timeoutRate = c.timeouts / c.calls
      if (dimension === "model") {
        if (errorRate >= config.errorRate || timeoutRate >= config.timeoutRate) {
          raised.push({ counts: c, kind: "model-errors" })
        }
        continue
      }
      const timeouts = timeoutRate >= config.timeoutRate
      if (timeouts) raised.push({ counts: c, kind: "tool-timeouts" })
      const mostlyTimeouts = 2 * c.timeouts > c.errors - c.trips
      if (errorRate >= config.errorRate && !(timeouts && mostlyTimeouts)) raised.push({ counts: c, kind: "tool-errors" })
    }
    if (raised.length === 0) return []
    const keys = [...new Set(raised.map((r) => r.counts.key))]
    // Successful calls' latency only where timeouts were counted: the planner sets a timeout from it.
    const timed = [...new Set(raised.filter((r) => r.counts.timeouts > 0).map((r) => r.counts.key))]
    const latencyRows = timed.length === 0
      ? []
      : yield* select(`${dimension} success latency`, successLatencyQuery(dimension, timed, window))
    const latency = new Map(latencyRows.map((row) => [stringOf(row["key"]), row]))
    const agents = yield* agentsOf(dimension, keys, window)
    return raised.map(({ counts: c, kind }): Finding => {
      const target: Target = dimension === "tool" ? { tool: c.key } : { model: c.key }
      const success = latency.get(c.key)
      const errorRate = c.calls === 0 ? 0 : c.errors / c.calls
      const timeoutRate = c.calls === 0 ? 0 : c.timeouts / c.calls
      const what = `${dimension} ${quoted(c.key)}`
      const summary = kind === "circuit-trips"
        ? `${what}: ${c.trips} calls refused by an open circuit breaker of ${c.calls} calls.`
        : kind === "tool-timeouts"
        ? `${what}: ${c.timeouts} of ${c.calls} calls timed out (${percent(timeoutRate)}, threshold ${
          percent(config.timeoutRate)
        }).`
        : `${what}: ${c.errors} of ${c.calls} calls failed (${percent(errorRate)}), ${c.timeouts} timeouts.`
      return finding({
        kind,
        analyser: name,
        target,
        agents: agents.get(c.key) ?? [],
        summary,
        query,
        measures: {
          calls: c.calls,
          errors: c.errors,
          errorRate: round(errorRate),
          timeouts: c.timeouts,
          timeoutRate: round(timeoutRate),
          trips: c.trips,
          ...(success === undefined
            ? {}
            : { successP95Ms: numberOf(success["p95"]), successMeanMs: round(numberOf(success["mean"])) })
        }
      })
    })
  })

/**
 * The errors analyser, with the `errors` section's thresholds.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (config: Config): Analyser => ({
  name,
  analyse: Effect.fn("Errors.analyse")(function*(window: Window) {
    const tools = yield* analyseDimension(config, "tool", window)
    const models = yield* analyseDimension(config, "model", window)
    return [...tools, ...models]
  })
})
