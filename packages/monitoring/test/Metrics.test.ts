import { assert, describe, it } from "@effect/vitest"
import { ActionResult, Decision } from "@patinox/core"
import { Effect, Layer, Metric } from "effect"
import * as EventBus from "../src/EventBus.js"
import * as Metrics from "../src/Metrics.js"
import * as MonitoringConfig from "../src/MonitoringConfig.js"
import { event, runId } from "./events.js"

const r = runId("metrics-run")

const withTags = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, tags: Record<string, string>) =>
  Object.entries(tags).reduce((m, [k, v]) => Metric.tagged(m, k, v), metric)

describe("Metrics", () => {
  it.effect("records GenAI token usage and operation duration with the semconv attributes", () =>
    Effect.gen(function*() {
      const { monitor } = yield* Metrics.make()
      const context = { model: "metrics-model-a", provider: "openai", step: 1, requestId: "q1" }
      yield* monitor.observe(event("model.request", { runId: r, context }))
      yield* monitor.observe(event("model.response", { runId: r, metrics: { latencyMs: 250, tokensIn: 120, tokensOut: 30 }, context }))
      yield* monitor.observe(event("model.error", {
        runId: r,
        metrics: { latencyMs: 1_500 },
        result: new ActionResult.Failure({ error: "ModelTimeout", message: "slow" }),
        context: { ...context, step: 2, requestId: "q2" }
      }))
      const common = { "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "metrics-model-a" }
      const input = yield* Metric.value(withTags(Metrics.tokenUsage, {
        ...common,
        "gen_ai.response.model": "metrics-model-a",
        "gen_ai.token.type": "input"
      }))
      assert.strictEqual(input.count, 1)
      assert.strictEqual(input.sum, 120)
      const output = yield* Metric.value(withTags(Metrics.tokenUsage, {
        ...common,
        "gen_ai.response.model": "metrics-model-a",
        "gen_ai.token.type": "output"
      }))
      assert.strictEqual(output.sum, 30)
      const ok = yield* Metric.value(withTags(Metrics.operationDuration, { ...common, "gen_ai.response.model": "metrics-model-a" }))
      assert.strictEqual(ok.count, 1)
      assert.strictEqual(ok.sum, 0.25)
      const failed = yield* Metric.value(withTags(Metrics.operationDuration, { ...common, "error.type": "ModelTimeout" }))
      assert.strictEqual(failed.count, 1)
      assert.strictEqual(failed.sum, 1.5)
    }))

  it("uses the GenAI semconv bucket boundaries", () => {
    assert.strictEqual(Metrics.tokenBoundaries.values[0], 1)
    assert.strictEqual(Metrics.tokenBoundaries.values[13], 67108864)
    assert.strictEqual(Metrics.durationBoundaries.values[0], 0.01)
    assert.strictEqual(Metrics.durationBoundaries.values[13], 81.92)
    assert.strictEqual(Metrics.durationBoundaries.values[14], Number.POSITIVE_INFINITY)
  })

  it.effect("counts actions, tool durations, validator decisions and circuit breaker states", () =>
    Effect.gen(function*() {
      const { monitor } = yield* Metrics.make()
      const agentId = event("run.start", {}).agentId
      yield* monitor.observe(event("run.start", { runId: r, agentId }))
      yield* monitor.observe(event("tool.start", { runId: r, context: { tool: "metrics-tool" } }))
      yield* monitor.observe(event("tool.end", { runId: r, metrics: { latencyMs: 200 }, context: { tool: "metrics-tool" } }))
      yield* monitor.observe(event("tool.error", { runId: r, metrics: { latencyMs: 50 }, context: { tool: "metrics-tool", error: "ToolTimeout" } }))
      yield* monitor.observe(event("validation.decision", {
        runId: r,
        metrics: {
          decisions: [new Decision.DecisionRecord({ validator: "metrics-validator", stage: "user_input", decision: "rejected", latencyMs: 1 })]
        }
      }))
      yield* monitor.observe(event("state.change", { context: { dependency: "metrics-dep", from: "closed", to: "open" } }))
      const starts = yield* Metric.value(withTags(Metrics.agentActions, { type: "tool.start", agent: agentId }))
      assert.isAtLeast(starts.count, 1)
      const tool = yield* Metric.value(withTags(Metrics.toolDuration, { tool: "metrics-tool" }))
      assert.strictEqual(tool.count, 1)
      assert.strictEqual(tool.sum, 0.2)
      const toolError = yield* Metric.value(withTags(Metrics.toolDuration, { tool: "metrics-tool", "error.type": "ToolTimeout" }))
      assert.strictEqual(toolError.count, 1)
      const decisions = yield* Metric.value(withTags(Metrics.validatorDecisions, {
        validator: "metrics-validator",
        decision: "rejected",
        stage: "user_input"
      }))
      assert.strictEqual(decisions.count, 1)
      const circuit = yield* Metric.value(Metric.tagged(Metrics.circuitBreakerState, "dependency", "metrics-dep"))
      assert.strictEqual(circuit.value, 2)
    }))

  it.scoped("as a layer, updates the metrics from the bus", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus.EventBus
      yield* bus.publish(event("tool.end", { runId: r, metrics: { latencyMs: 10 }, context: { tool: "metrics-layer-tool" } }))
      yield* bus.flush
      const state = yield* Metric.value(Metric.tagged(Metrics.toolDuration, "tool", "metrics-layer-tool"))
      assert.strictEqual(state.count, 1)
    }).pipe(Effect.provide(Metrics.layer().pipe(Layer.provideMerge(EventBus.layer(MonitoringConfig.defaults))))))
})
