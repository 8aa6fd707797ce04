/**
 * Where everything an agent does is reported. Reporting never blocks and
 * never fails the caller: a monitor that cannot keep up drops events and
 * counts them. `@patinox/monitoring` provides the production monitors; this
 * module provides the service tag, a helper that stamps events with the
 * clock and the current span, and a bounded in-memory monitor.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Tracer } from "effect"
import type { ActionResult } from "./ActionResult.js"
import type { AgentAction } from "./AgentAction.js"
import type { AgentId, RunId } from "./Ids.js"
import { SpanId, TraceId } from "./Ids.js"
import type { EventMetrics, EventType, TelemetryEvent } from "./TelemetryEvent.js"

/** @since 0.1.0 @category models */
export interface Service {
  /** Must return promptly whatever happens downstream. */
  readonly record: (event: TelemetryEvent) => Effect.Effect<void>
}

/** @since 0.1.0 @category tags */
export class Monitor extends Context.Tag("@patinox/core/Monitor")<Monitor, Service>() {}

/**
 * Whether `model.response` events carry the response itself (its text and
 * tool calls, in `context.response`), so that the meta-layer can replay a
 * run without calling the model. Off by default: responses are user data,
 * stored redacted like every payload, and they make events larger.
 *
 * @since 0.1.0 @category tags
 */
export class RecordModelResponses extends Context.Reference<RecordModelResponses>()(
  "@patinox/core/RecordModelResponses",
  { defaultValue: () => false }
) {}

/** @since 0.1.0 @category models */
export interface EventInput {
  readonly type: EventType
  readonly agentId: AgentId
  readonly runId?: RunId | undefined
  readonly action?: AgentAction | undefined
  readonly result?: ActionResult | undefined
  readonly metrics?: EventMetrics | undefined
  readonly context?: Readonly<Record<string, unknown>> | undefined
}

// Effect's native tracer and OpenTelemetry both produce W3C ids; only the length is checked on this hot path.
const hasLength = (value: string, length: number) => value.length === length

const noMetrics: EventMetrics = {}
const noContext: Readonly<Record<string, unknown>> = {}

let fallbackCounter = 0
/** Ids for events reported outside any span: cheap, unique per process, valid W3C shape. */
const fallbackIds = (now: number): { traceId: TraceId; spanId: SpanId } => {
  const n = (++fallbackCounter).toString(16).padStart(8, "0")
  const t = Math.max(1, now).toString(16).padStart(12, "0")
  return { traceId: TraceId.make(`${t}${n}${"0".repeat(11)}1`, true), spanId: SpanId.make(`${n}${"0".repeat(7)}1`, true) }
}

/**
 * Builds an event stamped with `Clock` time and the current span's trace and
 * span ids, and records it. Outside any span the event gets ids of its own.
 *
 * Written without generators or service lookups by exception: it runs a few
 * dozen times per agent run, on the hot path.
 *
 * @since 0.1.0 @category reporting
 */
export const report = (input: EventInput): Effect.Effect<void, never, Monitor> =>
  Effect.contextWithEffect((context: Context.Context<Monitor>) => {
    const monitor = Context.get(context, Monitor)
    const span = Context.getOption(context, Tracer.ParentSpan)
    return Effect.clockWith((clock) => {
      const timestamp = clock.unsafeCurrentTimeMillis()
      let ids: { traceId: TraceId; spanId: SpanId; parentSpanId?: SpanId | undefined }
      if (Option.isSome(span) && hasLength(span.value.traceId, 32) && hasLength(span.value.spanId, 16)) {
        const parent = span.value._tag === "Span" ? span.value.parent : Option.none()
        // Already W3C ids (checked by length): branded without re-validating.
        ids = {
          traceId: TraceId.make(span.value.traceId, true),
          spanId: SpanId.make(span.value.spanId, true),
          parentSpanId: Option.isSome(parent) && hasLength(parent.value.spanId, 16)
            ? SpanId.make(parent.value.spanId, true)
            : undefined
        }
      } else {
        ids = fallbackIds(timestamp)
      }
      const event: TelemetryEvent = {
        timestamp,
        ...ids,
        type: input.type,
        agentId: input.agentId,
        runId: input.runId,
        action: input.action,
        result: input.result,
        metrics: input.metrics ?? noMetrics,
        context: input.context ?? noContext
      }
      return monitor.record(event)
    })
  })

/**
 * A monitor that keeps the last `capacity` events in memory, oldest dropped
 * first, and counts what it dropped. For tests and for small embedded uses.
 *
 * @since 0.1.0 @category tags
 */
export class MemoryMonitor extends Context.Tag("@patinox/core/MemoryMonitor")<MemoryMonitor, {
  readonly events: Effect.Effect<ReadonlyArray<TelemetryEvent>>
  readonly dropped: Effect.Effect<number>
  readonly clear: Effect.Effect<void>
}>() {}

/** @since 0.1.0 @category constructors */
export const makeMemory = (capacity: number) =>
  Effect.gen(function*() {
    if (!Number.isInteger(capacity) || capacity < 1) {
      return yield* Effect.dieMessage(`MemoryMonitor capacity must be a positive integer, got ${capacity}`)
    }
    // A ring buffer: recording is O(1) however full the monitor is.
    const ring: Array<TelemetryEvent | undefined> = new Array(capacity)
    let next = 0
    let size = 0
    let dropped = 0
    const monitor: Service = {
      record: (event) =>
        Effect.sync(() => {
          ring[next] = event
          next = (next + 1) % capacity
          if (size < capacity) size++
          else dropped++
        })
    }
    const memory: Context.Tag.Service<MemoryMonitor> = {
      events: Effect.sync(() => {
        const out: Array<TelemetryEvent> = []
        const start = (next - size + capacity) % capacity
        for (let i = 0; i < size; i++) {
          const event = ring[(start + i) % capacity]
          if (event !== undefined) out.push(event)
        }
        return out
      }),
      dropped: Effect.sync(() => dropped),
      clear: Effect.sync(() => {
        ring.fill(undefined)
        next = 0
        size = 0
        dropped = 0
      })
    }
    return { monitor, memory }
  })

/**
 * Provides `Monitor` and, to read what it recorded, `MemoryMonitor`.
 *
 * @since 0.1.0 @category layers
 */
export const layerMemory = (capacity = 10_000): Layer.Layer<Monitor | MemoryMonitor> =>
  Layer.effectContext(
    Effect.map(makeMemory(capacity), ({ memory, monitor }) =>
      Context.make(Monitor, monitor).pipe(Context.add(MemoryMonitor, memory)))
  )
