import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"

/** One SQL value of a row: rows travel between threads as flat arrays of these. */
export type Cell = string | number | null

export const columnNames = [
  "ts",
  "type",
  "agent_id",
  "run_id",
  "trace_id",
  "span_id",
  "parent_span_id",
  "tool",
  "model",
  "latency_ms",
  "tokens_in",
  "tokens_out",
  "memory_bytes",
  "error_tag",
  "validator",
  "decision",
  "payload"
] as const

const str = (u: unknown): string | null => typeof u === "string" && u !== "" ? u : null
const num = (u: unknown): number | null => typeof u === "number" && Number.isFinite(u) ? u : null

/**
 * The verb of the `events` and `alerts` inserts, on both connections. The
 * default `ABORT` keeps a statement journal, which SQLite spills to a
 * temporary file for a large multi-row insert; `FAIL` keeps none, and the
 * error still rolls the whole transaction back: a batch is written whole or
 * not at all (figures: docs/benchmarks.md).
 */
export const appendVerb = "INSERT OR FAIL"

/** `appendVerb`, or `INSERT OR IGNORE` for `run_traces` (a pair may already be stored). */
export type InsertVerb = typeof appendVerb | "INSERT OR IGNORE"

/** `verb` of `rows` rows into `table`, one `?` per cell. */
export const insertText = (
  table: string,
  columns: ReadonlyArray<string>,
  rows: number,
  verb: InsertVerb
): string => {
  const tuple = `(${columns.map(() => "?").join(",")})`
  return `${verb} INTO ${table} (${columns.join(",")}) VALUES ${Array.from({ length: rows }, () => tuple).join(",")}`
}

/** The `run_traces` columns, in the order `runTraceRows` writes them (see migration 3). */
export const runTraceColumnNames = ["trace_id", "run_id", "ts"] as const

const TS = columnNames.indexOf("ts")
const RUN_ID = columnNames.indexOf("run_id")
const TRACE_ID = columnNames.indexOf("trace_id")

/**
 * The `run_traces` rows of a batch's `events` rows: each (trace, run) pair
 * once, with the time of its first event. A run's events mostly come one
 * after another, so most rows are skipped by comparing with the row before.
 */
export const runTraceRows = (events: ReadonlyArray<Cell>): Array<Cell> => {
  const out: Array<Cell> = []
  const seen = new Set<string>()
  let lastRun: Cell | undefined
  let lastTrace: Cell | undefined
  for (let at = 0; at < events.length; at += columnNames.length) {
    const run = events[at + RUN_ID]
    const trace = events[at + TRACE_ID]
    if (run === null || run === undefined || (run === lastRun && trace === lastTrace)) continue
    lastRun = run
    lastTrace = trace
    const key = `${trace}\u0000${run}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(trace ?? null, run, events[at + TS] ?? null)
  }
  return out
}

/**
 * Rows per multi-row `INSERT` (500 rows × 17 columns = 8 500 of SQLite's
 * 32 766 parameters): fewer, larger statements write faster than a
 * statement per row (docs/benchmarks.md).
 */
export const ROWS_PER_STATEMENT = 500

/**
 * Calls `f` with each statement's share of `cells` (rows of `width` cells):
 * 500 rows at a time, then powers of two, so whatever the batch sizes a
 * table needs at most ten statement texts, each built (or prepared) once.
 */
export const forEachStatement = (
  cells: ReadonlyArray<Cell>,
  width: number,
  f: (rows: number, part: ReadonlyArray<Cell>) => void
): void => {
  const total = cells.length / width
  let at = 0
  for (let left = total; left > 0;) {
    const rows = left >= ROWS_PER_STATEMENT ? ROWS_PER_STATEMENT : 2 ** Math.floor(Math.log2(left))
    f(rows, rows === total ? cells : cells.slice(at, at + rows * width))
    at += rows * width
    left -= rows
  }
}

/** `make(key)`, built on first use for each key and kept (statement texts by row count, statements by text). */
export const memo = <K, A>(make: (key: K) => A): (key: K) => A => {
  const made = new Map<K, A>()
  return (key) => {
    let a = made.get(key)
    if (a === undefined) {
      a = make(key)
      made.set(key, a)
    }
    return a
  }
}

/** The `alerts` columns, in the order `pushAlert` writes them. */
export const alertColumnNames = ["ts", "rule", "severity", "state", "value", "agent_id", "payload"] as const

/**
 * Appends the event's row to `out`, one cell per `columnNames` entry, and
 * returns its payload (the event as JSON). The typed columns are kept in step
 * with the backfill in migration 2, which derives the same columns from stored
 * payloads.
 */
export const pushRow = (out: Array<Cell>, event: TelemetryEvent): string => {
  const context = event.context
  const result = event.result
  const decision = event.metrics.decisions?.[0]
  const payload = JSON.stringify(event)
  out.push(
    event.timestamp,
    event.type,
    event.agentId,
    event.runId ?? null,
    event.traceId,
    event.spanId,
    event.parentSpanId ?? null,
    str(context["tool"]) ?? (result?._tag === "ToolOutput" ? result.tool : null),
    str(context["model"]) ?? (result?._tag === "ModelResult" ? result.model : null),
    num(event.metrics.latencyMs),
    num(event.metrics.tokensIn),
    num(event.metrics.tokensOut),
    num(event.metrics.memoryBytes),
    result?._tag === "Failure" ? result.error : str(context["error"]),
    decision?.validator ?? str(context["validator"]),
    decision?.decision ?? str(context["decision"]),
    payload
  )
  return payload
}

export const isAlert = (event: TelemetryEvent): boolean =>
  event.type === "alert.firing" || event.type === "alert.resolved"

/** Appends the alert's `alerts` row to `out`, one cell per `alertColumnNames` entry. */
export const pushAlert = (out: Array<Cell>, event: TelemetryEvent, payload: string): void => {
  out.push(
    event.timestamp,
    str(event.context["rule"]) ?? "unknown",
    str(event.context["severity"]) ?? "unknown",
    event.type === "alert.firing" ? "firing" : "resolved",
    num(event.context["value"]),
    event.agentId,
    payload
  )
}
