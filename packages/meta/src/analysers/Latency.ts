/**
 * High latency: a tool's or a model's p95 (nearest rank, over successful and
 * failed calls alike) above its absolute threshold, or above
 * `baselineFactor` × the same tool's or model's p95 in the window before.
 *
 * Everything is read from the covering indexes (`tool`/`model`, `ts`,
 * `latency_ms`, `type`), never the table, except the flagged keys' callers.
 * Detection ranks from the top of each key's sample instead of sorting it
 * whole: on a million events, sorting both windows' samples took a second.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Analyser, Window } from "../Analysis.js"
import {
  agentsOf,
  callTypes,
  type Dimension,
  finding,
  nearestRank,
  numberOf,
  type Query,
  quoted,
  round,
  select,
  show,
  stringOf
} from "../internal/query.js"
import type { MetaConfig } from "../MetaConfig.js"

/** @since 0.1.0 @category models */
export type Config = MetaConfig["latency"]

/** @since 0.1.0 @category constants */
export const name = "latency"

interface Percentiles {
  readonly calls: number
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly mean: number
}

/**
 * Calls per key in `[from, to)`. Grouped by the index's leading column, so
 * it streams (no sort) and skips from key to key.
 *
 * @since 0.1.0 @category queries
 */
export const callsQuery = (dimension: Dimension, from: number, to: number): Query => {
  const { failed, ok } = callTypes(dimension)
  return {
    text: `SELECT ${dimension} AS key, COUNT(*) AS calls
      FROM events INDEXED BY idx_events_${dimension}_ts
      WHERE ${dimension} IS NOT NULL AND ts >= ? AND ts < ? AND type IN (?, ?) AND latency_ms IS NOT NULL
      GROUP BY ${dimension}`,
    parameters: [from, to, ok, failed]
  }
}

/**
 * The latency at nearest rank `rank` (1-based) of one key's `calls` calls in
 * `[from, to)`: counted from the top, so the sort keeps only `calls - rank + 1`
 * rows (5 % of them for a p95) instead of all.
 *
 * @since 0.1.0 @category queries
 */
export const rankQuery = (dimension: Dimension, key: string, from: number, to: number, calls: number, rank: number): Query => {
  const { failed, ok } = callTypes(dimension)
  return {
    text: `SELECT latency_ms AS v
      FROM events INDEXED BY idx_events_${dimension}_ts
      WHERE ${dimension} = ? AND ts >= ? AND ts < ? AND type IN (?, ?) AND latency_ms IS NOT NULL
      ORDER BY latency_ms DESC LIMIT 1 OFFSET ?`,
    parameters: [key, from, to, ok, failed, calls - rank]
  }
}

/**
 * One key's count, nearest-rank p50/p95/p99 and mean in the window
 * (`current` 1) and the baseline (`current` 0): a flagged key's evidence.
 *
 * @since 0.1.0 @category queries
 */
export const percentilesQuery = (dimension: Dimension, key: string, window: Window): Query => {
  const { failed, ok } = callTypes(dimension)
  return {
    text: `WITH sample AS (
        SELECT ts >= ? AS current, latency_ms AS v,
          ROW_NUMBER() OVER (PARTITION BY ts >= ? ORDER BY latency_ms) AS rn,
          COUNT(*) OVER (PARTITION BY ts >= ?) AS n
        FROM events INDEXED BY idx_events_${dimension}_ts
        WHERE ${dimension} = ? AND ts >= ? AND ts < ? AND type IN (?, ?) AND latency_ms IS NOT NULL
      )
      SELECT current, n AS calls, ${nearestRank(50)} AS p50, ${nearestRank(95)} AS p95,
        ${nearestRank(99)} AS p99, AVG(v) AS mean
      FROM sample GROUP BY current ORDER BY current`,
    parameters: [window.since, window.since, window.since, key, window.baselineSince, window.until, ok, failed]
  }
}

const rankOf = (calls: number, p: number) => Math.max(1, Math.ceil((calls * p) / 100))

/** Each key's calls and p95 in `[from, to)`, for keys with at least `minCalls` calls. */
const p95s = (dimension: Dimension, from: number, to: number, minCalls: number) =>
  Effect.gen(function*() {
    const calls = yield* select(`${dimension} calls`, callsQuery(dimension, from, to))
    const out = new Map<string, { readonly calls: number; readonly p95: number }>()
    for (const row of calls) {
      const key = stringOf(row["key"])
      const n = numberOf(row["calls"])
      if (n < minCalls) continue
      const [ranked] = yield* select(`${dimension} p95`, rankQuery(dimension, key, from, to, n, rankOf(n, 95)))
      out.set(key, { calls: n, p95: numberOf(ranked?.["v"]) })
    }
    return out
  })

const analyseDimension = (config: Config, dimension: Dimension, window: Window) =>
  Effect.gen(function*() {
    // Detection needs only each key's count and p95; the full percentiles are measured for flagged keys.
    const current = yield* p95s(dimension, window.since, window.until, config.minCalls)
    const baseline = yield* p95s(dimension, window.baselineSince, window.since, config.minCalls)
    const thresholdMs = dimension === "tool" ? config.toolP95Ms : config.modelP95Ms
    const flagged = [...current].filter(([key, now]) => {
      const before = baseline.get(key)
      return now.p95 > thresholdMs || (before !== undefined && now.p95 > config.baselineFactor * before.p95)
    }).map(([key]) => key)
    const agents = yield* agentsOf(dimension, flagged, window)
    return yield* Effect.forEach(flagged, (key) =>
      Effect.gen(function*() {
        const query = percentilesQuery(dimension, key, window)
        let now: Percentiles | undefined
        let before: Percentiles | undefined
        for (const row of yield* select(`${dimension} percentiles`, query)) {
          const percentiles: Percentiles = {
            calls: numberOf(row["calls"]),
            p50: numberOf(row["p50"]),
            p95: numberOf(row["p95"]),
            p99: numberOf(row["p99"]),
            mean: numberOf(row["mean"])
          }
          if (numberOf(row["current"]) === 1) now = percentiles
          // A baseline of fewer calls than the window needs is as uninformative as such a window.
          else if (percentiles.calls >= config.minCalls) before = percentiles
        }
        const at = now ?? { calls: 0, p50: 0, p95: 0, p99: 0, mean: 0 }
        const rose = before !== undefined && at.p95 > config.baselineFactor * before.p95
        const cause = [
          ...(at.p95 > thresholdMs ? [`above the ${show(thresholdMs)} ms threshold`] : []),
          ...(rose && before !== undefined ? [`${round(at.p95 / before.p95)}x the baseline p95 of ${show(before.p95)} ms`] : [])
        ].join(" and ")
        return finding({
          kind: dimension === "tool" ? "tool-latency" : "model-latency",
          analyser: name,
          target: dimension === "tool" ? { tool: key } : { model: key },
          agents: agents.get(key) ?? [],
          summary: `${dimension} ${quoted(key)}: p95 ${show(at.p95)} ms over ${at.calls} calls, ${cause}.`,
          query,
          measures: {
            calls: at.calls,
            p50Ms: at.p50,
            p95Ms: at.p95,
            p99Ms: at.p99,
            meanMs: round(at.mean),
            thresholdMs,
            ...(before === undefined
              ? {}
              : { baselineCalls: before.calls, baselineP95Ms: before.p95, baselineFactor: config.baselineFactor })
          }
        })
      }))
  })

/**
 * The latency analyser, with the `latency` section's thresholds.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (config: Config): Analyser => ({
  name,
  analyse: Effect.fn("Latency.analyse")(function*(window: Window) {
    const tools = yield* analyseDimension(config, "tool", window)
    const models = yield* analyseDimension(config, "model", window)
    return [...tools, ...models]
  })
})
