/**
 * The telemetry store: (a) the sink's write throughput against a plain
 * better-sqlite3 prepared insert in a transaction, same rows, same schema,
 * same run; (b) each window query on 1,000,000 stored events.
 *
 * (a) The sink does all its work: redaction of every string, column
 * extraction, JSON, batched inserts, a transaction per batch of 500 (or per
 * group of batches waiting together). The baseline gets rows that are
 * already extracted and serialised (its loop is only `stmt.run` inside a
 * transaction per 500 rows, for the events and for their (trace, run) pairs
 * in `run_traces`, as the sink writes both), so the ratio is the sink's total
 * cost against the bare cost of the inserts. Ids are shaped like
 * production's: random-looking trace ids, time-ordered (UUIDv7) run ids. The headline is the sink given the file (its
 * write thread, which redacts, builds the rows and inserts) under sustained load, in REPS repetitions alternating with
 * the baseline, each repetition's ratio against the baseline run just
 * before it; the median is reported with the spread, since one run on a
 * shared 2-core host moves by 10 %. Also reported, once each: the sink fed in
 * slices with a flush after each (the pipeline drains 40 times), and inline
 * on the main thread.
 *
 * (b) The million rows go in through better-sqlite3 directly (secondary
 * indexes dropped during the load and rebuilt after), then every query runs
 * through `TelemetryQueries`, best of three.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { ActionResult, AgentAction, Decision, Ids, Message, Usage } from "@patinox/core"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Migrations, TelemetryQueries, TelemetrySink, TelemetryStore } from "@patinox/telemetry-store"
import Database from "better-sqlite3"
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Benchmark, BenchRow } from "./harness.js"
import { hex, percentile, round, seeded } from "./harness.js"

const SINK_EVENTS = 200_000
const REPS = 5
const QUERY_EVENTS = 1_000_000
const HOUR = 3_600_000
const SPAN = 24 * HOUR

const TOOLS = ["search", "calculator", "fetch_url", "sql_query", "send_email", "read_file"]
const MODELS = ["gpt-4o-mini", "gpt-4o", "llama-3.1-8b"]
const VALIDATORS = ["jailbreak", "pii", "hallucination", "rate_limit"]
const AGENTS = ["support", "research", "billing", "ops"]
const PROMPTS = [
  "Find the latest quarterly revenue figures and compare them with last year.",
  "Summarise the open incidents for the payments team and suggest next steps.",
  "My API key is sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe, why does the call fail with 401?",
  "Draft a reply to jane.doe@example.com about the delayed shipment.",
  "What is 17% of 2,340 and how does it change with a 3% discount?"
]

// -- deterministic data ------------------------------------------------------------

const { latency: skewed, pick, random } = seeded(42)
/** Skewed latencies: most calls fast, a long tail. */
const latency = (base: number) => skewed(base, 0.05)

/** 32 bits that look random, the same for the same `n` and `salt` (murmur3's finaliser). */
const mix32 = (n: number, salt: number): number => {
  let h = (n ^ Math.imul(salt, 0x9e3779b9)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}
const mixHex = (n: number, salt: number, chars: number) => {
  let out = ""
  for (let k = 0; out.length < chars; k++) out += hex(mix32(n, salt + k), 8)
  return out.slice(0, chars)
}

/**
 * Run `i`'s ids, shaped like production's: a W3C trace id that looks random
 * (as OpenTelemetry's are) and a UUIDv7 run id, its first 48 bits the run's
 * start time (as `Ids.makeRunId` makes them).
 */
export const runIds = (i: number, start: number) => {
  const tail = mixHex(i, 7, 20)
  const time = hex(start, 12)
  return {
    traceId: Ids.TraceId.make(mixHex(i, 1, 32)),
    runId: Ids.RunId.make(
      `${time.slice(0, 8)}-${time.slice(8)}-7${tail.slice(0, 3)}-${"89ab"[mix32(i, 11) % 4]}${tail.slice(3, 6)}-${tail.slice(6, 18)}`
    )
  }
}

/** One agent run as the loop reports it: about a dozen events. */
const runEvents = (i: number, start: number): Array<TelemetryEvent> => {
  const { runId, traceId } = runIds(i, start)
  const agentId = Ids.AgentId.make(pick(AGENTS))
  const model = pick(MODELS)
  const tool = pick(TOOLS)
  const prompt = pick(PROMPTS)
  let span = 0
  let ts = start
  const event = (fields: Omit<TelemetryEvent, "timestamp" | "traceId" | "spanId" | "agentId" | "runId">): TelemetryEvent => {
    ts += 1 + Math.floor(random() * 40)
    span++
    return { timestamp: ts, traceId, spanId: Ids.SpanId.make(hex(i * 16 + span, 16)), agentId, runId, ...fields }
  }
  const usage = new Usage.Usage({ inputTokens: 200 + Math.floor(random() * 800), outputTokens: 20 + Math.floor(random() * 300) }, true)
  const toolFailed = random() < 0.08
  const messages = [Message.system("You are a careful assistant."), Message.user(prompt)]
  const decision = random() < 0.1 ? "rejected" : random() < 0.05 ? "modified" : "approved"
  return [
    event({ type: "run.start", action: new AgentAction.UserInput({ input: prompt }, true), metrics: {}, context: {} }),
    event({ type: "state.change", metrics: {}, context: { state: "validating" } }),
    event({
      type: "validation.decision",
      action: new AgentAction.UserInput({ input: prompt }, true),
      metrics: {
        latencyMs: 0.4,
        decisions: [
          new Decision.DecisionRecord({ validator: pick(VALIDATORS), stage: "user_input", decision, latencyMs: 0.4 }, true)
        ]
      },
      context: { validator: "pii", stage: "user_input", decision, attempt: 1 }
    }),
    event({ type: "state.change", metrics: {}, context: { state: "calling_model" } }),
    event({
      type: "model.request",
      action: new AgentAction.ModelCall({ step: 1, messages, tools: [tool] }, true),
      metrics: {},
      context: { model, provider: "openai", step: 1, requestId: `${runId}:1` }
    }),
    event({
      type: "model.response",
      result: new ActionResult.ModelResult({ model, finishReason: "tool_calls", toolCalls: 1, usage }, true),
      metrics: { latencyMs: latency(800), tokensIn: usage.inputTokens, tokensOut: usage.outputTokens },
      context: { model, provider: "openai", step: 1, requestId: `${runId}:1` }
    }),
    event({ type: "tool.start", metrics: {}, context: { tool, toolCallId: `call-${i}`, step: 1 } }),
    toolFailed
      ? event({
        type: "tool.error",
        result: new ActionResult.Failure({ error: "ToolFailed", message: `Tool "${tool}" failed: upstream returned 503` }, true),
        metrics: { latencyMs: latency(120) },
        context: { tool, toolCallId: `call-${i}`, step: 1, error: "ToolFailed" }
      })
      : event({
        type: "tool.end",
        result: new ActionResult.ToolOutput({ tool, content: `{"results":[{"title":"Result ${i}","score":0.92}]}`, isError: false }, true),
        metrics: { latencyMs: latency(120) },
        context: { tool, toolCallId: `call-${i}`, step: 1 }
      }),
    event({
      type: "model.response",
      result: new ActionResult.ModelResult({ model, finishReason: "stop", toolCalls: 0, usage }, true),
      metrics: { latencyMs: latency(600), tokensIn: usage.inputTokens, tokensOut: usage.outputTokens },
      context: { model, provider: "openai", step: 2, requestId: `${runId}:2` }
    }),
    event({ type: "state.change", metrics: {}, context: { state: "done" } }),
    event({
      type: "run.end",
      result: new ActionResult.Answer({ content: "Here is the summary you asked for.", steps: 2, usage }, true),
      metrics: { latencyMs: ts - start, tokensIn: usage.inputTokens * 2, tokensOut: usage.outputTokens * 2 },
      context: {}
    })
  ]
}

export const makeEvents = (count: number, from: number, to: number, firstRun = 0): Array<TelemetryEvent> => {
  const out: Array<TelemetryEvent> = []
  const runs = Math.ceil(count / 11)
  for (let i = 0; out.length < count; i++) {
    const start = from + Math.floor(((to - from - 5_000) * i) / runs)
    for (const event of runEvents(firstRun + i, start)) if (out.length < count) out.push(event)
  }
  return out
}

// -- rows for the direct inserts: the same columns as the store's ---------------------

type Row = readonly [
  ts: number,
  type: string,
  agentId: string,
  runId: string | null,
  traceId: string,
  spanId: string,
  parentSpanId: string | null,
  tool: string | null,
  model: string | null,
  latencyMs: number | null,
  tokensIn: number | null,
  tokensOut: number | null,
  memoryBytes: number | null,
  errorTag: string | null,
  validator: string | null,
  decision: string | null,
  payload: string
]
const text = (u: unknown): string | null => typeof u === "string" ? u : null
export const rowOf = (e: TelemetryEvent): Row => {
  const d = e.metrics.decisions?.[0]
  return [
    e.timestamp,
    e.type,
    e.agentId,
    e.runId ?? null,
    e.traceId,
    e.spanId,
    e.parentSpanId ?? null,
    text(e.context["tool"]),
    text(e.context["model"]) ?? (e.result?._tag === "ModelResult" ? e.result.model : null),
    e.metrics.latencyMs ?? null,
    e.metrics.tokensIn ?? null,
    e.metrics.tokensOut ?? null,
    e.metrics.memoryBytes ?? null,
    e.result?._tag === "Failure" ? e.result.error : null,
    d?.validator ?? null,
    d?.decision ?? null,
    JSON.stringify(e)
  ]
}
/** A batch's `run_traces` rows, as the sink writes them beside the events: each (trace, run) once, first time seen. */
const pairsOf = (rows: ReadonlyArray<Row>): Array<readonly [string, string, number]> => {
  const seen = new Map<string, readonly [string, string, number]>()
  for (const row of rows) {
    const runId = row[3]
    if (runId !== null && !seen.has(`${row[4]} ${runId}`)) seen.set(`${row[4]} ${runId}`, [row[4], runId, row[0]])
  }
  return [...seen.values()]
}

export const INSERT = `INSERT INTO events (ts, type, agent_id, run_id, trace_id, span_id, parent_span_id, tool, model,
  latency_ms, tokens_in, tokens_out, memory_bytes, error_tag, validator, decision, payload)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const migrate = (filename: string) =>
  Effect.runPromise(Migrations.run().pipe(Effect.provide(SqliteClient.layer({ filename })), Effect.asVoid))

// -- (a) throughput -------------------------------------------------------------------

/**
 * How the sink is fed. `slices`: a slice the size of the default queue, then a
 * flush that waits for all of it (the pipeline drains 40 times). `sustained`:
 * offers whenever the queue has room, one flush at the end, so the threads
 * stay busy; both count offered → committed.
 */
type Feed = "slices" | "sustained"

/**
 * `threads: true` passes the file to the store, so the sink redacts and
 * writes on its write thread; its start-up (module loading) is waited for
 * with one event before the clock starts, and reported on its own.
 */
const sinkThroughput = async (dir: string, events: ReadonlyArray<TelemetryEvent>, threads: boolean, feed: Feed) => {
  const filename = join(dir, `sink-${threads ? "threads" : "inline"}-${feed}.db`)
  const runtime = ManagedRuntime.make(
    TelemetryStore.layer(
      { ...TelemetryStore.defaults, retention: { maxAgeDays: 3650, maxSizeMb: 100_000, intervalMs: 3_600_000 } },
      threads ? { filename } : {}
    ).pipe(Layer.provide(SqliteClient.layer({ filename })))
  )
  const stats = await runtime.runPromise(Effect.gen(function*() {
    const sink = yield* TelemetrySink.TelemetrySink
    const startup = performance.now()
    yield* sink.offer({ ...events[0]!, context: { warmUp: true } })
    yield* sink.flush
    const startupMs = performance.now() - startup
    const warmUp = (yield* sink.stats).written
    const started = performance.now()
    if (feed === "slices") {
      // Offer as fast as the writer absorbs: a slice the size of the default queue, then let it catch up.
      for (let i = 0; i < events.length; i += 5_000) {
        const end = Math.min(events.length, i + 5_000)
        for (let j = i; j < end; j++) yield* sink.offer(events[j]!)
        yield* sink.flush
      }
    } else {
      // Keep the queue at most half full (never dropping), yielding to the writer between slices.
      let next = 0
      while (next < events.length) {
        const room = 5_000 - (yield* sink.stats).queued
        if (room < 500) {
          yield* Effect.sleep("1 millis")
          continue
        }
        const end = Math.min(events.length, next + room)
        for (; next < end; next++) yield* sink.offer(events[next]!)
        yield* Effect.yieldNow()
      }
      yield* sink.flush
    }
    const ms = performance.now() - started
    const after = yield* sink.stats
    return { ms, startupMs, ...after, written: after.written - warmUp }
  }))
  await runtime.dispose()
  return stats
}

/**
 * `serialise: false`: rows extracted and serialised before the clock starts (the
 * bare inserts). `serialise: true`: the loop also builds each row (columns and
 * JSON) from the event, as any writer must; the sink additionally redacts.
 * `pairs: false` leaves out the `run_traces` rows (reported once, to show
 * what they cost).
 */
const baselineThroughput = async (
  dir: string,
  events: ReadonlyArray<TelemetryEvent>,
  serialise: boolean,
  pairs = true
) => {
  const filename = join(dir, serialise ? "baseline-serialise.db" : pairs ? "baseline.db" : "baseline-events-only.db")
  await migrate(filename)
  const prepared = serialise ? [] : events.map(rowOf)
  const preparedPairs = serialise || !pairs ? [] : Array.from({ length: Math.ceil(events.length / 500) }, (_, b) =>
    pairsOf(prepared.slice(b * 500, (b + 1) * 500)))
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  const insert = db.prepare(INSERT)
  const insertPair = db.prepare("INSERT OR IGNORE INTO run_traces (trace_id, run_id, ts) VALUES (?, ?, ?)")
  const batch = db.transaction((from: number, to: number) => {
    if (serialise) {
      const rows: Array<Row> = []
      for (let i = from; i < to; i++) rows.push(rowOf(events[i]!))
      for (const row of rows) insert.run(...row)
      for (const pair of pairsOf(rows)) insertPair.run(...pair)
    } else {
      for (let i = from; i < to; i++) insert.run(...prepared[i]!)
      for (const pair of preparedPairs[from / 500] ?? []) insertPair.run(...pair)
    }
  })
  const started = performance.now()
  for (let i = 0; i < events.length; i += 500) batch(i, Math.min(events.length, i + 500))
  const ms = performance.now() - started
  db.close()
  return ms
}

// -- (b) queries on a million events ------------------------------------------------------

const load = async (filename: string, count: number, now: number, progress: (m: string) => void) => {
  await migrate(filename)
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = OFF")
  const indexes = db.prepare(
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
  ).all() as Array<{ name: string; sql: string }>
  for (const index of indexes) db.exec(`DROP INDEX ${index.name}`)
  const insert = db.prepare(INSERT)
  const chunk = 50_000
  let probe: { readonly runId: Ids.RunId; readonly traceId: Ids.TraceId } | undefined
  const t0 = performance.now()
  for (let done = 0; done < count; done += chunk) {
    const size = Math.min(chunk, count - done)
    // Spread over the last 24 hours, in time order, like a day of traffic.
    const from = now - SPAN + Math.floor((SPAN * done) / count)
    const to = now - SPAN + Math.floor((SPAN * (done + size)) / count)
    const events = makeEvents(size, from, to, Math.ceil(done / 11))
    if (probe === undefined && done + size >= count / 2) {
      const middle = events[Math.floor(events.length / 2)]!
      if (middle.runId !== undefined) probe = { runId: middle.runId, traceId: middle.traceId }
    }
    const rows = events.map(rowOf)
    db.transaction(() => {
      for (const row of rows) insert.run(...row)
    })()
    if ((done + size) % 250_000 === 0) progress(`loaded ${done + size} events (${round((performance.now() - t0) / 1000, 1)} s)`)
  }
  for (const index of indexes) db.exec(index.sql)
  // What the sink writes beside each batch: one row per (trace, run).
  db.exec(`INSERT OR IGNORE INTO run_traces (trace_id, run_id, ts)
    SELECT trace_id, run_id, min(ts) FROM events WHERE run_id IS NOT NULL GROUP BY trace_id, run_id`)
  db.exec("ANALYZE")
  progress(`indexes rebuilt (${round((performance.now() - t0) / 1000, 1)} s total)`)
  db.close()
  if (probe === undefined) throw new Error("no run to look up among the loaded events")
  return probe
}

const benchmark: Benchmark = {
  name: "telemetry-store",
  description: "sink throughput vs plain better-sqlite3; window queries on 1M events",
  run: async (progress) => {
    const dir = mkdtempSync(join(tmpdir(), "patinox-bench-store-"))
    const rows: Array<BenchRow> = []
    try {
      const now = Date.now()
      const events = makeEvents(SINK_EVENTS, now - HOUR, now)
      progress(`${events.length} events generated`)
      // Each file is removed once measured, so the next run does not share the disk with its writeback.
      const dropFile = (name: string) => {
        for (const suffix of ["", "-wal", "-shm"]) rmSync(join(dir, `${name}${suffix}`), { force: true })
      }
      // Alternating repetitions: the baseline, then the sustained sink, on fresh files.
      const reps: Array<{ readonly baseline: number; readonly sink: number; readonly startupMs: number; readonly dropped: number }> = []
      for (let r = 0; r < REPS; r++) {
        const baselineMs = await baselineThroughput(dir, events, false)
        dropFile("baseline.db")
        const sink = await sinkThroughput(dir, events, true, "sustained")
        dropFile("sink-threads-sustained.db")
        const rep = {
          baseline: events.length / (baselineMs / 1000),
          sink: sink.written / (sink.ms / 1000),
          startupMs: sink.startupMs,
          dropped: sink.dropped
        }
        reps.push(rep)
        progress(
          `repetition ${r + 1}/${REPS}: baseline (inserts only) ${round(rep.baseline, 0)} events/s, ` +
            `sink ${round(rep.sink, 0)} events/s (${sink.written} written, ${sink.failed} failed, ${sink.batches} batches), ` +
            `ratio ${round(rep.sink / rep.baseline, 3)}`
        )
      }
      const ratios = reps.map((r) => r.sink / r.baseline)
      const median = percentile(ratios, 50)
      const medianRep = reps[ratios.indexOf(median)] ?? reps[0]!
      const baselineRate = medianRep.baseline
      const serialisingMs = await baselineThroughput(dir, events, true)
      const serialisingRate = events.length / (serialisingMs / 1000)
      dropFile("baseline-serialise.db")
      progress(`baseline (rows built in the loop): ${round(serialisingRate, 0)} events/s`)
      const eventsOnlyMs = await baselineThroughput(dir, events, false, false)
      const eventsOnlyRate = events.length / (eventsOnlyMs / 1000)
      dropFile("baseline-events-only.db")
      progress(`baseline (events rows only, no run_traces rows): ${round(eventsOnlyRate, 0)} events/s`)
      const once = async (threads: boolean) => {
        const sink = await sinkThroughput(dir, events, threads, "slices")
        dropFile(`sink-${threads ? "threads" : "inline"}-slices.db`)
        const rate = sink.written / (sink.ms / 1000)
        progress(
          `sink (${threads ? "write thread" : "inline"}, in slices): ${round(rate, 0)} events/s, ` +
            `${round(rate / baselineRate, 3)} of the median repetition's baseline`
        )
        return rate
      }
      const slices = await once(true)
      const inline = await once(false)
      rows.push(
        {
          name: "telemetry-store/sink-throughput",
          metric: `events/s, sustained, median of ${REPS}`,
          value: round(medianRep.sink, 0),
          unit: "events/s",
          baseline: round(medianRep.baseline, 0),
          ratio: round(median, 3)
        },
        { name: "telemetry-store/sink-throughput-ratio", metric: "min", value: round(Math.min(...ratios), 3), unit: "ratio" },
        { name: "telemetry-store/sink-throughput-ratio", metric: "max", value: round(Math.max(...ratios), 3), unit: "ratio" },
        {
          name: "telemetry-store/sink-throughput-vs-serialising-loop",
          metric: "events/s",
          value: round(medianRep.sink, 0),
          unit: "events/s",
          baseline: round(serialisingRate, 0),
          ratio: round(medianRep.sink / serialisingRate, 3)
        },
        {
          name: "telemetry-store/sink-throughput-vs-events-only-loop",
          metric: "events/s",
          value: round(medianRep.sink, 0),
          unit: "events/s",
          baseline: round(eventsOnlyRate, 0),
          ratio: round(medianRep.sink / eventsOnlyRate, 3)
        },
        {
          name: "telemetry-store/sink-throughput-slices",
          metric: "events/s, flush every 5,000",
          value: round(slices, 0),
          unit: "events/s",
          baseline: round(baselineRate, 0),
          ratio: round(slices / baselineRate, 3)
        },
        {
          name: "telemetry-store/sink-throughput-inline",
          metric: "events/s, writer on the main thread",
          value: round(inline, 0),
          unit: "events/s",
          baseline: round(baselineRate, 0),
          ratio: round(inline / baselineRate, 3)
        },
        { name: "telemetry-store/sink-thread-startup", metric: "first flush", value: round(medianRep.startupMs, 0), unit: "ms" },
        { name: "telemetry-store/sink-dropped", metric: "count", value: reps.reduce((n, r) => n + r.dropped, 0), unit: "events" }
      )

      const filename = join(dir, "million.db")
      const probe = await load(filename, QUERY_EVENTS, now, progress)
      const runtime = ManagedRuntime.make(TelemetryQueries.layer.pipe(Layer.provide(SqliteClient.layer({ filename }))))
      const window = { since: now - SPAN, until: now + 1 }
      const lastHour = { since: now - HOUR, until: now + 1 }
      const queries: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown, TelemetryQueries.TelemetryQueries>]> = [
        ["latency-percentiles-by-tool-24h", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.latencyPercentiles("tool", window))],
        ["latency-percentiles-by-model-24h", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.latencyPercentiles("model", window))],
        ["latency-percentiles-by-tool-1h", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.latencyPercentiles("tool", lastHour))],
        ["error-rates-by-tool-24h", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.errorRates("tool", window))],
        ["error-rates-by-model-24h", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.errorRates("model", window))],
        ["token-usage-by-model-24h", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.tokenUsage("model", window))],
        ["token-usage-by-agent-24h", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.tokenUsage("agent", window))],
        ["decision-counts-24h", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.decisionCounts(window))],
        ["recent-runs-50", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.recentRuns(50))],
        ["events-by-run", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.eventsByRun(probe.runId))],
        ["events-by-trace", Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) => q.eventsByTrace(probe.traceId))]
      ]
      for (const [name, query] of queries) {
        let best = Number.POSITIVE_INFINITY
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now()
          const result = await runtime.runPromise(query)
          best = Math.min(best, performance.now() - t0)
          // A query that finds nothing would be fast for the wrong reason.
          if (Array.isArray(result) && result.length === 0) throw new Error(`${name} found nothing in the loaded events`)
        }
        progress(`${name}: ${round(best, 1)} ms`)
        rows.push({ name: `telemetry-store/query/${name}`, metric: "best of 3 on 1M events", value: round(best, 1), unit: "ms" })
      }
      await runtime.dispose()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    return rows
  }
}

export default benchmark
