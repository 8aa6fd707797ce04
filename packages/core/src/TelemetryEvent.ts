/**
 * The unit of monitoring: everything an agent does is reported as one of
 * these, and the telemetry store, the monitors and the meta-layer read them.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ActionResult } from "./ActionResult.js"
import { AgentAction } from "./AgentAction.js"
import { DecisionRecord } from "./Decision.js"
import { AgentId, RunId, SpanId, TraceId } from "./Ids.js"

/** @since 0.1.0 @category schemas */
export const EventType = Schema.Literal(
  "run.start",
  "run.end",
  "run.error",
  "model.request",
  "model.response",
  "model.error",
  "tool.start",
  "tool.end",
  "tool.error",
  "validation.decision",
  "state.change",
  "memory.sample",
  "system.sample",
  "agent.start",
  "agent.stop",
  "agent.restart",
  "agent.escalation",
  "alert.firing",
  "alert.resolved"
)
/** @since 0.1.0 @category models */
export type EventType = typeof EventType.Type

/** Measurements attached to an event; each is present only where it applies. @since 0.1.0 @category schemas */
export const EventMetrics = Schema.Struct({
  latencyMs: Schema.optional(Schema.Number),
  tokensIn: Schema.optional(Schema.NonNegativeInt),
  tokensOut: Schema.optional(Schema.NonNegativeInt),
  memoryBytes: Schema.optional(Schema.NonNegativeInt),
  decisions: Schema.optional(Schema.Array(DecisionRecord))
}).annotations({ identifier: "@patinox/core/EventMetrics" })
/** @since 0.1.0 @category models */
export type EventMetrics = typeof EventMetrics.Type

/**
 * A plain-data struct, not a class: events are the most frequent objects in
 * the system and are built on every step, where a class constructor would
 * cost more than the rest of the report.
 *
 * @since 0.1.0 @category schemas
 */
export const TelemetryEvent = Schema.Struct({
  /** Epoch milliseconds from Effect's `Clock`. */
  timestamp: Schema.Number,
  traceId: TraceId,
  spanId: SpanId,
  parentSpanId: Schema.optional(SpanId),
  type: EventType,
  agentId: AgentId,
  runId: Schema.optional(RunId),
  action: Schema.optional(AgentAction),
  result: Schema.optional(ActionResult),
  metrics: EventMetrics,
  /** Free context: tool name, model name, request id, state names... */
  context: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}).annotations({ identifier: "@patinox/core/TelemetryEvent" })
/** @since 0.1.0 @category models */
export type TelemetryEvent = typeof TelemetryEvent.Type
