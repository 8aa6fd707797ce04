import { assert, describe, it } from "@effect/vitest"
import { ActionResult, Ids } from "@patinox/core"
import { Effect, Layer } from "effect"
import * as ErrorMonitor from "../src/ErrorMonitor.js"
import * as EventBus from "../src/EventBus.js"
import * as Monitoring from "../src/Monitoring.js"
import * as MonitoringConfig from "../src/MonitoringConfig.js"
import * as UsageMonitor from "../src/UsageMonitor.js"
import { event, runId } from "./events.js"

const failure = (error: string) => new ActionResult.Failure({ error, message: error })

describe("ErrorMonitor", () => {
  it.effect("finds error rates per tool and model, repeated error tags and bursts", () =>
    Effect.gen(function*() {
      const service = yield* ErrorMonitor.make({ burstCount: 4, burstWindowMs: 1_000 })
      const r = runId("e1")
      for (let i = 0; i < 10; i++) {
        const failed = i < 4
        yield* service.monitor.observe(event(failed ? "tool.error" : "tool.end", {
          runId: r,
          timestamp: i * 100,
          context: { tool: "search" },
          ...(failed ? { result: failure("ToolTimeout") } : {})
        }))
      }
      for (let i = 0; i < 5; i++) yield* service.monitor.observe(event("model.response", { runId: r, context: { model: "m" } }))
      const patterns = yield* service.monitor.analyze
      const rate = patterns.find((p) => p.kind === "error_rate")
      assert.deepStrictEqual(rate, {
        kind: "error_rate",
        subject: "tool:search",
        severity: "warning",
        evidence: { calls: 10, errors: 4 },
        value: 0.4
      })
      assert.isUndefined(patterns.find((p) => p.subject === "model:m"))
      assert.strictEqual(patterns.find((p) => p.kind === "repeated_error")?.subject, "error:ToolTimeout")
      const burst = patterns.find((p) => p.kind === "error_burst")
      assert.strictEqual(burst?.value, 4)
      assert.strictEqual((yield* service.tags).get("ToolTimeout"), 4)
    }))
})

describe("UsageMonitor", () => {
  it.effect("finds runs per agent, tools and tokens per run, and the peak hour", () =>
    Effect.gen(function*() {
      const service = yield* UsageMonitor.make()
      const agentId = Ids.AgentId.make("usage-agent")
      const hour = 3_600_000
      for (let i = 0; i < 3; i++) {
        const r = runId(`u${i}`)
        const at = (i < 2 ? 14 : 9) * hour
        yield* service.monitor.observe(event("run.start", { agentId, runId: r, timestamp: at }))
        yield* service.monitor.observe(event("tool.start", { agentId, runId: r, timestamp: at }))
        yield* service.monitor.observe(event("tool.start", { agentId, runId: r, timestamp: at }))
        yield* service.monitor.observe(event("model.response", { agentId, runId: r, timestamp: at, metrics: { tokensIn: 100, tokensOut: 50 } }))
        yield* service.monitor.observe(event("run.end", { agentId, runId: r, timestamp: at }))
      }
      const patterns = yield* service.monitor.analyze
      const of = (kind: string) => patterns.find((p) => p.kind === kind)
      assert.strictEqual(of("runs_per_agent")?.value, 3)
      assert.strictEqual(of("tools_per_run")?.value, 2)
      assert.strictEqual(of("tokens_per_run")?.value, 150)
      assert.strictEqual(of("peak_hour")?.subject, "hour:14")
      assert.strictEqual(of("peak_hour")?.value, 2)
    }))
})

describe("Monitoring", () => {
  it.scoped("wires every monitor on one bus and gathers their patterns", () =>
    Effect.gen(function*() {
      const monitoring = yield* Monitoring.Monitoring
      const bus = yield* EventBus.EventBus
      assert.deepStrictEqual(monitoring.monitors.map((m) => m.name), ["performance", "errors", "usage", "metrics", "alerts"])
      for (let i = 0; i < 6; i++) {
        yield* bus.publish(event("tool.error", { runId: runId("m1"), context: { tool: "wired" }, result: failure("Boom") }))
      }
      yield* bus.flush
      const patterns = yield* monitoring.patterns
      assert.strictEqual(patterns.find((p) => p.kind === "error_rate")?.monitor, "errors")
      assert.strictEqual((yield* monitoring.reports).length, 5)
    }).pipe(Effect.provide(Layer.fresh(Monitoring.layer(MonitoringConfig.make({ dataDir: "." }))))))
})
