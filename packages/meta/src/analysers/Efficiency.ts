/**
 * Prompt inefficiency, per agent, over the runs that ended in the window
 * (`run.end` or `run.error`; an agent with fewer than `minRuns` says
 * nothing):
 * - `max-steps`: the share of runs failing with `MaxStepsExceeded`, with the
 *   steps successful runs needed (from `run.end`'s `$.result.steps`), so a
 *   planner can tell a budget too tight from a loop that never converges;
 * - `repeated-tool-calls`: the share of runs calling the same tool with the
 *   same arguments (`tool.start`'s `$.context.argsHash`) twice or more;
 * - `validator-retries`: `retry` decisions at the `final_answer` stage per
 *   run. A record does not say whether a retry was handed to the model as a
 *   revision or waited on; at that stage it is nearly always a revision;
 * - `tokens-per-run`: tokens per successful run at least `tokensGrowth` ×
 *   the baseline window's, both windows having `minRuns` successful runs.
 *
 * Runs and repeated calls are read from covering indexes (migration 5);
 * payload JSON only on narrow sets: `retry` decisions for their stage, and
 * the flagged agents' `run.end` rows for their steps.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Analyser, Finding, Window } from "../Analysis.js"
import {
  finding,
  nearestRank,
  numberOf,
  percent,
  placeholders,
  type Query,
  quoted,
  round,
  select,
  show,
  stringOf
} from "../internal/query.js"
import type { MetaConfig } from "../MetaConfig.js"

/** @since 0.1.0 @category models */
export type Config = MetaConfig["efficiency"]

/** @since 0.1.0 @category constants */
export const name = "efficiency"

/** @since 0.1.0 @category constants */
export const maxStepsExceeded = "MaxStepsExceeded"

/**
 * Ended runs, successful runs, max-steps failures and successful runs'
 * tokens, per agent and window (`current` 1 for the window, 0 for the
 * baseline).
 *
 * @since 0.1.0 @category queries
 */
export const runsQuery = (window: Window): Query => ({
  text: `SELECT agent_id AS agent, ts >= ? AS current, COUNT(*) AS runs,
      SUM(type = 'run.end') AS succeeded,
      SUM(type = 'run.error' AND error_tag = ?) AS max_steps_runs,
      TOTAL(CASE WHEN type = 'run.end' THEN coalesce(tokens_in, 0) + coalesce(tokens_out, 0) END) AS succeeded_tokens
    FROM events INDEXED BY idx_events_run_outcomes
    WHERE type IN ('run.end', 'run.error') AND ts >= ? AND ts < ?
    GROUP BY agent_id, current ORDER BY agent_id, current`,
  parameters: [window.since, maxStepsExceeded, window.baselineSince, window.until]
})

/**
 * Runs per agent with at least one repeated (tool, arguments' hash) pair,
 * read from the index that holds the hash, not from the payloads.
 *
 * @since 0.1.0 @category queries
 */
export const repeatedQuery = (window: Window): Query => ({
  text: `SELECT agent, COUNT(DISTINCT run_id) AS repeated_runs FROM (
      SELECT agent_id AS agent, run_id
      FROM events INDEXED BY idx_events_tool_args
      WHERE type = 'tool.start' AND ts >= ? AND ts < ? AND run_id IS NOT NULL
        AND json_extract(payload, '$.context.argsHash') IS NOT NULL
      GROUP BY agent_id, run_id, tool, json_extract(payload, '$.context.argsHash')
      HAVING COUNT(*) >= 2
    ) GROUP BY agent ORDER BY agent`,
  parameters: [window.since, window.until]
})

/**
 * `retry` decisions on final answers per agent; the index narrows to
 * `retry` before any payload is read.
 *
 * @since 0.1.0 @category queries
 */
export const retriesQuery = (window: Window): Query => ({
  text: `SELECT agent_id AS agent, COUNT(*) AS retries
    FROM events INDEXED BY idx_events_validator_ts
    WHERE validator IS NOT NULL AND ts >= ? AND ts < ? AND decision = ?
      AND json_extract(payload, '$.context.stage') = ?
    GROUP BY agent_id ORDER BY agent_id`,
  parameters: [window.since, window.until, "retry", "final_answer"]
})

/**
 * Steps of the successful runs of `agents` (max and nearest-rank p95), and
 * the tokens their max-steps runs spent (summed over those runs'
 * `model.response` rows: a failed run's `run.error` carries no totals).
 *
 * @since 0.1.0 @category queries
 */
export const stepsQuery = (agents: ReadonlyArray<string>, window: Window): Query => ({
  text: `WITH steps AS (
      SELECT agent_id AS key, json_extract(payload, '$.result.steps') AS v
      FROM events INDEXED BY idx_events_type_ts
      WHERE type = ? AND ts >= ? AND ts < ? AND agent_id IN (${placeholders(agents.length)})
    ), sample AS (
      SELECT key, v, ROW_NUMBER() OVER (PARTITION BY key ORDER BY v) AS rn, COUNT(*) OVER (PARTITION BY key) AS n
      FROM steps WHERE v IS NOT NULL
    ), wasted AS (
      SELECT r.agent_id AS key, TOTAL(coalesce(e.tokens_in, 0) + coalesce(e.tokens_out, 0)) AS tokens
      FROM events AS r INDEXED BY idx_events_type_ts
      JOIN events AS e INDEXED BY idx_events_run ON e.run_id = r.run_id AND e.type = ?
      WHERE r.type = ? AND r.error_tag = ? AND r.ts >= ? AND r.ts < ? AND r.agent_id IN (${placeholders(agents.length)})
      GROUP BY r.agent_id
    ), stats AS (
      SELECT key, MAX(v) AS max_steps, ${nearestRank(95)} AS p95_steps FROM sample GROUP BY key
    )
    SELECT agents.key, stats.max_steps, stats.p95_steps, coalesce(wasted.tokens, 0) AS max_steps_tokens
    FROM (SELECT key FROM stats UNION SELECT key FROM wasted) AS agents
    LEFT JOIN stats ON stats.key = agents.key
    LEFT JOIN wasted ON wasted.key = agents.key`,
  parameters: [
    "run.end",
    window.since,
    window.until,
    ...agents,
    "model.response",
    "run.error",
    maxStepsExceeded,
    window.since,
    window.until,
    ...agents
  ]
})

interface Runs {
  readonly runs: number
  readonly succeeded: number
  readonly maxStepsRuns: number
  readonly tokensPerRun: number
}

const byAgent = (rows: ReadonlyArray<Readonly<Record<string, unknown>>>, column: string) =>
  new Map(rows.map((row) => [stringOf(row["agent"]), numberOf(row[column])]))

/**
 * The efficiency analyser, with the `efficiency` section's thresholds.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (config: Config): Analyser => ({
  name,
  analyse: Effect.fn("Efficiency.analyse")(function*(window: Window) {
    const runs = runsQuery(window)
    const current = new Map<string, Runs>()
    const baseline = new Map<string, Runs>()
    for (const row of yield* select("runs per agent", runs)) {
      const succeeded = numberOf(row["succeeded"])
      ;(numberOf(row["current"]) === 1 ? current : baseline).set(stringOf(row["agent"]), {
        runs: numberOf(row["runs"]),
        succeeded,
        maxStepsRuns: numberOf(row["max_steps_runs"]),
        tokensPerRun: succeeded === 0 ? 0 : numberOf(row["succeeded_tokens"]) / succeeded
      })
    }
    const eligible = [...current].filter(([, r]) => r.runs >= config.minRuns)
    if (eligible.length === 0) return []
    const repeatedQ = repeatedQuery(window)
    const repeated = byAgent(yield* select("repeated tool calls", repeatedQ), "repeated_runs")
    const retriesQ = retriesQuery(window)
    const retries = byAgent(yield* select("final answer retries", retriesQ), "retries")

    const findings: Array<Finding> = []
    const maxSteps = eligible.filter(([, r]) => r.maxStepsRuns / r.runs >= config.maxStepsShare)
    if (maxSteps.length > 0) {
      const stepsQ = stepsQuery(maxSteps.map(([agent]) => agent), window)
      const steps = new Map((yield* select("steps per agent", stepsQ)).map((row) => [stringOf(row["key"]), row]))
      for (const [agent, r] of maxSteps) {
        const s = steps.get(agent)
        const share = r.maxStepsRuns / r.runs
        const wasted = numberOf(s?.["max_steps_tokens"])
        findings.push(finding({
          kind: "max-steps",
          analyser: name,
          target: { agent },
          summary: `agent ${quoted(agent)}: ${r.maxStepsRuns} of ${r.runs} runs ran out of steps (${percent(share)}, threshold ${
            percent(config.maxStepsShare)
          }); successful runs used at most ${show(numberOf(s?.["max_steps"]))} steps.`,
          query: stepsQ,
          measures: {
            runs: r.runs,
            maxStepsRuns: r.maxStepsRuns,
            share: round(share),
            successfulRuns: r.succeeded,
            maxSuccessfulSteps: numberOf(s?.["max_steps"]),
            p95SuccessfulSteps: numberOf(s?.["p95_steps"]),
            tokensPerRun: round(r.tokensPerRun),
            tokensInMaxStepsRuns: wasted,
            tokensPerMaxStepsRun: round(r.maxStepsRuns === 0 ? 0 : wasted / r.maxStepsRuns)
          }
        }))
      }
    }
    for (const [agent, r] of eligible) {
      const repeatedRuns = repeated.get(agent) ?? 0
      if (repeatedRuns / r.runs >= config.repeatedCallShare) {
        findings.push(finding({
          kind: "repeated-tool-calls",
          analyser: name,
          target: { agent },
          summary: `agent ${quoted(agent)}: ${repeatedRuns} of ${r.runs} runs called a tool twice with the same arguments (${
            percent(repeatedRuns / r.runs)
          }).`,
          query: repeatedQ,
          measures: { runs: r.runs, repeatedRuns, share: round(repeatedRuns / r.runs) }
        }))
      }
      const retried = retries.get(agent) ?? 0
      if (retried / r.runs >= config.validatorRetriesPerRun) {
        findings.push(finding({
          kind: "validator-retries",
          analyser: name,
          target: { agent },
          summary: `agent ${quoted(agent)}: ${retried} final answers sent back for revision over ${r.runs} runs (${
            round(retried / r.runs)
          } per run).`,
          query: retriesQ,
          measures: { runs: r.runs, retries: retried, retriesPerRun: round(retried / r.runs) }
        }))
      }
      const before = baseline.get(agent)
      if (
        before !== undefined && r.succeeded >= config.minRuns && before.succeeded >= config.minRuns &&
        before.tokensPerRun > 0 && r.tokensPerRun >= config.tokensGrowth * before.tokensPerRun
      ) {
        findings.push(finding({
          kind: "tokens-per-run",
          analyser: name,
          target: { agent },
          summary: `agent ${quoted(agent)}: ${show(r.tokensPerRun)} tokens per successful run, ${
            round(r.tokensPerRun / before.tokensPerRun)
          }x the baseline's ${show(before.tokensPerRun)}.`,
          query: runs,
          measures: {
            runs: r.succeeded,
            tokensPerRun: round(r.tokensPerRun),
            baselineRuns: before.succeeded,
            baselineTokensPerRun: round(before.tokensPerRun),
            growth: round(r.tokensPerRun / before.tokensPerRun)
          }
        }))
      }
    }
    return findings
  })
})
