/**
 * The dashboard's figures, folded from the event stream: per tool calls,
 * errors and durations; dwell time per agent state; model calls, tokens,
 * latency percentiles and cost; memory samples; the session.
 *
 * Durations are the ones the loop measured (`metrics.latencyMs` on the end
 * event); only when an end carries none is it derived from the start event's
 * timestamp. Broken streams degrade, never crash: an end without a start is
 * counted in `anomalies.orphanEnds`, an event older than the one before it in
 * `anomalies.outOfOrder`, and the per-run state (current state, open calls) is
 * dropped when the run ends and bounded by `maxPendingRuns` (oldest evicted).
 * Percentiles are over the most recent `latencySamples` values.
 *
 * @since 0.1.0
 */
import { Ids, Monitor, type TelemetryEvent } from "@patinox/core"
import { Clock, Context, Effect, type Fiber, Layer, Schedule, Schema, type Scope } from "effect"
import { writeFile } from "node:fs/promises"
import { getHeapStatistics } from "node:v8"
import * as AsyncMonitor from "./AsyncMonitor.js"
import type { EventBus } from "./EventBus.js"
import { BoundedMap, contextString, modelCallKey, percentile, Ring, toolCallKey } from "./internal/stats.js"
import * as MonitoringConfig from "./MonitoringConfig.js"

/** @since 0.1.0 @category models */
export interface ToolStats {
  readonly calls: number
  readonly errors: number
  readonly totalMs: number
  readonly meanMs: number
  readonly p95Ms: number
}

/** @since 0.1.0 @category models */
export interface StateStats {
  readonly entries: number
  readonly totalDwellMs: number
  readonly meanDwellMs: number
}

/** @since 0.1.0 @category models */
export interface LLMStats {
  readonly calls: number
  readonly errors: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly latency: { readonly p50: number; readonly p95: number; readonly p99: number }
  /** USD, from the price table. */
  readonly cost: number
  readonly costByModel: Readonly<Record<string, number>>
  readonly lastCallAt: number | null
}

/** @since 0.1.0 @category models */
export interface MemorySample {
  readonly timestamp: number
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
}

/** @since 0.1.0 @category models */
export interface MemoryStats {
  /** Oldest first, at most `memorySamples`. */
  readonly samples: ReadonlyArray<MemorySample>
  readonly latest: MemorySample | null
  readonly peakRss: number
  readonly peakHeapUsed: number
}

/** @since 0.1.0 @category models */
export interface SessionStats {
  readonly runs: number
  /** Model calls. */
  readonly cycles: number
  readonly uptimeMs: number
  readonly startedAt: number
}

/** @since 0.1.0 @category models */
export interface Anomalies {
  /** Ends (tool or model) whose start was never seen. */
  readonly orphanEnds: number
  /** Events older than the state or start they close. */
  readonly outOfOrder: number
  /** Runs whose open state was evicted to stay within `maxPendingRuns`. */
  readonly evictedRuns: number
  /** Runs with open state now. */
  readonly pendingRuns: number
}

/** @since 0.1.0 @category models */
export interface PerformanceMetrics {
  readonly tools: Readonly<Record<string, ToolStats>>
  readonly states: Readonly<Record<string, StateStats>>
  readonly llm: LLMStats
  readonly memory: MemoryStats
  readonly session: SessionStats
  readonly anomalies: Anomalies
}

/**
 * The headline of the dashboard: one state, the heap against its limit, the
 * model calls so far, and a sentence saying why the state is what it is.
 *
 * @since 0.1.0 @category models
 */
export interface StatusSummary {
  readonly state: "idle" | "active" | "warning"
  /** `heapUsed` of the latest memory sample (0 before the first) against the configured limit. */
  readonly primaryMetric: { readonly name: "memory"; readonly value: number; readonly limit: number; readonly unit: "bytes" }
  readonly secondaryMetric: { readonly name: "llmCalls"; readonly value: number; readonly unit: "calls" }
  readonly lastActivity: number | null
  readonly message: string
}

/** What the status knows beyond the monitor's own figures. @since 0.1.0 @category models */
export interface StatusContext {
  /** Alerts firing now (acknowledged or not): any makes the status `warning`. */
  readonly firingAlerts?: number | undefined
}

/** Share of the memory limit above which the status is `warning`. @since 0.1.0 @category constants */
export const memoryWarningShare = 0.9

/** @since 0.1.0 @category errors */
export class MetricsExportFailed extends Schema.TaggedError<MetricsExportFailed>(
  "@patinox/monitoring/MetricsExportFailed"
)("MetricsExportFailed", {
  path: Schema.String,
  reason: Schema.String
}) {}

/** @since 0.1.0 @category models */
export interface Service {
  /** The monitor to start on the bus (`layer` does). */
  readonly monitor: AsyncMonitor.AsyncMonitor
  readonly getMetrics: Effect.Effect<PerformanceMetrics>
  readonly getLLMStats: Effect.Effect<LLMStats>
  readonly getMemoryStats: Effect.Effect<MemoryStats>
  readonly status: (context?: StatusContext) => Effect.Effect<StatusSummary>
  /** Forgets everything observed; the session restarts now, the time returned. */
  readonly reset: Effect.Effect<number>
  /** USD for a model call at the monitor's prices (0 for a model without one). */
  readonly costOf: (model: string, inputTokens: number, outputTokens: number) => number
  /** Writes `getMetrics` as JSON to `path`. */
  readonly export: (path: string) => Effect.Effect<void, MetricsExportFailed>
}

/** @since 0.1.0 @category tags */
export class PerformanceMonitor extends Context.Tag("@patinox/monitoring/PerformanceMonitor")<
  PerformanceMonitor,
  Service
>() {}

/** The agent id stamped on events monitoring reports itself. @since 0.1.0 @category names */
export const monitoringAgentId: Ids.AgentId = Ids.AgentId.make("patinox-monitoring")

/**
 * The price of a model: exact name, else the longest known prefix
 * (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`), else undefined.
 *
 * @since 0.1.0 @category pricing
 */
export const priceOf = (
  prices: Readonly<Record<string, MonitoringConfig.ModelPrice>>,
  model: string
): MonitoringConfig.ModelPrice | undefined => {
  const exact = prices[model]
  if (exact !== undefined) return exact
  let best: string | undefined
  for (const name of Object.keys(prices)) {
    if (model.startsWith(name) && (best === undefined || name.length > best.length)) best = name
  }
  return best === undefined ? undefined : prices[best]
}

/** USD for a call; 0 for a model without a price. @since 0.1.0 @category pricing */
export const costOf = (
  prices: Readonly<Record<string, MonitoringConfig.ModelPrice>>,
  model: string,
  inputTokens: number,
  outputTokens: number
): number => {
  const price = priceOf(prices, model)
  return price === undefined
    ? 0
    : (inputTokens * price.inputPerMillion + outputTokens * price.outputPerMillion) / 1_000_000
}

interface ToolAccumulator {
  calls: number
  errors: number
  timed: number
  totalMs: number
  readonly latencies: Ring<number>
}

interface StateAccumulator {
  entries: number
  closed: number
  totalDwellMs: number
}

interface RunState {
  current: { readonly state: string; readonly since: number } | undefined
  readonly tools: Map<string, number>
  readonly models: Map<string, number>
}

/** Open calls kept per run: a run asking for more at once is not plausible. */
const maxOpenCallsPerRun = 256

const round = (value: number, digits = 3) => {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

const numberOr = (value: unknown, fallback: number): number =>
  typeof value === "number" && Number.isFinite(value) ? value : fallback

/**
 * Builds the monitor and its read side; nothing runs until `monitor` is
 * started on a bus (see `layer`).
 *
 * @since 0.1.0 @category constructors
 */
export const make = (config: MonitoringConfig.MonitoringConfig = MonitoringConfig.defaults): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const sampleSize = config.latencySamples
    const memoryLimit = config.memoryLimitBytes ?? (yield* heapSizeLimit)
    let startedAt = yield* Clock.currentTimeMillis
    let tools = new Map<string, ToolAccumulator>()
    let states = new Map<string, StateAccumulator>()
    let runs = new BoundedMap<string, RunState>(config.maxPendingRuns)
    const llmLatencies = new Ring<number>(sampleSize)
    const memory = new Ring<MemorySample>(config.memorySamples)
    let llm = { calls: 0, errors: 0, inputTokens: 0, outputTokens: 0, cost: 0, lastCallAt: null as number | null }
    let costByModel: Record<string, number> = {}
    let session = { runs: 0, cycles: 0 }
    let anomalies = { orphanEnds: 0, outOfOrder: 0 }
    let peakRss = 0
    let peakHeapUsed = 0
    let lastActivity: number | null = null
    let observed = 0

    const toolOf = (name: string): ToolAccumulator => {
      let tool = tools.get(name)
      if (tool === undefined) {
        tool = { calls: 0, errors: 0, timed: 0, totalMs: 0, latencies: new Ring(sampleSize) }
        tools.set(name, tool)
      }
      return tool
    }
    const stateOf = (name: string): StateAccumulator => {
      let state = states.get(name)
      if (state === undefined) {
        state = { entries: 0, closed: 0, totalDwellMs: 0 }
        states.set(name, state)
      }
      return state
    }
    const runKey = (event: TelemetryEvent.TelemetryEvent) => event.runId ?? ""
    const runOf = (event: TelemetryEvent.TelemetryEvent): RunState => {
      const key = runKey(event)
      let run = runs.get(key)
      if (run === undefined) {
        run = { current: undefined, tools: new Map(), models: new Map() }
        runs.set(key, run)
      }
      return run
    }
    const openCall = (calls: Map<string, number>, key: string, at: number) => {
      if (calls.size >= maxOpenCallsPerRun && !calls.has(key)) {
        const oldest = calls.keys().next()
        if (oldest.done !== true) calls.delete(oldest.value)
      }
      calls.set(key, at)
    }
    /** The start of the call `event` ends, removed from the open calls; undefined for an orphan end. */
    const closeCall = (which: "tools" | "models", key: string | undefined, event: TelemetryEvent.TelemetryEvent) => {
      const run = runs.get(runKey(event))
      if (run === undefined || key === undefined) return undefined
      const started = run[which].get(key)
      if (started !== undefined) run[which].delete(key)
      return started
    }
    /** The call's duration: as measured by the loop, else from the start event. */
    const durationOf = (event: TelemetryEvent.TelemetryEvent, started: number | undefined): number | undefined => {
      const measured = event.metrics.latencyMs
      if (measured !== undefined && Number.isFinite(measured) && measured >= 0) return measured
      if (started === undefined) return undefined
      const derived = event.timestamp - started
      if (derived < 0) {
        anomalies.outOfOrder++
        return undefined
      }
      return derived
    }
    const closeState = (run: RunState, at: number) => {
      if (run.current === undefined) return
      const dwell = at - run.current.since
      if (dwell < 0) {
        anomalies.outOfOrder++
        return
      }
      const state = stateOf(run.current.state)
      state.closed++
      state.totalDwellMs += dwell
      run.current = undefined
    }

    const observeNow = (event: TelemetryEvent.TelemetryEvent): void => {
      observed++
      switch (event.type) {
        case "memory.sample": {
          const rss = numberOr(event.context["rss"], event.metrics.memoryBytes ?? 0)
          const sample: MemorySample = {
            timestamp: event.timestamp,
            rss,
            heapUsed: numberOr(event.context["heapUsed"], 0),
            heapTotal: numberOr(event.context["heapTotal"], 0),
            external: numberOr(event.context["external"], 0)
          }
          memory.push(sample)
          peakRss = Math.max(peakRss, sample.rss)
          peakHeapUsed = Math.max(peakHeapUsed, sample.heapUsed)
          return
        }
        case "system.sample":
        case "alert.firing":
        case "alert.resolved":
          return
        default:
          break
      }
      if (lastActivity === null || event.timestamp > lastActivity) lastActivity = event.timestamp
      switch (event.type) {
        case "run.start":
          session.runs++
          runOf(event)
          return
        case "run.end":
        case "run.error": {
          const run = runs.get(runKey(event))
          if (run !== undefined) {
            closeState(run, event.timestamp)
            // A finished run leaves nothing behind.
            runs.delete(runKey(event))
          }
          return
        }
        case "state.change": {
          const name = contextString(event, "state")
          if (name === undefined || event.runId === undefined) return
          const run = runOf(event)
          if (run.current !== undefined && event.timestamp < run.current.since) {
            // Late: counted as an entry, but the newer state stays current.
            anomalies.outOfOrder++
            stateOf(name).entries++
            return
          }
          closeState(run, event.timestamp)
          stateOf(name).entries++
          run.current = { state: name, since: event.timestamp }
          return
        }
        case "tool.start": {
          const key = toolCallKey(event)
          if (key !== undefined) openCall(runOf(event).tools, key, event.timestamp)
          return
        }
        case "tool.end":
        case "tool.error": {
          const started = closeCall("tools", toolCallKey(event), event)
          if (started === undefined) anomalies.orphanEnds++
          const tool = toolOf(contextString(event, "tool") ?? "unknown")
          tool.calls++
          if (event.type === "tool.error") tool.errors++
          const duration = durationOf(event, started)
          if (duration !== undefined) {
            tool.timed++
            tool.totalMs += duration
            tool.latencies.push(duration)
          }
          return
        }
        case "model.request": {
          const key = modelCallKey(event)
          if (key !== undefined) openCall(runOf(event).models, key, event.timestamp)
          return
        }
        case "model.response":
        case "model.error": {
          const started = closeCall("models", modelCallKey(event), event)
          if (started === undefined) anomalies.orphanEnds++
          llm.calls++
          session.cycles++
          if (event.type === "model.error") llm.errors++
          const tokensIn = event.metrics.tokensIn ?? 0
          const tokensOut = event.metrics.tokensOut ?? 0
          llm.inputTokens += tokensIn
          llm.outputTokens += tokensOut
          const model = contextString(event, "model") ?? "unknown"
          const cost = costOf(config.prices, model, tokensIn, tokensOut)
          llm.cost += cost
          costByModel[model] = (costByModel[model] ?? 0) + cost
          if (llm.lastCallAt === null || event.timestamp > llm.lastCallAt) llm.lastCallAt = event.timestamp
          const duration = durationOf(event, started)
          if (duration !== undefined) llmLatencies.push(duration)
          return
        }
        default:
          return
      }
    }

    const llmStats = (): LLMStats => {
      const latencies = llmLatencies.toArray()
      return {
        calls: llm.calls,
        errors: llm.errors,
        inputTokens: llm.inputTokens,
        outputTokens: llm.outputTokens,
        latency: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) },
        cost: round(llm.cost, 6),
        costByModel: Object.fromEntries(Object.entries(costByModel).map(([model, cost]) => [model, round(cost, 6)])),
        lastCallAt: llm.lastCallAt
      }
    }
    const memoryStats = (): MemoryStats => ({
      samples: memory.toArray(),
      latest: memory.last() ?? null,
      peakRss,
      peakHeapUsed
    })
    const toolStats = (): Record<string, ToolStats> => {
      const out: Record<string, ToolStats> = {}
      for (const [name, tool] of tools) {
        out[name] = {
          calls: tool.calls,
          errors: tool.errors,
          totalMs: round(tool.totalMs),
          meanMs: tool.timed === 0 ? 0 : round(tool.totalMs / tool.timed),
          p95Ms: percentile(tool.latencies.toArray(), 95)
        }
      }
      return out
    }
    const stateStats = (): Record<string, StateStats> => {
      const out: Record<string, StateStats> = {}
      for (const [name, state] of states) {
        out[name] = {
          entries: state.entries,
          totalDwellMs: round(state.totalDwellMs),
          meanDwellMs: state.closed === 0 ? 0 : round(state.totalDwellMs / state.closed)
        }
      }
      return out
    }
    const snapshot = (now: number): PerformanceMetrics => ({
      tools: toolStats(),
      states: stateStats(),
      llm: llmStats(),
      memory: memoryStats(),
      session: { runs: session.runs, cycles: session.cycles, uptimeMs: Math.max(0, now - startedAt), startedAt },
      anomalies: { ...anomalies, evictedRuns: runs.evicted, pendingRuns: runs.size }
    })

    const getMetrics = Effect.map(Clock.currentTimeMillis, snapshot)

    const status = (context: StatusContext = {}) =>
      Effect.map(Clock.currentTimeMillis, (now): StatusSummary => {
        const thresholds = config.status
        const metrics = snapshot(now)
        const toolList = Object.values(metrics.tools)
        const calls = metrics.llm.calls + toolList.reduce((sum, tool) => sum + tool.calls, 0)
        const errors = metrics.llm.errors + toolList.reduce((sum, tool) => sum + tool.errors, 0)
        const errorRate = calls === 0 ? 0 : errors / calls
        const p95 = metrics.llm.latency.p95
        const heapUsed = metrics.memory.latest?.heapUsed ?? 0
        const primaryMetric = { name: "memory", value: heapUsed, limit: memoryLimit, unit: "bytes" } as const
        const secondaryMetric = { name: "llmCalls", value: metrics.llm.calls, unit: "calls" } as const
        const problems: Array<string> = []
        if (heapUsed > memoryLimit * memoryWarningShare) {
          problems.push(`heap ${mebibytes(heapUsed)} MiB over 90% of the ${mebibytes(memoryLimit)} MiB limit`)
        }
        const firing = context.firingAlerts ?? 0
        if (firing > 0) problems.push(firing === 1 ? "1 alert firing" : `${firing} alerts firing`)
        if (calls >= thresholds.minimumCalls && errorRate > thresholds.errorRate) {
          problems.push(`error rate ${(errorRate * 100).toFixed(1)}% over ${(thresholds.errorRate * 100).toFixed(1)}%`)
        }
        if (p95 > thresholds.p95LatencyMs) {
          problems.push(`model p95 latency ${Math.round(p95)} ms over ${thresholds.p95LatencyMs} ms`)
        }
        const summary = { primaryMetric, secondaryMetric, lastActivity }
        if (problems.length > 0) return { state: "warning", ...summary, message: problems.join("; ") }
        if (lastActivity !== null && now - lastActivity <= thresholds.activeWindowMs) {
          return { state: "active", ...summary, message: "Agents are working" }
        }
        return {
          state: "idle",
          ...summary,
          message: lastActivity === null
            ? "No activity yet"
            : `Idle for ${Math.round((now - lastActivity) / 1000)} s`
        }
      }).pipe(Effect.withSpan("PerformanceMonitor.status"))

    const analyze = Effect.map(Clock.currentTimeMillis, (now): ReadonlyArray<AsyncMonitor.Pattern> => {
      const metrics = snapshot(now)
      const limit = config.status.p95LatencyMs
      const patterns: Array<AsyncMonitor.Pattern> = []
      for (const [name, tool] of Object.entries(metrics.tools)) {
        if (tool.p95Ms > limit) {
          patterns.push({
            kind: "slow_tool",
            subject: `tool:${name}`,
            severity: AsyncMonitor.severityOf(tool.p95Ms, limit, limit * 2),
            evidence: { calls: tool.calls, meanMs: tool.meanMs, p95Ms: tool.p95Ms, thresholdMs: limit },
            value: tool.p95Ms
          })
        }
      }
      if (metrics.llm.latency.p95 > limit) {
        patterns.push({
          kind: "slow_model",
          subject: "model",
          severity: AsyncMonitor.severityOf(metrics.llm.latency.p95, limit, limit * 2),
          evidence: { calls: metrics.llm.calls, p50Ms: metrics.llm.latency.p50, p95Ms: metrics.llm.latency.p95 },
          value: metrics.llm.latency.p95
        })
      }
      if (metrics.anomalies.orphanEnds > 0) {
        patterns.push({
          kind: "orphan_ends",
          subject: "telemetry",
          severity: "info",
          evidence: { orphanEnds: metrics.anomalies.orphanEnds, outOfOrder: metrics.anomalies.outOfOrder },
          value: metrics.anomalies.orphanEnds
        })
      }
      return patterns
    })

    const reset = Effect.map(Clock.currentTimeMillis, (now) => {
      // The heap does not empty with the counters: the latest sample stays, so the status keeps a figure.
      const latest = memory.last()
      startedAt = now
      tools = new Map()
      states = new Map()
      runs = new BoundedMap(config.maxPendingRuns)
      llmLatencies.clear()
      memory.clear()
      llm = { calls: 0, errors: 0, inputTokens: 0, outputTokens: 0, cost: 0, lastCallAt: null }
      costByModel = {}
      session = { runs: 0, cycles: 0 }
      anomalies = { orphanEnds: 0, outOfOrder: 0 }
      peakRss = latest?.rss ?? 0
      peakHeapUsed = latest?.heapUsed ?? 0
      if (latest !== undefined) memory.push(latest)
      lastActivity = null
      observed = 0
      return now
    })

    const monitor: AsyncMonitor.AsyncMonitor = AsyncMonitor.fromSync({
      name: "performance",
      observe: observeNow,
      analyze,
      report: Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const patterns = yield* analyze
        const metrics = snapshot(now)
        return {
          monitor: "performance",
          generatedAt: now,
          observed,
          patterns,
          summary: { llm: metrics.llm, tools: metrics.tools, states: metrics.states, session: metrics.session }
        }
      })
    })

    const exportTo = Effect.fn("PerformanceMonitor.export")(function*(path: string) {
      const metrics = yield* getMetrics
      const json = JSON.stringify({ exportedAt: yield* Clock.currentTimeMillis, ...metrics }, null, 2)
      yield* Effect.tryPromise({
        try: () => writeFile(path, json + "\n", "utf8"),
        catch: (error) => new MetricsExportFailed({ path, reason: error instanceof Error ? error.message : String(error) })
      })
    })

    return {
      monitor,
      getMetrics: getMetrics.pipe(Effect.withSpan("PerformanceMonitor.getMetrics")),
      getLLMStats: Effect.sync(llmStats),
      getMemoryStats: Effect.sync(memoryStats),
      status,
      reset: reset.pipe(Effect.withSpan("PerformanceMonitor.reset")),
      costOf: (model, inputTokens, outputTokens) => costOf(config.prices, model, inputTokens, outputTokens),
      export: exportTo
    } satisfies Service
  })

/** V8's heap limit, the default memory limit of the status. */
const heapSizeLimit = Effect.sync(() => getHeapStatistics().heap_size_limit)

const mebibytes = (bytes: number) => Math.round(bytes / (1024 * 1024))

/** `process.memoryUsage()` as the context of a `memory.sample` event. */
const memoryUsage = Effect.sync(() => process.memoryUsage())

/**
 * Reports a `memory.sample` event now and then every `intervalMs` (context
 * `{ heapUsed, heapTotal, rss, external }`, `metrics.memoryBytes` = rss)
 * from a fiber that stops when the scope closes.
 *
 * @since 0.1.0 @category sampling
 */
export const memorySampler = (
  intervalMs: number
): Effect.Effect<Fiber.RuntimeFiber<number>, never, Monitor.Monitor | Scope.Scope> =>
  Effect.flatMap(memoryUsage, (usage) =>
    Monitor.report({
      type: "memory.sample",
      agentId: monitoringAgentId,
      metrics: { memoryBytes: Math.max(0, Math.round(usage.rss)) },
      context: { heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, rss: usage.rss, external: usage.external }
    })).pipe(
      Effect.repeat(Schedule.spaced(`${intervalMs} millis`)),
      Effect.forkScoped
    )

/**
 * The performance monitor on the bus, sampled per config, and the memory
 * sampler reporting to `Monitor`; both stop with the layer.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  config: MonitoringConfig.MonitoringConfig = MonitoringConfig.defaults
): Layer.Layer<PerformanceMonitor, never, EventBus | Monitor.Monitor> =>
  Layer.scoped(
    PerformanceMonitor,
    Effect.gen(function*() {
      const service = yield* make(config)
      yield* AsyncMonitor.startWith(service.monitor, config)
      yield* memorySampler(config.memorySampleIntervalMs)
      return service
    })
  )

/** @since 0.1.0 @category accessors */
export const getMetrics: Effect.Effect<PerformanceMetrics, never, PerformanceMonitor> = Effect.flatMap(
  PerformanceMonitor,
  (monitor) => monitor.getMetrics
)

/** @since 0.1.0 @category accessors */
export const status = (context?: StatusContext): Effect.Effect<StatusSummary, never, PerformanceMonitor> =>
  Effect.flatMap(PerformanceMonitor, (monitor) => monitor.status(context))
