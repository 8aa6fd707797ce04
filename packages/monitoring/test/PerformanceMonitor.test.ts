import { assert, describe, it } from "@effect/vitest"
import { ActionResult, Monitor } from "@patinox/core"
import { Effect, Exit, Layer, Schema, Scope, TestClock } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as EventBus from "../src/EventBus.js"
import * as MonitoringConfig from "../src/MonitoringConfig.js"
import * as PerformanceMonitor from "../src/PerformanceMonitor.js"
import { event, runId } from "./events.js"

const r1 = runId("run-1")

const feed = (service: PerformanceMonitor.Service, events: ReadonlyArray<ReturnType<typeof event>>) =>
  Effect.forEach(events, (e) => service.monitor.observe(e), { discard: true })

const toolCall = (tool: string, id: string, start: number, latencyMs: number | undefined, failed = false) => [
  event("tool.start", { runId: r1, timestamp: start, context: { tool, toolCallId: id, step: 1 } }),
  event(failed ? "tool.error" : "tool.end", {
    runId: r1,
    timestamp: start + (latencyMs ?? 200),
    metrics: latencyMs === undefined ? {} : { latencyMs },
    context: { tool, toolCallId: id, step: 1, ...(failed ? { error: "ToolFailed" } : {}) }
  })
]

const modelCall = (step: number, at: number, latencyMs: number, tokensIn: number, tokensOut: number, model = "gpt-4o-mini") => [
  event("model.request", { runId: r1, timestamp: at, context: { model, provider: "openai", step } }),
  event("model.response", {
    runId: r1,
    timestamp: at + latencyMs,
    metrics: { latencyMs, tokensIn, tokensOut },
    context: { model, provider: "openai", step }
  })
]

describe("PerformanceMonitor", () => {
  it.effect("aggregates tool calls: count, errors, total, mean and p95 from the loop's latencies", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make()
      yield* feed(service, [
        ...toolCall("search", "c1", 0, 100),
        ...toolCall("search", "c2", 1_000, 300),
        ...toolCall("search", "c3", 2_000, 200, true),
        ...toolCall("fetch", "c4", 3_000, 50)
      ])
      const { tools, anomalies } = yield* service.getMetrics
      assert.deepStrictEqual(tools["search"], { calls: 3, errors: 1, totalMs: 600, meanMs: 200, p95Ms: 300 })
      assert.deepStrictEqual(tools["fetch"], { calls: 1, errors: 0, totalMs: 50, meanMs: 50, p95Ms: 50 })
      assert.strictEqual(anomalies.orphanEnds, 0)
    }))

  it.effect("tool durations equal the reported latency, and a 200 ms start/end pair without one measures 200 ± 5 ms", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make()
      // The loop measured 203.4 ms though the timestamps are 210 ms apart: the measurement wins.
      yield* feed(service, [
        event("tool.start", { runId: r1, timestamp: 1_000, context: { tool: "sleep", toolCallId: "a" } }),
        event("tool.end", { runId: r1, timestamp: 1_210, metrics: { latencyMs: 203.4 }, context: { tool: "sleep", toolCallId: "a" } })
      ])
      assert.strictEqual((yield* service.getMetrics).tools["sleep"]?.totalMs, 203.4)
      yield* feed(service, toolCall("timed", "b", 5_000, undefined))
      const timed = (yield* service.getMetrics).tools["timed"]
      assert.isDefined(timed)
      assert.approximately(timed?.meanMs ?? 0, 200, 5)
    }))

  it.effect("measures the dwell in each state until the next change or the run's end", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make()
      const state = (name: string, timestamp: number) => event("state.change", { runId: r1, timestamp, context: { state: name } })
      yield* feed(service, [
        event("run.start", { runId: r1, timestamp: 0 }),
        state("calling_model", 0),
        state("executing_tool", 300),
        state("calling_model", 500),
        state("validating", 900),
        state("done", 950),
        event("run.end", { runId: r1, timestamp: 960 }),
        // a circuit breaker's change is not an agent state
        event("state.change", { timestamp: 970, context: { dependency: "model", from: "closed", to: "open" } })
      ])
      const { states, anomalies } = yield* service.getMetrics
      assert.deepStrictEqual(states["calling_model"], { entries: 2, totalDwellMs: 700, meanDwellMs: 350 })
      assert.deepStrictEqual(states["executing_tool"], { entries: 1, totalDwellMs: 200, meanDwellMs: 200 })
      assert.deepStrictEqual(states["validating"], { entries: 1, totalDwellMs: 50, meanDwellMs: 50 })
      assert.deepStrictEqual(states["done"], { entries: 1, totalDwellMs: 10, meanDwellMs: 10 })
      assert.strictEqual(Object.keys(states).length, 4)
      assert.strictEqual(anomalies.pendingRuns, 0)
    }))

  it.effect("sums model tokens as reported, prices them, and computes latency percentiles", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make()
      for (let i = 1; i <= 100; i++) yield* feed(service, modelCall(i, i * 1_000, i * 10, 1_000, 500))
      const { latency } = yield* service.getLLMStats
      assert.deepStrictEqual(latency, { p50: 500, p95: 950, p99: 990 })
      yield* feed(service, modelCall(101, 200_000, 5, 7, 3, "simulated"))
      yield* feed(service, [
        event("model.request", { runId: r1, timestamp: 300_000, context: { model: "gpt-4o", step: 102 } }),
        event("model.error", {
          runId: r1,
          timestamp: 300_100,
          metrics: { latencyMs: 100 },
          result: new ActionResult.Failure({ error: "ModelTimeout", message: "timeout" }),
          context: { model: "gpt-4o", step: 102 }
        })
      ])
      const llm = yield* service.getLLMStats
      assert.strictEqual(llm.calls, 102)
      assert.strictEqual(llm.errors, 1)
      assert.strictEqual(llm.inputTokens, 100_007)
      assert.strictEqual(llm.outputTokens, 50_003)
      // 100 × (1000 × 0.15 + 500 × 0.60) / 1e6; the simulated model is free
      assert.approximately(llm.cost, 0.045, 1e-9)
      assert.strictEqual(llm.costByModel["simulated"], 0)
      assert.strictEqual(llm.lastCallAt, 300_100)
      const { session } = yield* service.getMetrics
      assert.strictEqual(session.cycles, 102)
    }))

  it("prices dated snapshots by the longest known prefix", () => {
    const prices = MonitoringConfig.defaults.prices
    assert.strictEqual(PerformanceMonitor.priceOf(prices, "gpt-4o-mini-2024-07-18")?.inputPerMillion, 0.15)
    assert.strictEqual(PerformanceMonitor.priceOf(prices, "gpt-4o-2024-08-06")?.inputPerMillion, 2.5)
    assert.strictEqual(PerformanceMonitor.costOf(prices, "scripted", 1_000_000, 1_000_000), 0)
  })

  it.effect("counts an end without a start, tolerates events out of order, and leaves nothing pending", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make()
      yield* feed(service, [
        event("tool.end", { runId: r1, timestamp: 100, metrics: { latencyMs: 40 }, context: { tool: "orphan", toolCallId: "x" } }),
        event("model.response", { runId: runId("never-started"), timestamp: 100, metrics: { tokensIn: 1 }, context: { model: "m", step: 1 } }),
        event("state.change", { runId: r1, timestamp: 500, context: { state: "calling_model" } }),
        event("state.change", { runId: r1, timestamp: 400, context: { state: "executing_tool" } }),
        event("tool.start", { runId: r1, timestamp: 900, context: { tool: "late", toolCallId: "y" } }),
        event("tool.end", { runId: r1, timestamp: 800, context: { tool: "late", toolCallId: "y" } }),
        event("run.end", { runId: r1, timestamp: 1_000 })
      ])
      const metrics = yield* service.getMetrics
      assert.strictEqual(metrics.anomalies.orphanEnds, 2)
      assert.strictEqual(metrics.anomalies.outOfOrder, 2)
      assert.strictEqual(metrics.anomalies.pendingRuns, 0)
      assert.deepStrictEqual(metrics.tools["orphan"], { calls: 1, errors: 0, totalMs: 40, meanMs: 40, p95Ms: 40 })
      assert.deepStrictEqual(metrics.tools["late"], { calls: 1, errors: 0, totalMs: 0, meanMs: 0, p95Ms: 0 })
      assert.strictEqual(metrics.states["calling_model"]?.totalDwellMs, 500)
    }))

  it.effect("keeps open state for at most maxPendingRuns runs", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make(MonitoringConfig.make({ maxPendingRuns: 3 }))
      for (let i = 0; i < 5; i++) {
        yield* service.monitor.observe(event("tool.start", { runId: runId(`r${i}`), context: { tool: "t", toolCallId: "c" } }))
      }
      const { anomalies } = yield* service.getMetrics
      assert.strictEqual(anomalies.pendingRuns, 3)
      assert.strictEqual(anomalies.evictedRuns, 2)
    }))

  it.effect("reset forgets everything and restarts the session", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make()
      yield* feed(service, [event("run.start", { runId: r1 }), ...toolCall("search", "c", 0, 10), ...modelCall(1, 0, 10, 5, 5)])
      yield* TestClock.adjust("1 minute")
      yield* service.reset
      const metrics = yield* service.getMetrics
      assert.deepStrictEqual(metrics.tools, {})
      assert.strictEqual(metrics.llm.calls, 0)
      assert.strictEqual(metrics.session.runs, 0)
      assert.strictEqual(metrics.session.startedAt, 60_000)
      assert.strictEqual(metrics.session.uptimeMs, 0)
    }))

  it.effect("exports the metrics as valid JSON, and fails with a typed error where it cannot write", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make()
      yield* feed(service, [event("run.start", { runId: r1 }), ...toolCall("search", "c", 0, 10)])
      const dir = mkdtempSync(join(tmpdir(), "patinox-monitoring-"))
      try {
        const path = join(dir, "metrics.json")
        yield* service.export(path)
        const parsed: unknown = JSON.parse(readFileSync(path, "utf8"))
        const shape = Schema.decodeUnknownSync(Schema.Struct({
          session: Schema.Struct({ runs: Schema.Number }),
          tools: Schema.Record({ key: Schema.String, value: Schema.Struct({ calls: Schema.Number }) })
        }))(parsed)
        assert.strictEqual(shape.session.runs, 1)
        assert.strictEqual(shape.tools["search"]?.calls, 1)
        const error = yield* Effect.flip(service.export(join(dir, "missing", "metrics.json")))
        assert.strictEqual(error._tag, "MetricsExportFailed")
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }))

  it.effect("summarises its status as idle, active or warning", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make(
        MonitoringConfig.make({
          memoryLimitBytes: 1_000_000_000,
          status: { errorRate: 0.2, minimumCalls: 5, p95LatencyMs: 1_000, activeWindowMs: 60_000 }
        })
      )
      const idle = yield* service.status()
      assert.deepStrictEqual(Object.keys(idle).sort(), ["lastActivity", "message", "primaryMetric", "secondaryMetric", "state"])
      assert.strictEqual(idle.state, "idle")
      assert.strictEqual(idle.lastActivity, null)
      assert.deepStrictEqual(idle.primaryMetric, { name: "memory", value: 0, limit: 1_000_000_000, unit: "bytes" })
      yield* TestClock.adjust("10 seconds")
      yield* feed(service, [event("run.start", { runId: r1, timestamp: 10_000 }), ...modelCall(1, 10_000, 100, 10, 10)])
      const active = yield* service.status()
      assert.strictEqual(active.state, "active")
      assert.strictEqual(active.lastActivity, 10_100)
      assert.deepStrictEqual(active.secondaryMetric, { name: "llmCalls", value: 1, unit: "calls" })
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual((yield* service.status()).state, "idle")
      for (let i = 0; i < 5; i++) yield* feed(service, toolCall("flaky", `f${i}`, 320_000, 10, i < 2))
      const warning = yield* service.status()
      assert.strictEqual(warning.state, "warning")
      assert.include(warning.message, "error rate")
      yield* feed(service, modelCall(2, 330_000, 5_000, 1, 1))
      assert.include((yield* service.status()).message, "p95 latency")
    }))

  it.effect("warns when the heap passes 90% of the memory limit or an alert is firing", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make(MonitoringConfig.make({ memoryLimitBytes: 1_000 }))
      const sample = (heapUsed: number, timestamp: number) =>
        event("memory.sample", { timestamp, metrics: { memoryBytes: 5_000 }, context: { heapUsed, rss: 5_000 } })
      yield* feed(service, [sample(900, 1)])
      const atLimit = yield* service.status()
      assert.strictEqual(atLimit.state, "idle")
      assert.deepStrictEqual(atLimit.primaryMetric, { name: "memory", value: 900, limit: 1_000, unit: "bytes" })
      assert.strictEqual((yield* service.status({ firingAlerts: 1 })).state, "warning")
      assert.include((yield* service.status({ firingAlerts: 2 })).message, "2 alerts firing")
      yield* feed(service, [sample(901, 2)])
      const over = yield* service.status()
      assert.strictEqual(over.state, "warning")
      assert.include(over.message, "over 90%")
    }))

  it.effect("reset empties the counters but keeps the latest heap figure", () =>
    Effect.gen(function*() {
      const service = yield* PerformanceMonitor.make(MonitoringConfig.make({ memoryLimitBytes: 10_000 }))
      yield* feed(service, [
        event("memory.sample", { timestamp: 1, context: { heapUsed: 700, rss: 900 } }),
        event("run.start", { runId: r1, timestamp: 2 }),
        ...modelCall(1, 2, 100, 10, 10)
      ])
      yield* TestClock.adjust("1 minute")
      const at = yield* service.reset
      assert.strictEqual(at, 60_000)
      const metrics = yield* service.getMetrics
      assert.strictEqual(metrics.llm.calls, 0)
      assert.strictEqual(metrics.session.runs, 0)
      assert.strictEqual(metrics.session.startedAt, 60_000)
      assert.strictEqual((yield* service.status()).primaryMetric.value, 700)
    }))

  it.effect("samples memory on a schedule from a fiber that stops with its scope", () =>
    Effect.gen(function*() {
      const memory = yield* Monitor.MemoryMonitor
      const scope = yield* Scope.make()
      yield* Scope.extend(PerformanceMonitor.memorySampler(1_000), scope)
      yield* TestClock.adjust("3 seconds")
      const samples = (yield* memory.events).filter((e) => e.type === "memory.sample")
      assert.strictEqual(samples.length, 4)
      const first = samples[0]
      assert.isAbove(first?.metrics.memoryBytes ?? 0, 1_000_000)
      assert.isAbove(Number(first?.context["heapUsed"]), 0)
      assert.isAbove(Number(first?.context["heapTotal"]), 0)
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* memory.events).filter((e) => e.type === "memory.sample").length, 4)
    }).pipe(Effect.provide(Monitor.layerMemory())))

  it.scoped("as a layer, reads the bus: what the loop reports shows up in the metrics", () =>
    Effect.gen(function*() {
      const agentId = event("run.start").agentId
      yield* Monitor.report({ type: "run.start", agentId, runId: r1 })
      yield* Monitor.report({ type: "model.request", agentId, runId: r1, context: { model: "gpt-4o", provider: "openai", step: 1 } })
      yield* Monitor.report({
        type: "model.response",
        agentId,
        runId: r1,
        metrics: { latencyMs: 120, tokensIn: 1_000_000, tokensOut: 0 },
        context: { model: "gpt-4o", provider: "openai", step: 1 }
      })
      yield* Monitor.report({ type: "run.end", agentId, runId: r1 })
      yield* TestClock.adjust(0) // the sampler's first sample is on the bus
      yield* EventBus.flush
      const metrics = yield* PerformanceMonitor.getMetrics
      assert.strictEqual(metrics.anomalies.pendingRuns, 0)
      assert.strictEqual(metrics.llm.calls, 1)
      assert.strictEqual(metrics.session.runs, 1)
      assert.strictEqual(metrics.llm.cost, 2.5)
      assert.isAtLeast(metrics.memory.samples.length, 1) // the sampler's first sample
    }).pipe(
      Effect.provide(
        PerformanceMonitor.layer(MonitoringConfig.defaults).pipe(Layer.provideMerge(EventBus.layer(MonitoringConfig.defaults)))
      )
    ))
})
