import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"

/** One `events` row; the column names are the table's. A type alias, so it fits `sql.insert`. */
export type EventRow = {
  readonly ts: number
  readonly type: string
  readonly agent_id: string
  readonly run_id: string | null
  readonly trace_id: string
  readonly span_id: string
  readonly parent_span_id: string | null
  readonly tool: string | null
  readonly model: string | null
  readonly latency_ms: number | null
  readonly tokens_in: number | null
  readonly tokens_out: number | null
  readonly memory_bytes: number | null
  readonly error_tag: string | null
  readonly validator: string | null
  readonly decision: string | null
  readonly payload: string
}

/** One `alerts` row. */
export type AlertRow = {
  readonly ts: number
  readonly rule: string
  readonly severity: string
  readonly state: string
  readonly value: number | null
  readonly agent_id: string
  readonly payload: string
}

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
 * The typed columns of an event. Kept in step with the backfill in
 * migration 2, which derives the same columns from stored payloads.
 */
export const toRow = (event: TelemetryEvent): EventRow => {
  const context = event.context
  const result = event.result
  const decision = event.metrics.decisions?.[0]
  return {
    ts: event.timestamp,
    type: event.type,
    agent_id: event.agentId,
    run_id: event.runId ?? null,
    trace_id: event.traceId,
    span_id: event.spanId,
    parent_span_id: event.parentSpanId ?? null,
    tool: str(context["tool"]) ?? (result?._tag === "ToolOutput" ? result.tool : null),
    model: str(context["model"]) ?? (result?._tag === "ModelResult" ? result.model : null),
    latency_ms: num(event.metrics.latencyMs),
    tokens_in: num(event.metrics.tokensIn),
    tokens_out: num(event.metrics.tokensOut),
    memory_bytes: num(event.metrics.memoryBytes),
    error_tag: result?._tag === "Failure" ? result.error : str(context["error"]),
    validator: decision?.validator ?? str(context["validator"]),
    decision: decision?.decision ?? str(context["decision"]),
    payload: JSON.stringify(event)
  }
}

export const isAlert = (event: TelemetryEvent): boolean =>
  event.type === "alert.firing" || event.type === "alert.resolved"

export const toAlertRow = (event: TelemetryEvent, payload: string): AlertRow => ({
  ts: event.timestamp,
  rule: str(event.context["rule"]) ?? "unknown",
  severity: str(event.context["severity"]) ?? "unknown",
  state: event.type === "alert.firing" ? "firing" : "resolved",
  value: num(event.context["value"]),
  agent_id: event.agentId,
  payload
})
