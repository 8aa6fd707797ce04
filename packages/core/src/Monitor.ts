/**
 * Where everything an agent does is reported. Reporting never blocks and
 * never fails the caller: a monitor that cannot keep up drops events and
 * counts them. `@patinox/monitoring` provides the production monitors; this
 * module provides the service tag, a helper that stamps events with the
 * clock and the current span, and a bounded in-memory monitor.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import type { ActionResult } from "./ActionResult.js"
import type { AgentAction } from "./AgentAction.js"
import type { AgentId, RunId } from "./Ids.js"
import { makeSpanId, makeTraceId, SpanId, TraceId } from "./Ids.js"
import { EventMetrics, type EventType, TelemetryEvent } from "./TelemetryEvent.js"

/** @since 0.1.0 @category models */
export interface Service {
  /** Must return promptly whatever happens downstream. */
  readonly record: (event: TelemetryEvent) => Effect.Effect<void>
}

/** @since 0.1.0 @category tags */
export class Monitor extends Context.Tag("@patinox/core/Monitor")<Monitor, Service>() {}

/** @since 0.1.0 @category models */
export interface EventInput {
  readonly type: EventType
  readonly agentId: AgentId
  readonly runId?: RunId | undefined
  readonly action?: AgentAction | undefined
  readonly result?: ActionResult | undefined
  readonly metrics?: ConstructorParameters<typeof EventMetrics>[0] | undefined
  readonly context?: Readonly<Record<string, unknown>> | undefined
}

// Effect's native tracer and OpenTelemetry both produce W3C ids; only the length is checked on this hot path.
const isHex = (value: string, length: number) => value.length === length

/**
 * Builds an event stamped with `Clock` time and the current span's trace and
 * span ids (fresh ids when there is no span), and records it.
 *
 * @since 0.1.0 @category reporting
 */
export const report = (input: EventInput): Effect.Effect<void, never, Monitor> =>
  Effect.gen(function*() {
    const monitor = yield* Monitor
    const timestamp = yield* Clock.currentTimeMillis
    const span = yield* Effect.option(Effect.currentSpan)
    let traceId: TraceId
    let spanId: SpanId
    let parentSpanId: SpanId | undefined
    if (Option.isSome(span) && isHex(span.value.traceId, 32) && isHex(span.value.spanId, 16)) {
      traceId = TraceId.make(span.value.traceId)
      spanId = SpanId.make(span.value.spanId)
      const parent = span.value.parent
      if (Option.isSome(parent) && isHex(parent.value.spanId, 16)) parentSpanId = SpanId.make(parent.value.spanId)
    } else {
      traceId = yield* makeTraceId
      spanId = yield* makeSpanId
    }
    yield* monitor.record(
      new TelemetryEvent({
        timestamp,
        traceId,
        spanId,
        parentSpanId,
        type: input.type,
        agentId: input.agentId,
        runId: input.runId,
        action: input.action,
        result: input.result,
        metrics: new EventMetrics(input.metrics ?? {}, true),
        context: input.context ?? {}
      }, true) // typed inputs: re-validating them on the hot path costs ~0.2 ms an event
    )
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
