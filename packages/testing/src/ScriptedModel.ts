/**
 * A `LanguageModel` that answers from a script, for fast unit tests: no
 * network, no SDK. Replies are served in order (or computed by a responder);
 * every request is recorded so tests can assert what the agent sent.
 *
 * @since 0.1.0
 */
import { Errors, Ids, LanguageModel, Message, Usage } from "@patinox/core"
import { Context, Data, Duration, Effect, Layer, Ref, Stream } from "effect"

/** A scripted reply, held back by `delay` on Effect's clock (so `TestClock` controls it). @since 0.1.0 @category models */
export class Delayed extends Data.TaggedClass("Delayed")<{
  readonly reply: LanguageModel.ChatResponse | Errors.ModelError
  readonly delay: Duration.Duration
}> {}

/** A response to return, a model error to fail with, or either after a delay. @since 0.1.0 @category models */
export type Reply = LanguageModel.ChatResponse | Errors.ModelError | Delayed

/** Computes the reply to the `index`-th request (0-based). @since 0.1.0 @category models */
export type Responder = (request: LanguageModel.ChatRequest, index: number) => Reply

/** Scripted replies in order, or a responder for every request. @since 0.1.0 @category models */
export type Script = ReadonlyArray<Reply> | Responder

/** @since 0.1.0 @category models */
export interface Options {
  /** Provider name the service reports. Default `"scripted"`. */
  readonly provider?: string | undefined
  /** Model name the service reports. Default `"scripted-model"`. */
  readonly model?: string | undefined
}

/** What the scripted model was asked, in order. @since 0.1.0 @category models */
export interface RecorderService {
  readonly requests: Effect.Effect<ReadonlyArray<LanguageModel.ChatRequest>>
}

/** @since 0.1.0 @category tags */
export class Recorder extends Context.Tag("@patinox/testing/ScriptedModel/Recorder")<Recorder, RecorderService>() {}

const defaultModel = "scripted-model"
let nextCallId = 0

/**
 * A final text answer. Usage defaults to zero tokens.
 *
 * @since 0.1.0 @category constructors
 */
export const text = (content: string, usage?: Usage.Usage): LanguageModel.ChatResponse =>
  new LanguageModel.ChatResponse({
    model: defaultModel,
    message: new Message.AssistantMessage({ content, toolCalls: [] }),
    finishReason: "stop",
    usage: usage ?? Usage.zero
  })

/** A tool call request for `toolCalls`. @since 0.1.0 @category models */
export interface ToolCallSpec {
  readonly name: string
  readonly args: unknown
  readonly id?: string | undefined
}

/**
 * An answer that calls several tools at once. Ids default to fresh
 * `call_<n>` values.
 *
 * @since 0.1.0 @category constructors
 */
export const toolCalls = (calls: ReadonlyArray<ToolCallSpec>, usage?: Usage.Usage): LanguageModel.ChatResponse =>
  new LanguageModel.ChatResponse({
    model: defaultModel,
    message: new Message.AssistantMessage({
      content: null,
      toolCalls: calls.map((call) =>
        new Message.ToolCall({
          id: Ids.ToolCallId.make(call.id ?? `call_${++nextCallId}`),
          name: call.name,
          arguments: typeof call.args === "string" ? call.args : JSON.stringify(call.args)
        })
      )
    }),
    finishReason: "tool_calls",
    usage: usage ?? Usage.zero
  })

/**
 * An answer that calls one tool. `args` is JSON-encoded unless it is
 * already a string (pass a string to script malformed arguments).
 *
 * @since 0.1.0 @category constructors
 */
export const toolCall = (name: string, args: unknown, id?: string, usage?: Usage.Usage): LanguageModel.ChatResponse =>
  toolCalls([{ name, args, id }], usage)

/** Serves `reply` only after `delay` has passed on Effect's clock. @since 0.1.0 @category constructors */
export const delay = (reply: LanguageModel.ChatResponse | Errors.ModelError, duration: Duration.DurationInput): Delayed =>
  new Delayed({ reply, delay: Duration.decode(duration) })

const serve = (reply: Reply): Effect.Effect<LanguageModel.ChatResponse, Errors.ModelError> => {
  if (reply instanceof Delayed) return Effect.zipRight(Effect.sleep(reply.delay), serve(reply.reply))
  if (reply instanceof LanguageModel.ChatResponse) return Effect.succeed(reply)
  return Effect.fail(reply)
}

/**
 * Builds the model and its recorder. Once a scripted list runs out, calls
 * fail with `ModelResponseMalformed` ("script exhausted").
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  script: Script,
  options: Options = {}
): Effect.Effect<{ readonly model: LanguageModel.Service; readonly recorder: RecorderService }> =>
  Effect.gen(function*() {
    const provider = options.provider ?? "scripted"
    const requests = yield* Ref.make<ReadonlyArray<LanguageModel.ChatRequest>>([])

    const next = (request: LanguageModel.ChatRequest): Effect.Effect<LanguageModel.ChatResponse, Errors.ModelError> =>
      Ref.modify(requests, (all) => [all.length, [...all, request]]).pipe(
        Effect.flatMap((index) => {
          if (typeof script === "function") return serve(script(request, index))
          const reply = script[index]
          return reply === undefined
            ? Effect.fail(
              new Errors.ModelResponseMalformed({
                provider,
                reason: `script exhausted: request #${index + 1} but only ${script.length} replies were scripted`
              })
            )
            : serve(reply)
        })
      )

    const model: LanguageModel.Service = {
      provider,
      model: options.model ?? defaultModel,
      chat: (request) => {
        const timeout = request.options?.timeout
        const call = timeout === undefined ? next(request) : next(request).pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new Errors.ModelTimeout({ model: options.model ?? defaultModel, timeoutMs: Duration.toMillis(timeout) })
          })
        )
        return call.pipe(Effect.withSpan("ScriptedModel.chat"))
      },
      stream: (request) => Stream.unwrap(Effect.map(next(request), (response) => LanguageModel.toDeltas(response)))
    }
    return { model, recorder: { requests: Ref.get(requests) } }
  })

/**
 * Provides `LanguageModel.LanguageModel` and `Recorder`.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (script: Script, options: Options = {}): Layer.Layer<LanguageModel.LanguageModel | Recorder> =>
  Layer.effectContext(
    Effect.map(make(script, options), ({ model, recorder }) =>
      Context.make(LanguageModel.LanguageModel, model).pipe(Context.add(Recorder, recorder)))
  )
