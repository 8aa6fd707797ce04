import { Ids, type TelemetryEvent } from "@patinox/core"

const traceId = Ids.TraceId.make("0123456789abcdef0123456789abcdef")
const spanId = Ids.SpanId.make("0123456789abcdef")

/** A plain event as the loop would report it. */
export const event = (
  type: TelemetryEvent.EventType,
  fields: Partial<Omit<TelemetryEvent.TelemetryEvent, "type">> = {}
): TelemetryEvent.TelemetryEvent => ({
  timestamp: 0,
  traceId,
  spanId,
  type,
  agentId: Ids.AgentId.make("agent-1"),
  metrics: {},
  context: {},
  ...fields
})

export const runId = (id: string) => Ids.RunId.make(id)

