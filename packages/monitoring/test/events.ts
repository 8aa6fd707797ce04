import { Ids, type TelemetryEvent } from "@patinox/core"
import { Effect } from "effect"

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

/** Polls `check` (a millisecond apart: consumers read the bus in batches) until it holds, for up to 10 s. */
export const eventually = <A, R>(effect: Effect.Effect<A, never, R>, check: (a: A) => boolean, tries = 10_000) =>
  Effect.gen(function*() {
    let last = yield* effect
    for (let i = 0; i < tries && !check(last); i++) {
      // a real millisecond, also under the TestClock of `it.effect`
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
      last = yield* effect
    }
    return last
  })
