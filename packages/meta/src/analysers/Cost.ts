/**
 * Cost spikes per (agent, model): the window's cost against the baseline
 * window's, in total and per run. A run is one of the agent's runs that
 * ended in the window, whichever models it called, so per-run cost is what
 * the model costs the agent per run (one sort-free pass: counting each
 * model's distinct runs took half a second on a million events). Cost is
 * tokens × the configured price per million when the model has one
 * (`priced` 1), else plain tokens (`priced` 0), so an unpriced model's spike
 * is still a token spike. Both windows need `minRuns` runs; a spike is
 * either ratio at least `spikeFactor`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Analyser, Finding, Window } from "../Analysis.js"
import { finding, numberOf, type Query, quoted, round, select, show, stringOf } from "../internal/query.js"
import type { MetaConfig } from "../MetaConfig.js"

/** @since 0.1.0 @category models */
export type Config = MetaConfig["cost"]

/** @since 0.1.0 @category constants */
export const name = "cost"

/**
 * Tokens per (agent, model) and the agent's ended runs, in the window and
 * the baseline. The usage index leads with (agent, model), so the agents
 * (those with ended runs) and models seen are listed first and each pair's
 * rows are sought directly, grouped without a sort.
 *
 * @since 0.1.0 @category queries
 */
export const usageQuery = (window: Window): Query => ({
  text: `WITH runs AS (
      SELECT agent_id AS agent, SUM(ts >= ?) AS runs, SUM(ts < ?) AS baseline_runs
      FROM events INDEXED BY idx_events_run_outcomes
      WHERE type IN ('run.end', 'run.error') AND ts >= ? AND ts < ?
      GROUP BY agent_id
    ), models AS (
      SELECT model FROM events INDEXED BY idx_events_model_ts
      WHERE model IS NOT NULL AND ts >= ? AND ts < ? AND type = 'model.response'
      GROUP BY model
    ), usage AS (
      SELECT agent_id AS agent, model,
        TOTAL(CASE WHEN ts >= ? THEN tokens_in END) AS tokens_in,
        TOTAL(CASE WHEN ts >= ? THEN tokens_out END) AS tokens_out,
        TOTAL(CASE WHEN ts < ? THEN tokens_in END) AS baseline_tokens_in,
        TOTAL(CASE WHEN ts < ? THEN tokens_out END) AS baseline_tokens_out
      FROM events INDEXED BY idx_events_model_usage
      WHERE type = 'model.response' AND agent_id IN (SELECT agent FROM runs) AND model IN (SELECT model FROM models)
        AND ts >= ? AND ts < ?
      GROUP BY agent_id, model
    )
    SELECT usage.agent, usage.model, runs.runs, runs.baseline_runs,
      usage.tokens_in, usage.tokens_out, usage.baseline_tokens_in, usage.baseline_tokens_out
    FROM usage JOIN runs ON runs.agent = usage.agent ORDER BY usage.agent, usage.model`,
  parameters: [
    window.since,
    window.since,
    window.baselineSince,
    window.until,
    window.baselineSince,
    window.until,
    window.since,
    window.since,
    window.since,
    window.since,
    window.baselineSince,
    window.until
  ]
})

interface Usage {
  readonly runs: number
  readonly tokensIn: number
  readonly tokensOut: number
}

/**
 * The cost of `usage` of `model` under `prices`, and whether it is money
 * (a price is configured) or tokens.
 *
 * @since 0.1.0 @category pricing
 */
export const costOf = (
  prices: Config["prices"],
  model: string,
  usage: { readonly tokensIn: number; readonly tokensOut: number }
): { readonly cost: number; readonly priced: boolean } => {
  const price = Object.hasOwn(prices, model) ? prices[model] : undefined
  return price === undefined
    ? { cost: usage.tokensIn + usage.tokensOut, priced: false }
    : {
      cost: (usage.tokensIn * price.inputPerMillion + usage.tokensOut * price.outputPerMillion) / 1_000_000,
      priced: true
    }
}

/**
 * The cost analyser, with the `cost` section's factor, minimum and prices.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (config: Config): Analyser => ({
  name,
  analyse: Effect.fn("Cost.analyse")(function*(window: Window) {
    const query = usageQuery(window)
    const pairs = (yield* select("cost per agent and model", query)).map((row) => ({
      agent: stringOf(row["agent"]),
      model: stringOf(row["model"]),
      now: {
        runs: numberOf(row["runs"]),
        tokensIn: numberOf(row["tokens_in"]),
        tokensOut: numberOf(row["tokens_out"])
      } satisfies Usage,
      before: {
        runs: numberOf(row["baseline_runs"]),
        tokensIn: numberOf(row["baseline_tokens_in"]),
        tokensOut: numberOf(row["baseline_tokens_out"])
      } satisfies Usage
    }))
    const findings: Array<Finding> = []
    for (const { agent, before, model, now: usage } of pairs) {
      if (usage.runs < config.minRuns || before.runs < config.minRuns) continue
      const now = costOf(config.prices, model, usage)
      const then = costOf(config.prices, model, before)
      if (then.cost <= 0) continue
      const perRun = now.cost / usage.runs
      const basePerRun = then.cost / before.runs
      const totalRatio = now.cost / then.cost
      const perRunRatio = perRun / basePerRun
      if (totalRatio < config.spikeFactor && perRunRatio < config.spikeFactor) continue
      const unit = now.priced ? "" : " tokens"
      findings.push(finding({
        kind: "cost-spike",
        analyser: name,
        target: { agent, model },
        summary: `agent ${quoted(agent)} on model ${quoted(model)}: cost ${show(now.cost)}${unit} over ${usage.runs} runs, ${
          round(totalRatio)
        }x the baseline's ${show(then.cost)}${unit}; per run ${round(perRunRatio)}x.`,
        query,
        measures: {
          priced: now.priced ? 1 : 0,
          runs: usage.runs,
          tokensIn: usage.tokensIn,
          tokensOut: usage.tokensOut,
          cost: round(now.cost),
          costPerRun: round(perRun),
          baselineRuns: before.runs,
          baselineCost: round(then.cost),
          baselineCostPerRun: round(basePerRun),
          totalRatio: round(totalRatio),
          perRunRatio: round(perRunRatio),
          spikeFactor: config.spikeFactor
        }
      }))
    }
    return findings
  })
})
