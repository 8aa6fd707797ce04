// The endpoints the dashboard reads (issue 26), over real HTTP on the real service.
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { FakeOpenAi } from "@patinox/testing"
import { ConfigProvider, Effect, Layer } from "effect"
import * as Http from "../src/Http.js"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { config, poll, post, request, startServer, startServerWithDatabase } from "./server.js"

const run = (base: string, input: string) => post(`${base}/agents/assistant/runs`, { input })
const del = (url: string) => request(url, { method: "DELETE" })
const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
const realModelAt = (baseUrl: string) =>
  Http.modelLayer({ ...config, realModel: true }).pipe(
    Layer.provide(withEnv({ OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: "sk-test-123", OPENAI_MODEL: "gpt-test" }))
  )

describe("agent detail", () => {
  it.scopedLive("describes an agent with its tools, validators and step budget; 404 for an unknown one", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const { body, status } = yield* request(`${base}/agents/assistant`)
      assert.strictEqual(status, 200)
      assert.strictEqual(body?.name, "assistant")
      assert.deepStrictEqual(body?.validators, ["circuit-breaker", "rate-limiter", "jailbreak", "hallucination"])
      assert.isAbove(Number(body?.maxSteps), 0)
      assert.includeMembers((body?.tools as ReadonlyArray<{ name: string }>).map((t) => t.name), ["calculator"])

      const missing = yield* request(`${base}/agents/nobody`)
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.body?.error, "AgentNotFound")
      assert.strictEqual(missing.body?.name, "nobody")
    }))
})

describe("readiness", () => {
  it.scopedLive("is ready with a writable store and the simulated model; 503 NotReady once the store refuses writes", () =>
    Effect.gen(function*() {
      const { database, url: base } = yield* startServerWithDatabase(SimulatedModel.layer)
      const ready = yield* request(`${base}/ready`)
      assert.strictEqual(ready.status, 200)
      assert.deepStrictEqual(ready.body, { status: "ready", checks: { store: "ok", model: "simulated" } })

      // Another connection removes the probe's table: the service's next write check fails.
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP TABLE ready_probe`).pipe(
        Effect.provide(SqliteClient.layer({ filename: database })),
        Effect.orDie
      )
      const refused = yield* request(`${base}/ready`)
      assert.strictEqual(refused.status, 503)
      assert.strictEqual(refused.body?.error, "NotReady")
      assert.deepStrictEqual(refused.body?.checks, { store: "unwritable", model: "simulated" })
      assert.include(String(refused.body?.message), "telemetry store")
    }))

  it.scopedLive("probes a real model with GET /models, reusing the answer for a few seconds", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.make()
      const base = yield* startServer(realModelAt(fake.url))
      for (let i = 0; i < 3; i++) {
        const ready = yield* request(`${base}/ready`)
        assert.deepStrictEqual(ready.body, { status: "ready", checks: { store: "ok", model: "reachable" } })
      }
      const probes = (yield* fake.requests).filter((r) => r.path === "/v1/models")
      assert.strictEqual(probes.length, 1)
    }))

  it.scopedLive("answers 503 NotReady when the model provider does not answer", () =>
    Effect.gen(function*() {
      // A port that was just free: nothing listens there.
      const gone = yield* Effect.scoped(Effect.map(FakeOpenAi.make(), (fake) => fake.url))
      const base = yield* startServer(realModelAt(gone))
      const { body, status } = yield* request(`${base}/ready`)
      assert.strictEqual(status, 503)
      assert.strictEqual(body?.error, "NotReady")
      assert.deepStrictEqual(body?.checks, { store: "ok", model: "unreachable" })
      assert.strictEqual((yield* request(`${base}/health`)).status, 200, "health is liveness: still ok")
    }))
})

describe("knowledge documents", () => {
  it.scopedLive("lists documents and deletes one, which search no longer finds; 404 for an unknown id", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const added = yield* post(`${base}/knowledge`, {
        id: "otters",
        title: "Otters",
        source: "notes",
        text: "Sea otters eat urchins. Urchins graze kelp."
      })
      assert.strictEqual(added.status, 201)
      yield* post(`${base}/knowledge`, { text: "Basalt columns stand in the west." })

      const listed = (yield* request(`${base}/knowledge`)).body as unknown as ReadonlyArray<Record<string, unknown>>
      assert.strictEqual(listed.length, 2)
      const otters = listed.find((d) => d.id === "otters")
      assert.deepInclude(otters, { title: "Otters", source: "notes", passages: 1 })
      assert.isNumber(otters?.addedAt)
      const untitled = listed.find((d) => d.id !== "otters")
      assert.deepStrictEqual(Object.keys(untitled ?? {}).sort(), ["addedAt", "id", "passages"])

      assert.strictEqual(((yield* request(`${base}/knowledge/search?q=urchins`)).body as unknown as Array<unknown>).length, 1)
      const removed = yield* del(`${base}/knowledge/otters`)
      assert.strictEqual(removed.status, 204)
      assert.isUndefined(removed.body)
      assert.deepStrictEqual((yield* request(`${base}/knowledge/search?q=urchins`)).body as unknown, [])
      assert.deepStrictEqual(
        ((yield* request(`${base}/knowledge`)).body as unknown as ReadonlyArray<{ id: string }>).map((d) => d.id),
        [untitled?.id]
      )

      const again = yield* del(`${base}/knowledge/otters`)
      assert.strictEqual(again.status, 404)
      assert.deepStrictEqual(again.body, { error: "DocumentNotFound", message: "No document with id \"otters\"", id: "otters" })
    }))
})

interface Status {
  readonly state: string
  readonly primaryMetric: { readonly name: string; readonly value: number; readonly limit: number; readonly unit: string }
  readonly secondaryMetric: { readonly name: string; readonly value: number; readonly unit: string }
  readonly lastActivity: number | null
  readonly message: string
}

interface Bucket {
  readonly t: number
  readonly runs: number
  readonly failedRuns: number
  readonly llmCalls: number
  readonly toolCalls: number
  readonly decisions: { readonly approved: number }
}

describe("monitoring endpoints", () => {
  it.scopedLive("status, reset and export: the heap against its limit, counters emptied, a JSON download", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer, JSON.stringify({ monitoring: { memoryLimitBytes: 1e12 } }))
      assert.strictEqual((yield* run(base, "What is 2 + 2?")).status, 200)
      const status = yield* poll<Status>(`${base}/monitoring/status`, (s) => s.secondaryMetric.value > 0)
      assert.strictEqual(status.state, "active")
      assert.deepInclude(status.primaryMetric, { name: "memory", limit: 1e12, unit: "bytes" })
      assert.isAbove(status.primaryMetric.value, 0)
      assert.deepStrictEqual(status.secondaryMetric, { name: "llmCalls", value: 2, unit: "calls" })
      assert.isNumber(status.lastActivity)

      const exported = yield* Effect.promise(() => fetch(`${base}/monitoring/export`))
      assert.strictEqual(exported.status, 200)
      assert.match(exported.headers.get("content-type") ?? "", /^application\/json/)
      const disposition = exported.headers.get("content-disposition") ?? ""
      const match = /^attachment; filename="patinox-metrics-(\d+)\.json"$/.exec(disposition)
      assert.isNotNull(match, disposition)
      const file = (yield* Effect.promise(() => exported.json())) as { exportedAt: number; llm: { calls: number } }
      assert.strictEqual(String(file.exportedAt), match?.[1])
      assert.strictEqual(file.llm.calls, 2)

      const reset = yield* post(`${base}/monitoring/reset`, "")
      assert.strictEqual(reset.status, 200)
      assert.strictEqual(reset.body?.reset, true)
      assert.isNumber(reset.body?.at)
      const metrics = (yield* request(`${base}/monitoring/metrics`)).body as unknown as {
        llm: { calls: number }
        tools: Record<string, unknown>
        session: { startedAt: number }
      }
      assert.strictEqual(metrics.llm.calls, 0)
      assert.deepStrictEqual(metrics.tools, {})
      assert.strictEqual(metrics.session.startedAt, reset.body?.at)
      const after = (yield* request(`${base}/monitoring/status`)).body as unknown as Status
      assert.strictEqual(after.secondaryMetric.value, 0)
      assert.isAbove(after.primaryMetric.value, 0, "the heap figure survives a reset")

      const wrongMethod = yield* request(`${base}/monitoring/reset`)
      assert.strictEqual(wrongMethod.status, 405)
    }))

  it.scopedLive("a firing alert makes the status warning, is acknowledged yet stays active; unknown ids are 404", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer, JSON.stringify({
        monitoring: {
          alerts: {
            evaluationIntervalMs: 50,
            windowMs: 60_000,
            rules: [{
              name: "calculator-failing",
              metric: "tool.error_rate",
              subject: "calculator",
              comparison: ">",
              threshold: 0.5,
              forMs: 0,
              severity: "critical",
              actions: ["log"]
            }]
          }
        }
      }))
      assert.strictEqual((yield* run(base, "What is 1 / 0?")).status, 200)
      type Alerts = { active: ReadonlyArray<Record<string, unknown>>; history: ReadonlyArray<Record<string, unknown>> }
      const fired = yield* poll<Alerts>(`${base}/monitoring/alerts`, (a) => a.active.length > 0)
      const alert = fired.active[0]
      assert.strictEqual(alert?.rule, "calculator-failing")
      assert.strictEqual(alert?.acknowledged, false)
      assert.isString(alert?.id)
      assert.deepStrictEqual(fired.history.map((h) => [h.id, h.status]), [[alert?.id, "firing"]])
      const warning = (yield* request(`${base}/monitoring/status`)).body
      assert.strictEqual(warning?.state, "warning")
      assert.include(String(warning?.message), "1 alert firing")

      const acknowledged = yield* post(`${base}/monitoring/alerts/${alert?.id}/acknowledge`, "")
      assert.strictEqual(acknowledged.status, 200)
      assert.strictEqual(acknowledged.body?.acknowledged, true)
      assert.isNumber(acknowledged.body?.acknowledgedAt)
      const still = (yield* request(`${base}/monitoring/alerts`)).body as unknown as Alerts
      assert.deepStrictEqual(still.active as unknown, [acknowledged.body])
      assert.strictEqual((yield* request(`${base}/monitoring/status`)).body?.state, "warning", "acknowledged still warns")

      const unknown = yield* post(`${base}/monitoring/alerts/no-such-alert/acknowledge`, "")
      assert.strictEqual(unknown.status, 404)
      assert.deepStrictEqual(unknown.body, { error: "AlertNotFound", message: "No active alert with id \"no-such-alert\"", id: "no-such-alert" })
    }))

  it.scopedLive("timeseries counts the runs of the window per bucket; too many buckets or a bad size are 400", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      assert.strictEqual((yield* run(base, "What is 17 + 25?")).status, 200)
      type Series = { window: { since: number; until: number }; bucketMs: number; buckets: ReadonlyArray<Bucket> }
      const url = `${base}/telemetry/timeseries?windowMs=600000&bucketMs=60000`
      // The sink writes about once a second.
      const series = yield* poll<Series>(url, (s) => s.buckets.some((b) => b.runs > 0 && b.toolCalls > 0))
      assert.strictEqual(series.bucketMs, 60_000)
      assert.strictEqual(series.window.until - series.window.since, 600_000)
      assert.include([10, 11], series.buckets.length)
      for (const [i, bucket] of series.buckets.entries()) {
        assert.strictEqual(bucket.t % 60_000, 0)
        if (i > 0) assert.strictEqual(bucket.t - (series.buckets[i - 1]?.t ?? 0), 60_000)
      }
      const total = (key: "runs" | "failedRuns" | "llmCalls" | "toolCalls") =>
        series.buckets.reduce((sum, b) => sum + b[key], 0)
      assert.strictEqual(total("runs"), 1)
      assert.strictEqual(total("failedRuns"), 0)
      assert.strictEqual(total("llmCalls"), 2)
      assert.strictEqual(total("toolCalls"), 1)
      assert.isAbove(series.buckets.reduce((sum, b) => sum + b.decisions.approved, 0), 0)

      const defaults = (yield* request(`${base}/telemetry/timeseries`)).body as unknown as Series
      assert.strictEqual(defaults.bucketMs, 60_000, "one hour in 60 buckets")

      const tooMany = yield* request(`${base}/telemetry/timeseries?windowMs=86400000&bucketMs=1`)
      assert.strictEqual(tooMany.status, 400)
      assert.strictEqual(tooMany.body?.error, "InvalidRequest")
      assert.include(String(tooMany.body?.message), "buckets")
      const zero = yield* request(`${base}/telemetry/timeseries?bucketMs=0`)
      assert.strictEqual(zero.status, 400)
      assert.strictEqual(zero.body?.error, "InvalidRequest")
      const notNumber = yield* request(`${base}/telemetry/timeseries?windowMs=soon`)
      assert.strictEqual(notNumber.status, 400)
    }))
})
