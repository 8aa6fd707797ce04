/**
 * The one service through which agents talk to a model. Providers implement
 * it (`@patinox/provider-openai`), tests script it (`@patinox/testing`).
 *
 * @since 0.1.0
 */
import { Chunk, Context, Data, type Duration, Effect, Option, Schema, Stream } from "effect"
import { FinishReason } from "./ActionResult.js"
import type { ModelError } from "./Errors.js"
import { ModelResponseMalformed } from "./Errors.js"
import { ToolCallId } from "./Ids.js"
import { AssistantMessage, type Message, ToolCall } from "./Message.js"
import { Usage } from "./Usage.js"

/** A tool as the model sees it: a JSON Schema for its arguments. @since 0.1.0 @category models */
export interface ToolDefinition {
  readonly name: string
  readonly description: string
  readonly parameters: Readonly<Record<string, unknown>>
}

/** @since 0.1.0 @category models */
export interface ChatOptions {
  readonly temperature?: number | undefined
  readonly maxOutputTokens?: number | undefined
  /** Overrides the provider's configured model name for this call. */
  readonly model?: string | undefined
  /**
   * The call must finish within this, or fail with `ModelTimeout`. Every
   * implementation honours it (the agent loop relies on it rather than
   * racing a timer of its own around the call).
   */
  readonly timeout?: Duration.Duration | undefined
}

/** @since 0.1.0 @category models */
export interface ChatRequest {
  readonly messages: ReadonlyArray<Message>
  readonly tools: ReadonlyArray<ToolDefinition>
  readonly options?: ChatOptions | undefined
}

/** @since 0.1.0 @category schemas */
export class ChatResponse extends Schema.Class<ChatResponse>("@patinox/core/ChatResponse")({
  id: Schema.optional(Schema.String),
  model: Schema.String,
  message: AssistantMessage,
  finishReason: FinishReason,
  usage: Usage
}) {
  get toolCalls(): ReadonlyArray<ToolCall> {
    return this.message.toolCalls
  }
}

/**
 * A streamed piece of a response. A stream is text and tool-call pieces in
 * any interleaving, ending with exactly one `Finish` that carries the usage.
 *
 * @since 0.1.0 @category models
 */
export type ChatDelta = Data.TaggedEnum<{
  TextDelta: { readonly text: string }
  ToolCallDelta: {
    readonly index: number
    readonly id?: string | undefined
    readonly name?: string | undefined
    readonly argumentsDelta: string
  }
  Finish: { readonly finishReason: FinishReason; readonly usage: Usage; readonly model: string; readonly id?: string | undefined }
}>

/** @since 0.1.0 @category constructors */
export const { TextDelta, ToolCallDelta, Finish } = Data.taggedEnum<ChatDelta>()

/**
 * A model. An implementation retries its own transient failures (it alone
 * knows which of its errors are): callers, the agent loop included, do not
 * retry on top of it, so that a failing request costs one policy's attempts.
 *
 * @since 0.1.0 @category models
 */
export interface Service {
  /** Provider name as in the GenAI semantic conventions (`openai`, `ollama`, ...). */
  readonly provider: string
  /** The model requests go to unless a call overrides it. */
  readonly model: string
  readonly chat: (request: ChatRequest) => Effect.Effect<ChatResponse, ModelError>
  readonly stream: (request: ChatRequest) => Stream.Stream<ChatDelta, ModelError>
  /**
   * A cheap request that says whether the provider answers now (readiness
   * probes); absent for models that are not behind a network.
   */
  readonly ping?: Effect.Effect<boolean> | undefined
}

/** @since 0.1.0 @category tags */
export class LanguageModel extends Context.Tag("@patinox/core/LanguageModel")<LanguageModel, Service>() {}

interface PendingToolCall {
  id: string | undefined
  name: string
  arguments: string
}

/**
 * Assembles a stream of deltas into the response a non-streaming call would
 * have returned. Fails with `ModelResponseMalformed` if the stream ends
 * without a `Finish` or a tool call never got an id or a name.
 *
 * @since 0.1.0 @category combinators
 */
export const collect = <E, R>(
  provider: string,
  stream: Stream.Stream<ChatDelta, E, R>
): Effect.Effect<ChatResponse, E | ModelResponseMalformed, R> =>
  Stream.runFold(
    stream,
    { text: [] as Array<string>, calls: new Map<number, PendingToolCall>(), finish: Option.none<ChatDelta & { _tag: "Finish" }>() },
    (acc, delta) => {
      switch (delta._tag) {
        case "TextDelta":
          acc.text.push(delta.text)
          break
        case "ToolCallDelta": {
          const pending = acc.calls.get(delta.index) ?? { id: undefined, name: "", arguments: "" }
          if (delta.id !== undefined) pending.id = delta.id
          if (delta.name !== undefined) pending.name += delta.name
          pending.arguments += delta.argumentsDelta
          acc.calls.set(delta.index, pending)
          break
        }
        case "Finish":
          acc.finish = Option.some(delta)
          break
      }
      return acc
    }
  ).pipe(
    Effect.flatMap((acc) => {
      if (Option.isNone(acc.finish)) {
        return Effect.fail(new ModelResponseMalformed({ provider, reason: "stream ended without a finish event" }))
      }
      const finish = acc.finish.value
      const toolCalls: Array<ToolCall> = []
      for (const [index, call] of [...acc.calls.entries()].sort(([a], [b]) => a - b)) {
        if (call.id === undefined || call.id === "" || call.name === "") {
          return Effect.fail(
            new ModelResponseMalformed({ provider, reason: `streamed tool call #${index} has no id or name` })
          )
        }
        toolCalls.push(new ToolCall({ id: ToolCallId.make(call.id), name: call.name, arguments: call.arguments || "{}" }))
      }
      const text = acc.text.join("")
      return Effect.succeed(
        new ChatResponse({
          id: finish.id,
          model: finish.model,
          finishReason: finish.finishReason,
          usage: finish.usage,
          message: new AssistantMessage({ content: text === "" && toolCalls.length > 0 ? null : text, toolCalls })
        })
      )
    })
  )

/**
 * Replays a complete response as a stream of deltas: the text in pieces of
 * `chunkSize` characters, each tool call's arguments likewise, then `Finish`.
 * Useful for models that cannot stream.
 *
 * @since 0.1.0 @category combinators
 */
export const toDeltas = (response: ChatResponse, chunkSize = 16): Stream.Stream<ChatDelta> => {
  const deltas: Array<ChatDelta> = []
  const text = response.message.content ?? ""
  for (let i = 0; i < text.length; i += chunkSize) deltas.push(TextDelta({ text: text.slice(i, i + chunkSize) }))
  response.message.toolCalls.forEach((call, index) => {
    deltas.push(ToolCallDelta({ index, id: call.id, name: call.name, argumentsDelta: "" }))
    for (let i = 0; i < call.arguments.length; i += chunkSize) {
      deltas.push(ToolCallDelta({ index, argumentsDelta: call.arguments.slice(i, i + chunkSize) }))
    }
  })
  deltas.push(Finish({ finishReason: response.finishReason, usage: response.usage, model: response.model, id: response.id }))
  return Stream.fromChunk(Chunk.unsafeFromArray(deltas))
}
