/**
 * The meta-layer's analysis pass on 1,000,000 stored events: the four
 * built-in analysers (`BuiltInAnalysers.layer(MetaConfig.defaults)`) over
 * the last 24 hours, whose baseline is the 24 hours before, so both windows
 * hold half the events.
 *
 * Runs of ten events as the agent loop writes them (run.start, an input
 * decision, two model calls, one tool call, a final-answer decision,
 * run.end), from 10 agents over 20 tools and 5 models, with a few per cent
 * of tool errors and timeouts, model errors, final-answer retries, repeated
 * tool calls and max-steps failures. Rows go in through better-sqlite3
 * directly (secondary indexes dropped during the load, rebuilt after), then
 * `Analysis.run` is timed three times; the median is reported.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Analysis, BuiltInAnalysers, MetaConfig } from "@patinox/meta"
import { Migrations } from "@patinox/telemetry-store"
import Database from "better-sqlite3"
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { BenchRow } from "./harness.js"
import { hex, percentile, round, seeded } from "./harness.js"

const EVENTS = 1_000_000
const EVENTS_PER_RUN = 10
const HOUR = 3_600_000
const SPAN = 48 * HOUR

const AGENTS = Array.from({ length: 10 }, (_, i) => `agent-${i}`)
const TOOLS = Array.from({ length: 20 }, (_, i) => `tool_${i}`)
const MODELS = ["gpt-4o-mini", "gpt-4o", "llama-3.1-8b", "claude-haiku", "mistral-small"]
const VALIDATORS = ["jailbreak", "pii", "hallucination", "rate_limit"]
const PROMPT = "Find the latest quarterly revenue figures for the payments team and compare them with last year's."

const { latency: skewed, pick, random } = seeded(7)
/** Skewed latencies: most calls fast, a long tail. */
const latency = (base: number) => skewed(base, 0.03)

type Cell = string | number | null
const INSERT = `INSERT INTO events (ts, type, agent_id, run_id, trace_id, span_id, parent_span_id, tool, model,
  latency_ms, tokens_in, tokens_out, memory_bytes, error_tag, validator, decision, payload)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

/** Run `i`'s ten rows, with payloads shaped like the loop's (the fields the analysers read are real). */
const runRows = (i: number, start: number): Array<Array<Cell>> => {
  const agent = AGENTS[i % AGENTS.length]!
  const model = pick(MODELS)
  const tool = pick(TOOLS)
  const runId = `${hex(start, 12)}-7${hex(i, 11)}`
  const traceId = hex(i, 32)
  let ts = start
  let span = 0
  const rows: Array<Array<Cell>> = []
  const row = (
    type: string,
    columns: {
      tool?: string
      model?: string
      latency?: number
      tokensIn?: number
      tokensOut?: number
      error?: string
      validator?: string
      decision?: string
    },
    payload: Record<string, unknown>
  ) => {
    ts += 1 + Math.floor(random() * 400)
    span++
    rows.push([
      ts,
      type,
      agent,
      runId,
      traceId,
      hex(i * 16 + span, 16),
      null,
      columns.tool ?? null,
      columns.model ?? null,
      columns.latency ?? null,
      columns.tokensIn ?? null,
      columns.tokensOut ?? null,
      null,
      columns.error ?? null,
      columns.validator ?? null,
      columns.decision ?? null,
      JSON.stringify({ timestamp: ts, traceId, spanId: hex(i * 16 + span, 16), type, agentId: agent, runId, ...payload })
    ])
  }
  const tokensIn = 200 + Math.floor(random() * 800)
  const tokensOut = 20 + Math.floor(random() * 300)
  const usage = { inputTokens: tokensIn, outputTokens: tokensOut }
  row("run.start", {}, { action: { _tag: "UserInput", input: PROMPT }, metrics: {}, context: {} })
  const inputValidator = pick(VALIDATORS)
  row("validation.decision", { validator: inputValidator, decision: "approved" }, {
    metrics: { latencyMs: 0.4, decisions: [{ validator: inputValidator, stage: "user_input", decision: "approved", latencyMs: 0.4 }] },
    context: { validator: inputValidator, stage: "user_input", decision: "approved", attempt: 1 }
  })
  const modelFailed = random() < 0.01
  row("model.request", { model }, {
    action: { _tag: "ModelCall", step: 1, messages: [{ role: "user", content: PROMPT }], tools: [tool] },
    metrics: {},
    context: { model, provider: "openai", step: 1, requestId: `${runId}:1` }
  })
  if (modelFailed) {
    const error = random() < 0.5 ? "ModelTimeout" : "ModelUnavailable"
    row("model.error", { model, latency: latency(900), error }, {
      result: { _tag: "Failure", error, message: "the model call failed" },
      metrics: { latencyMs: 900 },
      context: { model, provider: "openai", step: 1, requestId: `${runId}:1` }
    })
  } else {
    row("model.response", { model, latency: latency(800), tokensIn, tokensOut }, {
      result: { _tag: "ModelResult", model, finishReason: "tool_calls", toolCalls: 1, usage },
      metrics: { latencyMs: 800, tokensIn, tokensOut },
      context: { model, provider: "openai", step: 1, requestId: `${runId}:1` }
    })
  }
  // A few runs call the same tool with the same arguments as an earlier run step would.
  const argsHash = random() < 0.03 ? 12345 : Math.floor(random() * 0xffffffff)
  row("tool.start", { tool }, { metrics: {}, context: { tool, toolCallId: `call-${i}`, step: 1, argsHash } })
  const toolOutcome = random()
  if (toolOutcome < 0.04) {
    const error = toolOutcome < 0.015 ? "ToolTimeout" : toolOutcome < 0.017 ? "CircuitOpen" : "ToolFailed"
    row("tool.error", { tool, latency: latency(120), error }, {
      result: { _tag: "Failure", error, message: `Tool failed` },
      metrics: { latencyMs: 120 },
      context: { tool, toolCallId: `call-${i}`, step: 1, error }
    })
  } else {
    row("tool.end", { tool, latency: latency(120) }, {
      result: { _tag: "ToolOutput", tool, content: `{"results":[{"title":"Result ${i}","score":0.92}]}`, isError: false },
      metrics: { latencyMs: 120 },
      context: { tool, toolCallId: `call-${i}`, step: 1 }
    })
  }
  row("model.request", { model }, {
    action: { _tag: "ModelCall", step: 2, messages: [{ role: "user", content: PROMPT }], tools: [tool] },
    metrics: {},
    context: { model, provider: "openai", step: 2, requestId: `${runId}:2` }
  })
  row("model.response", { model, latency: latency(600), tokensIn, tokensOut }, {
    result: { _tag: "ModelResult", model, finishReason: "stop", toolCalls: 0, usage },
    metrics: { latencyMs: 600, tokensIn, tokensOut },
    context: { model, provider: "openai", step: 2, requestId: `${runId}:2` }
  })
  const decision = random() < 0.05 ? "retry" : "approved"
  row("validation.decision", { validator: "hallucination", decision }, {
    metrics: { latencyMs: 2, decisions: [{ validator: "hallucination", stage: "final_answer", decision, latencyMs: 2 }] },
    context: { validator: "hallucination", stage: "final_answer", decision, attempt: 1 }
  })
  if (random() < 0.02) {
    row("run.error", { error: "MaxStepsExceeded" }, {
      result: { _tag: "Failure", error: "MaxStepsExceeded", message: "the run used its steps" },
      metrics: {},
      context: {}
    })
  } else {
    row("run.end", { latency: ts - start, tokensIn: 2 * tokensIn, tokensOut: 2 * tokensOut }, {
      result: { _tag: "Answer", content: "Here is the summary you asked for.", steps: 2, usage },
      metrics: { latencyMs: ts - start, tokensIn: 2 * tokensIn, tokensOut: 2 * tokensOut },
      context: {}
    })
  }
  return rows
}

const load = async (filename: string, now: number, progress: (m: string) => void) => {
  await Effect.runPromise(Migrations.run().pipe(Effect.provide(SqliteClient.layer({ filename })), Effect.asVoid))
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = OFF")
  const indexes = db.prepare(
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
  ).all() as Array<{ name: string; sql: string }>
  for (const index of indexes) db.exec(`DROP INDEX ${index.name}`)
  const insert = db.prepare(INSERT)
  const runs = EVENTS / EVENTS_PER_RUN
  const t0 = performance.now()
  const chunk = 10_000
  for (let first = 0; first < runs; first += chunk) {
    db.transaction(() => {
      for (let i = first; i < Math.min(runs, first + chunk); i++) {
        // Spread evenly over the 48 hours, in time order.
        const start = now - SPAN + Math.floor((SPAN - 10_000) * i / runs)
        for (const row of runRows(i, start)) insert.run(...row)
      }
    })()
    if ((first + chunk) % 25_000 === 0 || first + chunk >= runs) {
      progress(`loaded ${(first + chunk) * EVENTS_PER_RUN} events (${round((performance.now() - t0) / 1000, 1)} s)`)
    }
  }
  for (const index of indexes) db.exec(index.sql)
  db.exec(`INSERT OR IGNORE INTO run_traces (trace_id, run_id, ts)
    SELECT trace_id, run_id, min(ts) FROM events WHERE run_id IS NOT NULL GROUP BY trace_id, run_id`)
  db.exec("ANALYZE")
  const [{ n }] = db.prepare("SELECT COUNT(*) AS n FROM events").all() as [{ n: number }]
  progress(`${n} events, indexes rebuilt (${round((performance.now() - t0) / 1000, 1)} s total)`)
  db.close()
}

/**
 * The four built-in analysers over a 24 h window of 1M events (48 h stored):
 * the `meta/analysis-1m` row of `pnpm bench meta`.
 */
export const analysis1m = async (progress: (message: string) => void): Promise<ReadonlyArray<BenchRow>> => {
  {
    const dir = mkdtempSync(join(tmpdir(), "patinox-bench-meta-"))
    const rows: Array<BenchRow> = []
    try {
      const now = Date.now()
      const filename = join(dir, "million.db")
      await load(filename, now, progress)
      const runtime = ManagedRuntime.make(
        Layer.merge(BuiltInAnalysers.layer(MetaConfig.defaults), SqliteClient.layer({ filename }))
      )
      const window = Analysis.windowEndingAt(now, 24)
      const samples: Array<number> = []
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now()
        const { failures, findings } = await runtime.runPromise(Analysis.run(window))
        const ms = performance.now() - t0
        samples.push(ms)
        if (failures.length > 0) {
          throw new Error(`analysers failed: ${failures.map((f) => `${f.analyser}: ${f.error.message}`).join("; ")}`)
        }
        progress(`pass ${i + 1}/3: ${round(ms, 1)} ms, ${findings.length} findings`)
        if (i === 0) for (const f of findings) progress(`  ${f.summary}`)
      }
      await runtime.dispose()
      rows.push({ name: "meta/analysis-1m", metric: "ms", value: round(percentile(samples, 50), 1), unit: "ms" })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    return rows
  }
}
