/**
 * Finds usage patterns: runs per agent, tools and tokens per finished run
 * (per agent), and the busiest hours of the day (UTC, by run start). Runs
 * still open are bounded (the oldest evicted); finished runs only add to
 * per-agent sums.
 *
 * @since 0.1.0
 */
import type { TelemetryEvent } from "@patinox/core"
import { Clock, Context, Effect, Layer } from "effect"
import * as AsyncMonitor from "./AsyncMonitor.js"
import type { EventBus } from "./EventBus.js"
import { BoundedMap } from "./internal/stats.js"
import * as MonitoringConfig from "./MonitoringConfig.js"

/** @since 0.1.0 @category models */
export interface AgentUsage {
  readonly runs: number
  readonly finishedRuns: number
  readonly toolCalls: number
  readonly tokens: number
}

/** @since 0.1.0 @category models */
export interface Service {
  readonly monitor: AsyncMonitor.AsyncMonitor
  readonly agents: Effect.Effect<ReadonlyMap<string, AgentUsage>>
  /** Run starts per UTC hour, index 0..23. */
  readonly hours: Effect.Effect<ReadonlyArray<number>>
}

/** @since 0.1.0 @category tags */
export class UsageMonitor extends Context.Tag("@patinox/monitoring/UsageMonitor")<UsageMonitor, Service>() {}

/** @since 0.1.0 @category constructors */
export const make = (options: { readonly maxPendingRuns?: number | undefined; readonly maxAgents?: number | undefined } = {}) =>
  Effect.sync((): Service => {
    const agents = new BoundedMap<string, { runs: number; finishedRuns: number; toolCalls: number; tokens: number }>(
      options.maxAgents ?? 1_000
    )
    const open = new BoundedMap<string, { agent: string; tools: number; tokens: number }>(options.maxPendingRuns ?? 1_000)
    const hours: Array<number> = new Array(24).fill(0)
    let observed = 0
    const agentOf = (id: string) => {
      let agent = agents.get(id)
      if (agent === undefined) {
        agent = { runs: 0, finishedRuns: 0, toolCalls: 0, tokens: 0 }
        agents.set(id, agent)
      }
      return agent
    }
    const observeNow = (event: TelemetryEvent.TelemetryEvent) => {
      observed++
      const runId = event.runId
      if (runId === undefined) return
      switch (event.type) {
        case "run.start": {
          agentOf(event.agentId).runs++
          const hour = new Date(event.timestamp).getUTCHours()
          hours[hour] = (hours[hour] ?? 0) + 1
          open.set(runId, { agent: event.agentId, tools: 0, tokens: 0 })
          return
        }
        case "tool.start": {
          const run = open.get(runId)
          if (run !== undefined) run.tools++
          return
        }
        case "model.response":
        case "model.error": {
          const run = open.get(runId)
          if (run !== undefined) run.tokens += (event.metrics.tokensIn ?? 0) + (event.metrics.tokensOut ?? 0)
          return
        }
        case "run.end":
        case "run.error": {
          const run = open.get(runId)
          if (run === undefined) return
          open.delete(runId)
          const agent = agentOf(run.agent)
          agent.finishedRuns++
          agent.toolCalls += run.tools
          agent.tokens += run.tokens
          return
        }
        default:
          return
      }
    }

    const analyze = Effect.sync((): ReadonlyArray<AsyncMonitor.Pattern> => {
      const patterns: Array<AsyncMonitor.Pattern> = []
      for (const [id, agent] of agents.entries()) {
        const subject = `agent:${id}`
        patterns.push({ kind: "runs_per_agent", subject, severity: "info", evidence: { runs: agent.runs }, value: agent.runs })
        if (agent.finishedRuns === 0) continue
        patterns.push({
          kind: "tools_per_run",
          subject,
          severity: "info",
          evidence: { finishedRuns: agent.finishedRuns, toolCalls: agent.toolCalls },
          value: agent.toolCalls / agent.finishedRuns
        })
        patterns.push({
          kind: "tokens_per_run",
          subject,
          severity: "info",
          evidence: { finishedRuns: agent.finishedRuns, tokens: agent.tokens },
          value: agent.tokens / agent.finishedRuns
        })
      }
      const total = hours.reduce((sum, n) => sum + n, 0)
      if (total > 0) {
        const peak = Math.max(...hours)
        hours.forEach((runs, hour) => {
          if (runs === peak) {
            patterns.push({
              kind: "peak_hour",
              subject: `hour:${String(hour).padStart(2, "0")}`,
              severity: "info",
              evidence: { runs, totalRuns: total, share: runs / total },
              value: runs
            })
          }
        })
      }
      return patterns
    })

    const snapshot = () => new Map(Array.from(agents.entries(), ([id, agent]) => [id, { ...agent }]))
    return {
      monitor: AsyncMonitor.fromSync({
        name: "usage",
        observe: observeNow,
        analyze,
        report: Effect.gen(function*() {
          return {
            monitor: "usage",
            generatedAt: yield* Clock.currentTimeMillis,
            observed,
            patterns: yield* analyze,
            summary: { agents: Object.fromEntries(snapshot()), hours: [...hours], openRuns: open.size }
          }
        })
      }),
      agents: Effect.sync(snapshot),
      hours: Effect.sync(() => [...hours])
    }
  })

/** The usage monitor on the bus, sampled per config (`usage`). @since 0.1.0 @category layers */
export const layer = (
  config: MonitoringConfig.MonitoringConfig = MonitoringConfig.defaults
): Layer.Layer<UsageMonitor, never, EventBus> =>
  Layer.scoped(
    UsageMonitor,
    Effect.tap(make({ maxPendingRuns: config.maxPendingRuns }), (service) => AsyncMonitor.startWith(service.monitor, config))
  )
