import { SqliteClient } from "@effect/sql-sqlite-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Migrations } from "@patinox/telemetry-store"
import { TempDir } from "@patinox/testing"
import { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Effect, Either, Layer, Option, Schema } from "effect"
import { join } from "node:path"
import { Analysis, Behaviour, MetaConfig, Plan, Replay } from "../src/index.js"

const window: Analysis.Window = { since: 1_000, until: 100_000, baselineSince: 0 }

const behaviour = (name: string, tools: Behaviour.AgentBehaviour["tools"], maxSteps = 10): Plan.File => ({
  file: `/agents/${name}.yaml`,
  behaviour: { name, description: "d", instructions: "i", maxSteps, tools }
})

const finding = (kind: string, target: Analysis.Target, measures: Record<string, number>): Analysis.Finding => ({
  key: Analysis.findingKey(kind, target),
  kind,
  analyser: "test",
  target,
  summary: "s",
  query: "SELECT 1",
  parameters: [],
  measures
})

// A store with `latencies` recorded for `tool` inside the window.
const store = (tool: string, latencies: ReadonlyArray<number>) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const dir = yield* TempDir.make("patinox-plan-")
    const sqlite = SqliteClient.layer({ filename: join(dir, "store.db") })
    yield* Effect.gen(function*() {
      yield* Migrations.run()
      const sql = yield* SqlClient.SqlClient
      for (const [i, ms] of latencies.entries()) {
        yield* sql.unsafe(
          `INSERT INTO events (ts, type, agent_id, trace_id, span_id, payload, tool, latency_ms) VALUES (?, 'tool.end', 'a', 't', 's', '{}', ?, ?)`,
          [2_000 + i, tool, ms]
        )
      }
    }).pipe(Effect.provide(sqlite))
    return sqlite
  }))

describe("Plan", () => {
  it("cutAndRetry: independent draws, cut at the timeout", () => {
    // Half the calls take 10 ms, half 1000 ms; cut at 20 ms, one retry.
    const sorted = [10, 10, 1000, 1000]
    const outcome = Plan.cutAndRetry(sorted, 20, 1, 0)
    // One attempt averages (10 + 20) / 2 = 15 ms; half of them need the second.
    assert.closeTo(outcome.meanMs, 15 * 1.5, 1e-9)
    assert.closeTo(outcome.failure, 0.25, 1e-9)
  })

  it.scoped("a slow tail gets a timeout and retries on every file listing the tool, with the expected gain", () =>
    Effect.gen(function*() {
      const latencies = [...Array.from({ length: 75 }, () => 20), ...Array.from({ length: 25 }, () => 600)]
      const files = [behaviour("stock", [{ name: "inventory" }]), behaviour("other", [{ name: "x" }, { name: "inventory" }])]
      const planned = yield* Plan.plan(finding("tool-latency", { tool: "inventory" }, {}), files, window).pipe(
        Effect.provide(store("inventory", latencies))
      )
      const improvement = Option.getOrThrow(planned)
      assert.deepStrictEqual(improvement.edits.map((e) => [e.file, e.path]), [
        ["/agents/stock.yaml", ["tools", 0, "timeoutMs"]],
        ["/agents/stock.yaml", ["tools", 0, "retry"]],
        ["/agents/other.yaml", ["tools", 1, "timeoutMs"]],
        ["/agents/other.yaml", ["tools", 1, "retry"]]
      ])
      assert.strictEqual(improvement.edits[0]!.value, 40)
      // Mean 165 ms before; about 23.75 ms per attempt with a quarter retried: a large gain.
      assert.isAbove(improvement.expectedGain, 0.75)
      assert.deepStrictEqual(improvement.objective, { _tag: "ToolMeanLatency", tool: "inventory" })
    }))

  it.scoped("a tool slow on every call gets no timeout: cutting would fail it", () =>
    Effect.gen(function*() {
      const latencies = Array.from({ length: 100 }, (_, i) => 900 + i)
      const planned = yield* Plan.plan(
        finding("tool-latency", { tool: "inventory" }, {}),
        [behaviour("stock", [{ name: "inventory" }])],
        window
      ).pipe(Effect.provide(store("inventory", latencies)))
      // Every timeout that cuts calls fails too many of them; the ones that cut none gain nothing.
      assert.isBelow(Option.getOrThrow(planned).expectedGain, 0.2)
    }))

  it.scoped("failing calls get retries until all attempts failing is under 1 %", () =>
    Effect.gen(function*() {
      const planned = yield* Plan.plan(
        finding("tool-errors", { tool: "weather" }, { errorRate: 0.3 }),
        [behaviour("w", [{ name: "weather", retry: { times: 0, delayMs: 50 } }])],
        window
      ).pipe(Effect.provide(store("weather", [])))
      const improvement = Option.getOrThrow(planned)
      assert.deepStrictEqual(improvement.edits[0]!.value, { times: 3, delayMs: 50 })
      assert.closeTo(improvement.expectedGain, 1 - Math.pow(0.3, 4) / 0.3, 1e-9)
    }))

  it.scoped("a tool failing most of the time gets no retries", () =>
    Effect.gen(function*() {
      const planned = yield* Plan.plan(
        finding("tool-errors", { tool: "weather" }, { errorRate: 0.75 }),
        [behaviour("w", [{ name: "weather" }])],
        window
      ).pipe(Effect.provide(store("weather", [])))
      assert.isTrue(Option.isNone(planned))
    }))

  it.scoped("a broken tool is taken away from every agent listing it", () =>
    Effect.gen(function*() {
      const planned = yield* Plan.plan(
        finding("tool-errors", { tool: "weather" }, { errorRate: 0.95 }),
        [behaviour("w", [{ name: "clock" }, { name: "weather" }]), behaviour("v", [{ name: "weather" }])],
        window
      ).pipe(Effect.provide(store("weather", [])))
      const improvement = Option.getOrThrow(planned)
      assert.deepStrictEqual(improvement.edits, [
        { file: "/agents/w.yaml", path: ["tools", 1], value: undefined },
        { file: "/agents/v.yaml", path: ["tools", 0], value: undefined }
      ])
      assert.deepStrictEqual(improvement.objective, { _tag: "ToolErrorRate", tool: "weather" })
    }))

  it.scoped("runs looping to maxSteps: cap one above the most a successful run needed", () =>
    Effect.gen(function*() {
      const planned = yield* Plan.plan(
        finding("max-steps", { agent: "ledger" }, { runs: 10, maxSuccessfulSteps: 2, tokensPerRun: 50, successfulRuns: 8, tokensInMaxStepsRuns: 600 }),
        [behaviour("ledger", [], 10)],
        window
      ).pipe(Effect.provide(store("none", [])))
      const improvement = Option.getOrThrow(planned)
      assert.deepStrictEqual(improvement.edits, [{ file: "/agents/ledger.yaml", path: ["maxSteps"], value: 3 }])
      // 600 tokens in the 2 looping runs, 70 % of their steps cut, over 8 x 50 + 600 = 1000 tokens in all.
      assert.closeTo(improvement.expectedGain, 0.42, 1e-9)
    }))

  it.scoped("findings without an edit the service applies yield nothing", () =>
    Effect.gen(function*() {
      const planned = yield* Plan.plan(
        finding("cost-spike", { agent: "a", model: "m" }, { factor: 3 }),
        [behaviour("a", [])],
        window
      ).pipe(Effect.provide(store("none", [])))
      assert.isTrue(Option.isNone(planned))
    }))
})

describe("Replay measures", () => {
  const event = (type: "run.end" | "run.error" | "tool.end" | "tool.error" | "model.response", extra: object = {}) => ({
    timestamp: 0,
    traceId: "1".repeat(32),
    spanId: "2".repeat(16),
    type,
    agentId: "a",
    metrics: {},
    context: {},
    ...extra
  })
  const decode = Schema.decodeUnknownSync(TelemetryEvent)

  it("measures runs, tokens and tool calls by the analysers' definitions", () => {
    const m = Replay.measure([
      event("run.end"),
      event("run.error", { result: { _tag: "Failure", error: "MaxStepsExceeded", message: "" } }),
      event("model.response", { metrics: { tokensIn: 30, tokensOut: 10 } }),
      event("tool.end", { metrics: { latencyMs: 10 }, context: { tool: "x" } }),
      event("tool.error", { metrics: { latencyMs: 30 }, context: { tool: "x" } })
    ].map((e) => decode(e)))
    assert.deepStrictEqual(m, {
      runs: 2,
      succeeded: 1,
      maxStepsRuns: 1,
      tokensPerRun: 20,
      tools: { x: { calls: 2, errors: 1, meanMs: 20 } }
    })
  })

  it("gain is relative; fewer successful runs is a regression", () => {
    const base = { runs: 10, succeeded: 8, maxStepsRuns: 2, tokensPerRun: 100, tools: {} }
    const better = Replay.gain({ _tag: "TokensPerRun", agent: "a" }, base, { ...base, tokensPerRun: 60 })
    assert.closeTo(better.gain, 0.4, 1e-9)
    assert.isUndefined(better.regression)
    const worse = Replay.gain({ _tag: "TokensPerRun", agent: "a" }, base, { ...base, tokensPerRun: 60, succeeded: 7 })
    assert.isDefined(worse.regression)
  })

  it("a faster tool that fails more is a regression, one extra failure in a small sample is not", () => {
    const tools = (errors: number, meanMs: number) => ({ x: { calls: 20, errors, meanMs } })
    const base = { runs: 20, succeeded: 20, maxStepsRuns: 0, tokensPerRun: 100, tools: tools(0, 160) }
    const objective = { _tag: "ToolMeanLatency", tool: "x" } as const
    assert.isUndefined(Replay.gain(objective, base, { ...base, tools: tools(1, 40) }).regression)
    assert.include(Replay.gain(objective, base, { ...base, tools: tools(2, 40) }).regression ?? "", "rose from 0.0 % to 10.0 %")
  })
})

describe("meta.schedule", () => {
  it("takes an interval or a cron expression, and names what it cannot read", () => {
    assert.isTrue(Either.isRight(MetaConfig.schedule("1 hour")))
    assert.isTrue(Either.isRight(MetaConfig.schedule("0 3 * * *")))
    assert.isTrue(Either.isLeft(MetaConfig.schedule("every now and then")))
  })
})
