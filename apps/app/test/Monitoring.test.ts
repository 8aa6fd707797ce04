import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { post, request, startServer } from "./server.js"

const run = (base: string, input: string) => post(`${base}/agents/assistant/runs`, { input })

describe("monitoring in the running service", () => {
  it.scopedLive("shows GenAI metrics at /metrics and keeps every run's events in SQLite", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      for (const input of ["What is 17 + 25?", "What is 6 * 7?", "What time is it?"]) {
        assert.strictEqual((yield* run(base, input)).status, 200)
      }
      const metrics = yield* Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text()))
      assert.match(metrics, /gen_ai_client_token_usage_bucket\{.*gen_ai_token_type="input"/)
      assert.match(metrics, /gen_ai_client_operation_duration_bucket\{/)
      assert.match(metrics, /patinox_agent_actions_total\{/)
      assert.match(metrics, /patinox_validator_decisions_total\{.*validator="jailbreak"/)
      assert.match(metrics, /patinox_tool_duration_seconds_bucket\{.*tool="calculator"/)

      // the sink flushes at least once a second, once its write thread has started (about 0.5-1 s)
      const storedRuns = request(`${base}/runs`).pipe(
        Effect.map((response) => response.body as unknown as ReadonlyArray<{ runId: string; status: string }>)
      )
      let runs = yield* storedRuns
      for (let i = 0; i < 150 && runs.length < 3; i++) {
        yield* Effect.sleep("100 millis")
        runs = yield* storedRuns
      }
      assert.strictEqual(runs.length, 3)
      assert.isTrue(runs.every((r) => r.status === "succeeded"))
      // The run's stored events, as its trace: the tool call, the model calls and every stage's decisions.
      const trace = (yield* request(`${base}/runs/${runs[0]?.runId}`)).body as unknown as {
        steps: ReadonlyArray<{ model?: { name: string }; toolCalls: ReadonlyArray<{ status: string }>; decisions: ReadonlyArray<{ stage: string }> }>
        decisions: ReadonlyArray<{ stage: string }>
      }
      assert.isTrue(trace.steps.every((s) => s.model?.name === "patinox-simulated"), "stored model calls")
      assert.deepStrictEqual(trace.steps.flatMap((s) => s.toolCalls.map((c) => c.status)), ["ok"])
      const stages = new Set([...trace.decisions, ...trace.steps.flatMap((s) => s.decisions)].map((d) => d.stage))
      for (const stage of ["user_input", "model_request", "tool_call", "tool_result", "final_answer"]) {
        assert.isTrue(stages.has(stage), `stored decisions include ${stage}`)
      }
      const summary = (yield* request(`${base}/telemetry/summary`)).body as { toolLatency: ReadonlyArray<{ key: string; count: number }> }
      assert.strictEqual(summary.toolLatency.find((t) => t.key === "calculator")?.count, 2)

      const perf = (yield* request(`${base}/monitoring/metrics`)).body as { tools: Record<string, { calls: number }>; llm: { calls: number } }
      assert.strictEqual(perf.tools["calculator"]?.calls, 2)
      assert.strictEqual(perf.llm.calls, 6)
      const status = (yield* request(`${base}/monitoring/status`)).body
      assert.deepStrictEqual(Object.keys(status ?? {}).sort(), ["lastActivity", "message", "primaryMetric", "secondaryMetric", "state"])
    }))

  it.scopedLive("fires an alert on a tool's errors, disables the tool until a person re-enables it, and resolves", () =>
    Effect.gen(function*() {
      const config = JSON.stringify({
        monitoring: {
          alerts: {
            evaluationIntervalMs: 50,
            windowMs: 1000,
            rules: [{
              name: "calculator-failing",
              metric: "tool.error_rate",
              subject: "calculator",
              comparison: ">",
              threshold: 0.5,
              forMs: 0,
              severity: "critical",
              actions: ["log", "disable_tool"]
            }]
          }
        }
      })
      const base = yield* startServer(SimulatedModel.layer, config)
      const failing = yield* run(base, "What is 1 / 0?")
      assert.strictEqual(failing.status, 200, JSON.stringify(failing.body))
      assert.include(String(failing.body?.answer), "division by zero")
      yield* Effect.sleep("300 millis")

      const fired = (yield* request(`${base}/monitoring/alerts`)).body as { active: ReadonlyArray<{ rule: string }> }
      assert.deepStrictEqual(fired.active.map((a) => a.rule), ["calculator-failing"])
      const disabled = (yield* request(`${base}/tools/disabled`)).body
      assert.property(disabled, "calculator")

      const refused = yield* run(base, "What is 2 + 2?")
      const toolStep = (refused.body?.steps as ReadonlyArray<{ _tag: string; output?: string }>).find((s) => s._tag === "ToolStep")
      assert.include(String(toolStep?.output), "is disabled")

      // no calculator calls in the window any more: the alert resolves, but the tool stays off
      yield* Effect.sleep("1500 millis")
      const after = (yield* request(`${base}/monitoring/alerts`)).body as {
        active: ReadonlyArray<unknown>
        history: ReadonlyArray<{ rule: string; status: string }>
      }
      assert.strictEqual(after.active.length, 0)
      assert.deepStrictEqual(after.history.map((h) => h.status), ["firing", "resolved"])
      assert.property((yield* request(`${base}/tools/disabled`)).body, "calculator")

      const enabled = yield* post(`${base}/tools/calculator/enable`, "")
      assert.deepStrictEqual(enabled.body, { tool: "calculator", enabled: true })
      const works = yield* run(base, "What is 2 + 2?")
      assert.strictEqual(works.body?.answer, "2 + 2 = 4")
      const again = yield* post(`${base}/tools/calculator/enable`, "")
      assert.strictEqual(again.status, 404)
    }))
})
