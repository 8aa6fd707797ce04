import { assert, describe, it } from "@effect/vitest"
import { ActionResult, Ids, Monitor } from "@patinox/core"
import { Chunk, Effect, Layer, Queue, TestClock } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Alerts from "../src/Alerts.js"
import * as EventBus from "../src/EventBus.js"
import * as MonitoringConfig from "../src/MonitoringConfig.js"
import * as ToolSwitch from "../src/ToolSwitch.js"
import { event, runId } from "./events.js"

const agentId = Ids.AgentId.make("alerts-agent")
const r = runId("alerts-run")

const toolOutcome = (tool: string, failed: boolean) =>
  Monitor.report({
    type: failed ? "tool.error" : "tool.end",
    agentId,
    runId: r,
    metrics: { latencyMs: 10 },
    context: { tool, toolCallId: "c" },
    ...(failed ? { result: new ActionResult.Failure({ error: "ToolFailed", message: "boom" }) } : {})
  })

const alertsWith = (input: MonitoringConfig.MonitoringConfigInput) => {
  const config = MonitoringConfig.make(input)
  return Alerts.layer(config).pipe(
    Layer.provideMerge(ToolSwitch.layer),
    Layer.provideMerge(EventBus.layer(config))
  )
}

const historyOf = Effect.flatMap(Alerts.Alerts, (alerts) => alerts.history)

/** Lets every forked fiber run until it waits (TestClock waits for them before moving time). */
const settle = TestClock.adjust(0)

const observedOf = (alerts: Alerts.Service) =>
  Effect.zipRight(EventBus.flush, Effect.map(alerts.monitor.report, (rep) => rep.observed))

/** A local HTTP server answering with `statuses` in turn (then 200), recording request bodies. */
const server = (statuses: ReadonlyArray<number>) =>
  Effect.acquireRelease(
    Effect.async<{ url: string; bodies: Array<string>; close: () => void }>((resume) => {
      const bodies: Array<string> = []
      const http = createServer((req: IncomingMessage, res: ServerResponse) => {
        let body = ""
        req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
        req.on("end", () => {
          const status = statuses[bodies.length] ?? 200
          bodies.push(body)
          res.writeHead(status, { "content-type": "application/json" }).end("{}")
        })
      })
      http.listen(0, "127.0.0.1", () => {
        const { port } = http.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/hook`, bodies, close: () => http.close() }))
      })
    }),
    (s) => Effect.sync(() => s.close())
  )

describe("Alerts", () => {
  it.scoped("fires after the condition held for forMs, disables the tool, and resolves when back under", () =>
    Effect.gen(function*() {
      const alerts = yield* Alerts.Alerts
      const toolSwitch = yield* ToolSwitch.ToolSwitch
      const watch = yield* EventBus.subscribe
      for (let i = 0; i < 4; i++) yield* toolOutcome("search", i < 3)
      yield* toolOutcome("fetch", false)
      assert.strictEqual(yield* observedOf(alerts), 5)

      yield* TestClock.adjust("1 second") // first evaluation: breaching since t=1s
      assert.deepStrictEqual(yield* alerts.active, [])
      yield* TestClock.adjust("4 seconds") // held 4 s of 5
      assert.deepStrictEqual(yield* historyOf, [])
      yield* TestClock.adjust("1 second") // held 5 s: fires
      yield* settle
      const fired = yield* historyOf
      assert.strictEqual(fired.length, 1)
      assert.strictEqual(fired[0]?.status, "firing")
      assert.strictEqual(fired[0]?.subject, "search")
      assert.strictEqual(fired[0]?.value, 0.75)
      assert.strictEqual(fired[0]?.since, 1_000)
      assert.strictEqual(fired[0]?.at, 6_000)
      assert.strictEqual((yield* alerts.active).length, 1)
      assert.isTrue(yield* toolSwitch.isDisabled("search"))
      assert.isFalse(yield* toolSwitch.isDisabled("fetch"))
      assert.include((yield* toolSwitch.disabled).get("search"), "tool-errors")

      // Healthy calls bring the rate under the threshold: resolved, but the tool stays off.
      for (let i = 0; i < 10; i++) yield* toolOutcome("search", false)
      assert.strictEqual(yield* observedOf(alerts), 16, "and its own alert.firing event")
      yield* TestClock.adjust("1 second")
      yield* settle
      const resolved = yield* historyOf
      assert.strictEqual(resolved.length, 2)
      assert.strictEqual(resolved[1]?.status, "resolved")
      assert.deepStrictEqual(yield* alerts.active, [])
      assert.isTrue(yield* toolSwitch.isDisabled("search"))
      assert.isTrue(yield* toolSwitch.enable("search"))
      assert.isFalse(yield* toolSwitch.isDisabled("search"))

      const types = Chunk.toReadonlyArray(yield* Queue.takeAll(watch)).map((e) => e.type)
      assert.includeMembers(types, ["alert.firing", "alert.resolved"])
    }).pipe(Effect.provide(alertsWith({
      alerts: {
        evaluationIntervalMs: 1_000,
        rules: [{
          name: "tool-errors",
          metric: "tool.error_rate",
          subject: "*",
          comparison: ">",
          threshold: 0.5,
          forMs: 5_000,
          severity: "critical",
          actions: ["log", "disable_tool"]
        }]
      }
    }))))

  it.scoped("resolves when the window no longer holds data for the subject", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 2; i++) yield* toolOutcome("slow", true)
      const alerts = yield* Alerts.Alerts
      assert.strictEqual(yield* observedOf(alerts), 2)
      yield* TestClock.adjust("1 second")
      yield* settle
      const fired = yield* historyOf
      assert.strictEqual(fired.length, 1)
      assert.strictEqual(fired[0]?.subject, "all")
      yield* TestClock.adjust("10 seconds")
      yield* settle
      const history = yield* historyOf
      assert.strictEqual(history.length, 2)
      assert.strictEqual(history[1]?.status, "resolved")
      assert.isUndefined(history[1]?.value)
    }).pipe(Effect.provide(alertsWith({
      alerts: {
        evaluationIntervalMs: 1_000,
        windowMs: 5_000,
        rules: [{ name: "any-errors", metric: "tool.error_rate", comparison: ">=", threshold: 0.5 }]
      }
    }))))

  it.scoped("an acknowledged alert stays active until it resolves; firing again gives a new id", () =>
    Effect.gen(function*() {
      const alerts = yield* Alerts.Alerts
      for (let i = 0; i < 2; i++) yield* toolOutcome("slow", true)
      assert.strictEqual(yield* observedOf(alerts), 2)
      yield* TestClock.adjust("1 second")
      yield* settle
      const [first] = yield* alerts.active
      assert.isDefined(first)
      assert.isFalse(first?.acknowledged)
      assert.notProperty(first, "acknowledgedAt")

      yield* TestClock.adjust("500 millis")
      const acknowledged = yield* alerts.acknowledge(first?.id ?? "")
      assert.deepStrictEqual(acknowledged, { ...first, acknowledged: true, acknowledgedAt: 1_500 })
      yield* TestClock.adjust("200 millis")
      assert.strictEqual((yield* alerts.acknowledge(first?.id ?? "")).acknowledgedAt, 1_500, "the first time stays")
      assert.deepStrictEqual(yield* alerts.active, [acknowledged])

      const unknown = yield* Effect.flip(alerts.acknowledge("no-such-alert"))
      assert.strictEqual(unknown._tag, "AlertNotFound")

      yield* TestClock.adjust("10 seconds") // no data left in the window: resolved
      yield* settle
      assert.deepStrictEqual(yield* alerts.active, [])
      const history = yield* historyOf
      assert.deepStrictEqual(history.map((h) => [h.id, h.status]), [[first?.id, "firing"], [first?.id, "resolved"]])
      assert.strictEqual((yield* Effect.flip(alerts.acknowledge(first?.id ?? "")))._tag, "AlertNotFound")

      for (let i = 0; i < 2; i++) yield* toolOutcome("slow", true)
      assert.strictEqual(yield* observedOf(alerts), 6, "the two outcomes and the alert's own two events")
      yield* TestClock.adjust("1 second")
      yield* settle
      const [again] = yield* alerts.active
      assert.isDefined(again)
      assert.notStrictEqual(again?.id, first?.id)
      assert.isFalse(again?.acknowledged)
    }).pipe(Effect.provide(alertsWith({
      alerts: {
        evaluationIntervalMs: 1_000,
        windowMs: 5_000,
        rules: [{ name: "any-errors", metric: "tool.error_rate", comparison: ">=", threshold: 0.5 }]
      }
    }))))

  it.scoped("keeps in its window only the outcomes a rule reads: none without rules", () =>
    Effect.gen(function*() {
      const modelOutcome = Monitor.report({
        type: "model.response",
        agentId,
        runId: r,
        metrics: { latencyMs: 20 },
        context: { model: "m" }
      })
      const windowAfter = (layer: ReturnType<typeof alertsWith>) =>
        Effect.gen(function*() {
          for (let i = 0; i < 3; i++) yield* toolOutcome("t", false)
          for (let i = 0; i < 2; i++) yield* modelOutcome
          const alerts = yield* Alerts.Alerts
          yield* EventBus.flush
          const report = yield* alerts.monitor.report
          assert.strictEqual(report.observed, 5)
          return report.summary["window"]
        }).pipe(Effect.scoped, Effect.provide(layer))
      const rule = (metric: MonitoringConfig.AlertMetric) => ({ name: metric, metric, comparison: ">" as const, threshold: 1e9 })
      assert.deepStrictEqual(yield* windowAfter(alertsWith({})), { tools: 0, models: 0 })
      assert.deepStrictEqual(yield* windowAfter(alertsWith({ alerts: { rules: [rule("llm.p95_ms")] } })), { tools: 0, models: 2 })
      assert.deepStrictEqual(yield* windowAfter(alertsWith({ alerts: { rules: [rule("tool.error_rate")] } })), { tools: 3, models: 0 })
      assert.deepStrictEqual(
        yield* windowAfter(alertsWith({ alerts: { rules: [rule("tool.p95_ms"), rule("llm.error_rate")] } })),
        { tools: 3, models: 2 }
      )
    }))

  it.scoped("alerts on process memory and on events the bus dropped", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus.EventBus
      const alerts = yield* Alerts.Alerts
      yield* EventBus.subscribe // a subscriber that never reads: the bus fills up
      yield* Monitor.report({ type: "memory.sample", agentId, metrics: { memoryBytes: 200 * 1024 * 1024 }, context: { rss: 200 * 1024 * 1024 } })
      assert.strictEqual(yield* observedOf(alerts), 1)
      yield* TestClock.adjust("1 second")
      for (let i = 0; i < 20; i++) yield* bus.publish(event("tool.start", { timestamp: 1_000 }))
      assert.isAbove(yield* bus.dropped, 0)
      yield* TestClock.adjust("1 second")
      yield* settle
      const history = yield* historyOf
      assert.deepStrictEqual(history.map((h) => h.rule).sort(), ["dropping", "memory"])
    }).pipe(Effect.provide(alertsWith({
      bus: { capacity: 8 },
      alerts: {
        evaluationIntervalMs: 1_000,
        rules: [
          { name: "memory", metric: "process.rss_mb", comparison: ">", threshold: 100 },
          { name: "dropping", metric: "monitoring.dropped", comparison: ">", threshold: 0 }
        ]
      }
    }))))

  it.live("delivers a webhook, retrying until the server answers 200", () =>
    Effect.gen(function*() {
      const hook = yield* server([500, 503])
      yield* Alerts.deliverWebhook(hook.url, { alert: "x", status: "firing" }, { retries: 3, baseDelayMs: 10, timeoutMs: 2_000 })
      assert.strictEqual(hook.bodies.length, 3)
      assert.deepStrictEqual(JSON.parse(hook.bodies[2] ?? ""), { alert: "x", status: "firing" })
    }).pipe(Effect.scoped))

  it.live("gives up with a typed error when the retries are spent", () =>
    Effect.gen(function*() {
      const hook = yield* server([500, 500, 500])
      const error = yield* Effect.flip(
        Alerts.deliverWebhook(hook.url, { alert: "x" }, { retries: 1, baseDelayMs: 5, timeoutMs: 2_000 })
      )
      assert.strictEqual(error._tag, "WebhookFailed")
      assert.strictEqual(error.status, 500)
      assert.strictEqual(hook.bodies.length, 2)
    }).pipe(Effect.scoped))

  it.live("posts the alert to its webhook action when it fires", () =>
    Effect.gen(function*() {
      const hook = yield* server([502])
      const config = MonitoringConfig.make({
        alerts: {
          evaluationIntervalMs: 20,
          webhook: { retries: 2, baseDelayMs: 10, timeoutMs: 2_000 },
          rules: [{ name: "hook", metric: "tool.error_rate", comparison: ">", threshold: 0, actions: [{ webhook: hook.url }] }]
        }
      })
      yield* Effect.gen(function*() {
        yield* toolOutcome("search", true)
        yield* Effect.sleep("20 millis").pipe(
          Effect.repeat({ until: () => hook.bodies.length >= 2 }),
          Effect.timeout("5 seconds")
        )
      }).pipe(Effect.provide(Alerts.layer(config).pipe(Layer.provideMerge(ToolSwitch.layer), Layer.provideMerge(EventBus.layer(config)))))
      assert.isAtLeast(hook.bodies.length, 2)
      const body: unknown = JSON.parse(hook.bodies[1] ?? "")
      assert.deepInclude(body, { status: "firing", rule: "hook", subject: "all", value: 1 })
    }).pipe(Effect.scoped))
})
