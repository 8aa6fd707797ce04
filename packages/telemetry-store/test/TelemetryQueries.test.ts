import { assert, describe, it } from "@effect/vitest"
import { ActionResult, AgentAction, Ids, Usage } from "@patinox/core"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Migrations, TelemetryQueries, TelemetrySink } from "@patinox/telemetry-store"
import { Effect, Layer } from "effect"
import { decision, event, modelResponse, sqlite, tempFile, toolEnd } from "./fixtures.js"

const HOUR = 3_600_000
const NOW = 100 * HOUR
const inWindow = (i: number) => NOW - HOUR + i
const window = { since: NOW - HOUR, until: NOW }

const run = (runId: string, start: number, end: "run.end" | "run.error" | undefined, agentId = "agent-1") => {
  const base = { runId: Ids.RunId.make(runId), agentId: Ids.AgentId.make(agentId) }
  const events: Array<TelemetryEvent> = [
    event({ ...base, timestamp: start, type: "run.start", action: new AgentAction.UserInput({ input: "hi" }), context: {} })
  ]
  if (end === "run.end") {
    events.push(event({
      ...base,
      timestamp: start + 50,
      type: "run.end",
      result: new ActionResult.Answer({ content: "done", steps: 1, usage: new Usage.Usage({ inputTokens: 10, outputTokens: 5 }) }),
      metrics: { latencyMs: 50, tokensIn: 10, tokensOut: 5 },
      context: {}
    }))
  }
  if (end === "run.error") {
    events.push(event({
      ...base,
      timestamp: start + 20,
      type: "run.error",
      result: new ActionResult.Failure({ error: "MaxStepsExceeded", message: "too many steps" }),
      metrics: {},
      context: {}
    }))
  }
  return events
}

const known: ReadonlyArray<TelemetryEvent> = [
  // search: latencies 1..100 ms, all ok
  ...Array.from({ length: 100 }, (_, i) => toolEnd("search", i + 1, inWindow(i))),
  // calc: 10 calls, 2 failed
  ...Array.from({ length: 10 }, (_, i) => toolEnd("calc", 5, inWindow(200 + i), i < 2)),
  // outside the window: must not count
  toolEnd("search", 10_000, NOW - 2 * HOUR),
  toolEnd("calc", 10_000, NOW + 1, true),
  modelResponse("gpt-4o", 1_000, inWindow(300), { tokensIn: 100, tokensOut: 10 }, "agent-1"),
  modelResponse("gpt-4o", 3_000, inWindow(301), { tokensIn: 200, tokensOut: 20 }, "agent-2"),
  modelResponse("mini", 200, inWindow(302), { tokensIn: 50, tokensOut: 5 }, "agent-2"),
  event({ timestamp: inWindow(303), type: "model.error", result: new ActionResult.Failure({ error: "ModelTimeout", message: "slow" }), metrics: { latencyMs: 30_000 }, context: { model: "mini", provider: "openai" } }),
  decision("pii", "approved", inWindow(400)),
  decision("pii", "approved", inWindow(401)),
  decision("pii", "rejected", inWindow(402)),
  decision("jailbreak", "approved", inWindow(403)),
  decision("jailbreak", "approved", NOW - 3 * HOUR),
  ...run("run-a", inWindow(500), "run.end"),
  ...run("run-b", inWindow(600), "run.error"),
  ...run("run-c", inWindow(700), undefined)
]

const store = Effect.gen(function*() {
  const file = yield* tempFile
  return yield* Layer.build(
    Layer.merge(TelemetrySink.layer(), TelemetryQueries.layer).pipe(
      Layer.provide(Layer.effectDiscard(Migrations.run())),
      Layer.provide(sqlite(file))
    )
  )
})

const withKnownData = <A, E>(body: (q: TelemetryQueries.Service) => Effect.Effect<A, E>) => withData(known, body)

const withData = <A, E>(events: ReadonlyArray<TelemetryEvent>, body: (q: TelemetryQueries.Service) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const context = yield* store
    return yield* Effect.gen(function*() {
      const sink = yield* TelemetrySink.TelemetrySink
      for (const e of events) yield* sink.offer(e)
      yield* sink.flush
      return yield* body(yield* TelemetryQueries.TelemetryQueries)
    }).pipe(Effect.provide(context))
  })

describe("TelemetryQueries", () => {
  it.scoped("computes nearest-rank latency percentiles per tool and per model over a window", () =>
    withKnownData((q) =>
      Effect.gen(function*() {
        const tools = yield* q.latencyPercentiles("tool", window)
        assert.deepStrictEqual(tools, [
          { key: "calc", count: 10, p50: 5, p95: 5, p99: 5, mean: 5, max: 5 },
          { key: "search", count: 100, p50: 50, p95: 95, p99: 99, mean: 50.5, max: 100 }
        ])
        const models = yield* q.latencyPercentiles("model", window)
        assert.deepStrictEqual(models.map((m) => [m.key, m.count, m.p50, m.p99]), [
          ["gpt-4o", 2, 1_000, 3_000],
          ["mini", 2, 200, 30_000]
        ])
      })
    ))

  it.scoped("computes error rates per tool and per model", () =>
    withKnownData((q) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* q.errorRates("tool", window), [
          { key: "calc", total: 10, errors: 2, rate: 0.2 },
          { key: "search", total: 100, errors: 0, rate: 0 }
        ])
        assert.deepStrictEqual(yield* q.errorRates("model", window), [
          { key: "gpt-4o", total: 2, errors: 0, rate: 0 },
          { key: "mini", total: 2, errors: 1, rate: 0.5 }
        ])
      })
    ))

  it.scoped("sums token usage per model and per agent", () =>
    withKnownData((q) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* q.tokenUsage("model", window), [
          { key: "gpt-4o", calls: 2, tokensIn: 300, tokensOut: 30 },
          { key: "mini", calls: 1, tokensIn: 50, tokensOut: 5 }
        ])
        assert.deepStrictEqual(yield* q.tokenUsage("agent", window), [
          { key: "agent-1", calls: 1, tokensIn: 100, tokensOut: 10 },
          { key: "agent-2", calls: 2, tokensIn: 250, tokensOut: 25 }
        ])
      })
    ))

  it.scoped("counts validator decisions per validator and decision", () =>
    withKnownData((q) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* q.decisionCounts(window), [
          { validator: "jailbreak", decision: "approved", count: 1 },
          { validator: "pii", decision: "approved", count: 2 },
          { validator: "pii", decision: "rejected", count: 1 }
        ])
      })
    ))

  it.scoped("counts runs, model and tool calls, tokens, cost and decisions per time bucket", () =>
    withKnownData((q) =>
      Effect.gen(function*() {
        const since = NOW - HOUR
        const costOf = (model: string, tokensIn: number) => model === "gpt-4o" ? tokensIn / 1_000 : 0
        const buckets = yield* q.timeseries({ since, until: since + 1_000 }, 250, { costOf })
        const none = { approved: 0, modified: 0, rejected: 0, retried: 0 }
        const empty = { runs: 0, failedRuns: 0, llmCalls: 0, tokensIn: 0, tokensOut: 0, cost: 0, toolCalls: 0, toolErrors: 0 }
        assert.deepStrictEqual(buckets, [
          { ...empty, t: since, toolCalls: 110, toolErrors: 2, decisions: none },
          { ...empty, t: since + 250, llmCalls: 4, tokensIn: 350, tokensOut: 35, cost: 0.3, decisions: { ...none, approved: 3, rejected: 1 } },
          { ...empty, t: since + 500, runs: 3, failedRuns: 1, decisions: none },
          { ...empty, t: since + 750, decisions: none }
        ])
        // Buckets are aligned to multiples of their size, so a window starting mid-bucket includes that bucket.
        const aligned = yield* q.timeseries({ since: since + 100, until: since + 310 }, 250)
        assert.deepStrictEqual(aligned.map((b) => [b.t, b.toolCalls, b.llmCalls]), [[since, 10, 0], [since + 250, 0, 4]])
      })))

  it.scoped("lists recent runs newest first with how they ended", () =>
    withKnownData((q) =>
      Effect.gen(function*() {
        const runs = yield* q.recentRuns(10)
        assert.deepStrictEqual(runs.map((r) => [r.runId, r.status, r.durationMs, r.tokensIn, r.error]), [
          ["run-c", "running", undefined, undefined, undefined],
          ["run-b", "failed", 20, undefined, "MaxStepsExceeded"],
          ["run-a", "succeeded", 50, 10, undefined]
        ])
        assert.strictEqual((yield* q.recentRuns(1)).length, 1)
      })
    ))

  it.scoped("lists runs by agent, status and start window, a page at a time, with tokens per model", () => {
    const inRun = (runId: string, agentId: string, e: TelemetryEvent): TelemetryEvent => ({
      ...e,
      runId: Ids.RunId.make(runId),
      agentId: Ids.AgentId.make(agentId)
    })
    const events = [
      ...run("r1", NOW + 100, "run.end", "agent-1"),
      inRun("r1", "agent-1", modelResponse("gpt-4o", 10, NOW + 110, { tokensIn: 100, tokensOut: 10 })),
      inRun("r1", "agent-1", modelResponse("gpt-4o", 10, NOW + 120, { tokensIn: 200, tokensOut: 20 })),
      inRun("r1", "agent-1", modelResponse("mini", 10, NOW + 130, { tokensIn: 5, tokensOut: 1 })),
      ...run("r2", NOW + 200, "run.error", "agent-2"),
      ...run("r3", NOW + 300, undefined, "agent-1"),
      inRun("r3", "agent-1", modelResponse("mini", 10, NOW + 310, { tokensIn: 7, tokensOut: 3 })),
      ...run("r4", NOW + 400, "run.end", "agent-2")
    ]
    return withData(events, (q) =>
      Effect.gen(function*() {
        const ids = (filter: TelemetryQueries.RunFilter) => Effect.map(q.runs(filter), (runs) => runs.map((r) => r.runId))
        assert.deepStrictEqual(yield* ids({ limit: 10 }), ["r4", "r3", "r2", "r1"])
        assert.deepStrictEqual(yield* ids({ limit: 10, agent: "agent-1" }), ["r3", "r1"])
        assert.deepStrictEqual(yield* ids({ limit: 10, status: "succeeded" }), ["r4", "r1"])
        assert.deepStrictEqual(yield* ids({ limit: 10, status: "failed" }), ["r2"])
        assert.deepStrictEqual(yield* ids({ limit: 10, status: "running" }), ["r3"])
        assert.deepStrictEqual(yield* ids({ limit: 10, agent: "agent-2", status: "succeeded" }), ["r4"])
        assert.deepStrictEqual(yield* ids({ limit: 10, since: NOW + 200, until: NOW + 400 }), ["r3", "r2"])
        assert.deepStrictEqual(yield* ids({ limit: 2, offset: 1 }), ["r3", "r2"])
        assert.deepStrictEqual(yield* ids({ limit: 2, offset: 4 }), [])

        const [r3, r2, r1] = (yield* q.runs({ limit: 3, offset: 1 }))
        assert.deepStrictEqual(r1?.models, [
          { key: "gpt-4o", calls: 2, tokensIn: 300, tokensOut: 30 },
          { key: "mini", calls: 1, tokensIn: 5, tokensOut: 1 }
        ])
        assert.deepStrictEqual([r1?.status, r1?.durationMs, r1?.tokensIn], ["succeeded", 50, 10])
        assert.deepStrictEqual([r2?.status, r2?.error, r2?.errorMessage, r2?.models], ["failed", "MaxStepsExceeded", "too many steps", []])
        assert.deepStrictEqual([r3?.status, r3?.endedAt, r3?.tokensIn], ["running", undefined, undefined])
        assert.deepStrictEqual(r3?.models.map((m) => m.tokensIn), [7])
      }))
  })

  it.scoped("returns the decoded events of a run and of a trace, in time order", () =>
    withKnownData((q) =>
      Effect.gen(function*() {
        const events = yield* q.eventsByRun(Ids.RunId.make("run-a"))
        assert.deepStrictEqual(events.map((e) => e.type), ["run.start", "run.end"])
        assert.isTrue(events[1]?.result instanceof ActionResult.Answer)
        const first = known[0]!
        const byTrace = yield* q.eventsByTrace(first.traceId)
        assert.strictEqual(byTrace.length, 1)
        assert.deepStrictEqual(byTrace[0]?.metrics, first.metrics)
        assert.strictEqual(yield* q.count, known.length)
      })
    ))
})
