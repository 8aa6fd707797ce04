/**
 * Branded identifiers. A `RunId` can never be passed where an `AgentId` is
 * expected, even though both are strings on the wire.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"

/** @since 0.1.0 @category schemas */
export const AgentId = Schema.NonEmptyTrimmedString.pipe(Schema.brand("@patinox/AgentId"))
/** @since 0.1.0 @category models */
export type AgentId = typeof AgentId.Type

/** @since 0.1.0 @category schemas */
export const RunId = Schema.NonEmptyString.pipe(Schema.brand("@patinox/RunId"))
/** @since 0.1.0 @category models */
export type RunId = typeof RunId.Type

/** W3C trace id: 32 lowercase hex characters, not all zero. @since 0.1.0 @category schemas */
export const TraceId = Schema.String.pipe(
  Schema.pattern(/^(?!0{32})[0-9a-f]{32}$/),
  Schema.brand("@patinox/TraceId")
)
/** @since 0.1.0 @category models */
export type TraceId = typeof TraceId.Type

/** W3C span id: 16 lowercase hex characters, not all zero. @since 0.1.0 @category schemas */
export const SpanId = Schema.String.pipe(
  Schema.pattern(/^(?!0{16})[0-9a-f]{16}$/),
  Schema.brand("@patinox/SpanId")
)
/** @since 0.1.0 @category models */
export type SpanId = typeof SpanId.Type

/** Id the model gives a tool call; opaque, provider-defined. @since 0.1.0 @category schemas */
export const ToolCallId = Schema.NonEmptyString.pipe(Schema.brand("@patinox/ToolCallId"))
/** @since 0.1.0 @category models */
export type ToolCallId = typeof ToolCallId.Type

const hex = (bytes: number): string => {
  const buffer = new Uint8Array(bytes)
  globalThis.crypto.getRandomValues(buffer)
  let out = ""
  for (const byte of buffer) out += byte.toString(16).padStart(2, "0")
  return out
}

/** A fresh random run id. @since 0.1.0 @category constructors */
export const makeRunId: Effect.Effect<RunId> = Effect.sync(() => RunId.make(globalThis.crypto.randomUUID()))

/** A fresh random W3C trace id. @since 0.1.0 @category constructors */
export const makeTraceId: Effect.Effect<TraceId> = Effect.sync(() => {
  let id = hex(16)
  while (/^0+$/.test(id)) id = hex(16)
  return TraceId.make(id)
})

/** A fresh random W3C span id. @since 0.1.0 @category constructors */
export const makeSpanId: Effect.Effect<SpanId> = Effect.sync(() => {
  let id = hex(8)
  while (/^0+$/.test(id)) id = hex(8)
  return SpanId.make(id)
})
