/**
 * `LanguageModel` on the official `openai` SDK's chat completions, for OpenAI
 * and OpenAI-compatible servers (Ollama, vLLM, LM Studio, ...).
 *
 * This is the one retry layer between an agent and the model: it maps each
 * HTTP status, `retry-after` header and broken body to a typed error, so it
 * knows which failures are transient, and for a stream whether output already
 * went out. The SDK's own retries are off (`maxRetries: 0`) and the agent loop
 * does not retry. Each attempt has its own timeout; interrupting a call (the
 * run's deadline) aborts its HTTP request.
 *
 * @since 0.1.0
 */
import { Errors, Ids, LanguageModel, Message, Recovery, Usage } from "@patinox/core"
import {
  Config,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  ParseResult,
  Redacted,
  Ref,
  Schedule,
  Schema,
  Stream
} from "effect"
import OpenAI from "openai"
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool
} from "openai/resources/chat/completions"

/** @since 0.1.0 @category models */
export interface Options {
  /** `undefined` for servers that need no key (a placeholder is sent, since the SDK requires one). */
  readonly apiKey: Redacted.Redacted<string> | undefined
  /** Default `https://api.openai.com/v1`. The SDK's own `OPENAI_BASE_URL` lookup is bypassed. */
  readonly baseURL?: string | undefined
  readonly model: string
  /** Provider name for the GenAI semantic conventions. Default `"openai"`. */
  readonly provider?: string | undefined
  readonly organization?: string | undefined
  readonly project?: string | undefined
  /** Per attempt: the whole call for `chat`, until the response headers for `stream`. Default 60 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Default `Recovery.defaultRetryPolicy`: 4 attempts in all for a transient failure. */
  readonly retryPolicy?: Recovery.RetryPolicy | undefined
  /**
   * Which request field carries `maxOutputTokens`. OpenAI deprecated
   * `max_tokens` and its reasoning models reject it, while older
   * OpenAI-compatible servers only know `max_tokens`. Default:
   * `max_completion_tokens` for api.openai.com, `max_tokens` elsewhere.
   */
  readonly maxTokensField?: "max_completion_tokens" | "max_tokens" | undefined
}

const defaultBaseURL = "https://api.openai.com/v1"
const defaultTimeout = Duration.seconds(60)
/** Sent when no key is configured; local servers ignore it. */
const placeholderKey = "no-api-key"

// ---------------------------------------------------------------------------
// wire schemas: the SDK's types trust the server, these check it
// ---------------------------------------------------------------------------

const NullableString = Schema.optional(Schema.NullOr(Schema.String))
const NullableNumber = Schema.optional(Schema.NullOr(Schema.Number))

const WireUsage = Schema.Struct({ prompt_tokens: NullableNumber, completion_tokens: NullableNumber })

const WireCompletion = Schema.Struct({
  id: NullableString,
  model: NullableString,
  choices: Schema.NonEmptyArray(Schema.Struct({
    message: Schema.Struct({
      content: NullableString,
      refusal: NullableString,
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
        id: NullableString,
        type: NullableString,
        function: Schema.Struct({ name: Schema.String, arguments: NullableString })
      }))))
    }),
    finish_reason: NullableString
  })),
  usage: Schema.optional(Schema.NullOr(WireUsage))
})

const WireChunk = Schema.Struct({
  id: NullableString,
  model: NullableString,
  choices: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
    index: NullableNumber,
    delta: Schema.optional(Schema.NullOr(Schema.Struct({
      content: NullableString,
      refusal: NullableString,
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
        index: Schema.Number,
        id: NullableString,
        function: Schema.optional(Schema.NullOr(Schema.Struct({ name: NullableString, arguments: NullableString })))
      }))))
    }))),
    finish_reason: NullableString
  })))),
  usage: Schema.optional(Schema.NullOr(WireUsage))
})
type WireChunk = typeof WireChunk.Type

const decodeCompletion = Schema.decodeUnknownEither(WireCompletion)

// A hand-written check at least as strict as `WireCompletion`: a well-formed
// response (nearly all of them) skips the full Schema decode, which costs more
// than the rest of the mapping; anything it refuses goes through the decode,
// which decides and explains.
type Loose = { readonly [key: string]: unknown }
const isObject = (u: unknown): u is Loose => typeof u === "object" && u !== null && !Array.isArray(u)
const isNullableString = (u: unknown) => u === undefined || u === null || typeof u === "string"
const isNullableNumber = (u: unknown) => u === undefined || u === null || typeof u === "number"
const isWellFormedCall = (call: unknown): boolean =>
  isObject(call) && isNullableString(call["id"]) && isNullableString(call["type"]) && isObject(call["function"]) &&
  typeof call["function"]["name"] === "string" && isNullableString(call["function"]["arguments"])
const isWellFormedChoice = (choice: unknown): boolean => {
  if (!isObject(choice) || !isNullableString(choice["finish_reason"])) return false
  const message = choice["message"]
  if (!isObject(message) || !isNullableString(message["content"]) || !isNullableString(message["refusal"])) return false
  const calls = message["tool_calls"]
  return calls === undefined || calls === null || (Array.isArray(calls) && calls.every(isWellFormedCall))
}
const isWellFormedCompletion = (raw: unknown): raw is typeof WireCompletion.Type => {
  if (!isObject(raw) || !isNullableString(raw["id"]) || !isNullableString(raw["model"])) return false
  const choices = raw["choices"]
  if (!Array.isArray(choices) || choices.length === 0 || !choices.every(isWellFormedChoice)) return false
  const usage = raw["usage"]
  return usage === undefined || usage === null ||
    (isObject(usage) && isNullableNumber(usage["prompt_tokens"]) && isNullableNumber(usage["completion_tokens"]))
}
const decodeChunk = Schema.decodeUnknownEither(WireChunk)

// ---------------------------------------------------------------------------
// mapping
// ---------------------------------------------------------------------------

const toWireMessage = (message: Message.Message): ChatCompletionMessageParam => {
  switch (message._tag) {
    case "system":
      return { role: "system", content: message.content }
    case "user":
      return { role: "user", content: message.content }
    case "assistant":
      return message.toolCalls.length === 0
        ? { role: "assistant", content: message.content }
        : {
          role: "assistant",
          content: message.content,
          tool_calls: message.toolCalls.map((call) => ({
            id: call.id,
            type: "function",
            function: { name: call.name, arguments: call.arguments }
          }))
        }
    case "tool":
      return { role: "tool", tool_call_id: message.toolCallId, content: message.content }
  }
}

const toWireTool = (tool: LanguageModel.ToolDefinition): ChatCompletionTool => ({
  type: "function",
  function: { name: tool.name, description: tool.description, parameters: { ...tool.parameters } }
})

const toFinishReason = (reason: string | null | undefined): LanguageModel.ChatResponse["finishReason"] => {
  switch (reason) {
    case "stop":
    case "length":
    case "tool_calls":
    case "content_filter":
      return reason
    case "function_call":
      return "tool_calls"
    default:
      return "unknown"
  }
}

const tokens = (n: number | null | undefined): number =>
  typeof n === "number" && Number.isFinite(n) && n > 0 ? Math.trunc(n) : 0

const toUsage = (usage: typeof WireUsage.Type | null | undefined): Usage.Usage =>
  usage === null || usage === undefined
    ? Usage.zero
    : new Usage.Usage({ inputTokens: tokens(usage.prompt_tokens), outputTokens: tokens(usage.completion_tokens) }, true)

/** Parses `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date). */
const retryAfterMsOf = (headers: Headers | undefined): number | undefined => {
  if (headers === undefined) return undefined
  const ms = headers.get("retry-after-ms")
  if (ms !== null) {
    const value = Number.parseFloat(ms)
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value)
  }
  const after = headers.get("retry-after")
  if (after === null) return undefined
  const seconds = Number(after.trim())
  if (after.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000)
  // An HTTP date is wall-clock time, so it is compared with the wall clock.
  const date = Date.parse(after)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

interface ErrorContext {
  readonly provider: string
  readonly model: string
  readonly timeoutMs: number
  readonly apiKey: string | undefined
}

const redact = (context: ErrorContext, text: string): string =>
  context.apiKey !== undefined && context.apiKey.length > 0 ? text.split(context.apiKey).join("[redacted]") : text

const describe = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (${error.cause.message})` : ""
  return `${error.message}${cause}`
}

const fromSdkError = (context: ErrorContext, error: unknown): Errors.ModelError => {
  const provider = context.provider
  const reason = redact(context, describe(error))
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new Errors.ModelTimeout({ model: context.model, timeoutMs: context.timeoutMs })
  }
  if (error instanceof OpenAI.APIUserAbortError) {
    return new Errors.ModelConnectionFailed({ provider, reason: "the request was aborted" })
  }
  if (error instanceof OpenAI.APIConnectionError) return new Errors.ModelConnectionFailed({ provider, reason })
  if (error instanceof OpenAI.APIError) {
    const status = error.status
    const retryAfterMs = retryAfterMsOf(error.headers)
    if (status === undefined) {
      // An error event inside an otherwise successful stream: the server gave up mid-answer.
      return new Errors.ModelUnavailable({ provider, status: 500, reason: `error event in stream: ${reason}` })
    }
    if (status === 429) return new Errors.ModelRateLimited({ provider, reason, retryAfterMs })
    if (status === 401 || status === 403) return new Errors.ModelAuthenticationFailed({ provider, status, reason })
    if (status === 408) return new Errors.ModelTimeout({ model: context.model, timeoutMs: context.timeoutMs })
    if (status >= 500) return new Errors.ModelUnavailable({ provider, status, reason, retryAfterMs })
    return new Errors.ModelRequestRejected({ provider, status, reason, code: error.code ?? undefined })
  }
  if (error instanceof SyntaxError) return new Errors.ModelResponseMalformed({ provider, reason: `invalid JSON: ${reason}` })
  if (error instanceof OpenAI.OpenAIError) return new Errors.ModelResponseMalformed({ provider, reason })
  // Anything else comes from fetch reading the body: the connection broke (undici's "terminated").
  return new Errors.ModelConnectionFailed({ provider, reason })
}

const malformed = (provider: string, error: ParseResult.ParseError): Errors.ModelResponseMalformed =>
  new Errors.ModelResponseMalformed({ provider, reason: ParseResult.TreeFormatter.formatErrorSync(error) })

const toChatResponse = (
  provider: string,
  requestedModel: string,
  raw: unknown
): Effect.Effect<LanguageModel.ChatResponse, Errors.ModelResponseMalformed> =>
  Either.match(isWellFormedCompletion(raw) ? Either.right(raw) : decodeCompletion(raw), {
    onLeft: (error) => Effect.fail(malformed(provider, error)),
    onRight: (completion) =>
      Effect.try({
        try: () => {
          const choice = completion.choices[0]
          const toolCalls = (choice.message.tool_calls ?? []).map((call, index) => {
            if (call.type !== undefined && call.type !== null && call.type !== "function") {
              throw new Error(`tool call #${index} has unsupported type "${call.type}"`)
            }
            if (call.id === undefined || call.id === null || call.id === "") throw new Error(`tool call #${index} has no id`)
            return new Message.ToolCall({
              id: Ids.ToolCallId.make(call.id),
              name: call.function.name,
              arguments: call.function.arguments || "{}"
            }, true)
          })
          const refusal = choice.message.refusal
          const refused = (choice.message.content ?? null) === null && typeof refusal === "string" && refusal !== ""
          return new LanguageModel.ChatResponse({
            id: completion.id ?? undefined,
            model: completion.model ?? requestedModel,
            finishReason: refused ? "content_filter" : toFinishReason(choice.finish_reason),
            usage: toUsage(completion.usage),
            message: new Message.AssistantMessage({
              content: refused ? refusal : choice.message.content ?? null,
              toolCalls
            }, true)
          }, true) // the wire body was decoded with a Schema above: these fields are already checked
        },
        catch: (error) => new Errors.ModelResponseMalformed({ provider, reason: describe(error) })
      })
  })

interface StreamState {
  id: string | undefined
  model: string
  finishReason: string | undefined
  usage: Usage.Usage
}

const chunkToDeltas = (state: StreamState, chunk: WireChunk): Array<LanguageModel.ChatDelta> => {
  if (chunk.id !== undefined && chunk.id !== null && chunk.id !== "") state.id = chunk.id
  if (chunk.model !== undefined && chunk.model !== null && chunk.model !== "") state.model = chunk.model
  if (chunk.usage !== undefined && chunk.usage !== null) state.usage = toUsage(chunk.usage)
  const deltas: Array<LanguageModel.ChatDelta> = []
  for (const choice of chunk.choices ?? []) {
    // Only one choice is ever requested (n defaults to 1).
    if ((choice.index ?? 0) !== 0) continue
    const delta = choice.delta
    if (delta !== undefined && delta !== null) {
      if (typeof delta.content === "string" && delta.content !== "") deltas.push(LanguageModel.TextDelta({ text: delta.content }))
      for (const call of delta.tool_calls ?? []) {
        deltas.push(LanguageModel.ToolCallDelta({
          index: call.index,
          id: call.id ?? undefined,
          name: call.function?.name ?? undefined,
          argumentsDelta: call.function?.arguments ?? ""
        }))
      }
    }
    if (choice.finish_reason !== undefined && choice.finish_reason !== null) state.finishReason = choice.finish_reason
  }
  return deltas
}

// ---------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------

const isOpenAiHost = (baseURL: string): boolean => {
  try {
    return new URL(baseURL).hostname === "api.openai.com"
  } catch {
    return false
  }
}

/** A readiness probe's bound: a provider slower than this to list its models is not answering. */
const pingTimeoutMs = 2_000

/**
 * Builds the service. Fails with `ConfigurationInvalid` for a base URL that
 * is not a URL or a timeout under 1 ms.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (options: Options): Effect.Effect<LanguageModel.Service, Errors.ConfigurationInvalid> =>
  Effect.gen(function*() {
    const provider = options.provider ?? "openai"
    const baseURL = options.baseURL ?? defaultBaseURL
    const timeoutMs = Math.round(Duration.toMillis(options.timeout ?? defaultTimeout))
    const policy = options.retryPolicy ?? Recovery.defaultRetryPolicy
    const maxTokensField = options.maxTokensField ?? (isOpenAiHost(baseURL) ? "max_completion_tokens" : "max_tokens")
    const apiKey = options.apiKey === undefined ? undefined : Redacted.value(options.apiKey)

    if (!Number.isFinite(timeoutMs) || timeoutMs < 1) {
      return yield* new Errors.ConfigurationInvalid({ key: "timeout", reason: "must be at least 1 millisecond" })
    }
    const host = yield* Effect.try({
      try: () => new URL(baseURL).hostname,
      catch: () => new Errors.ConfigurationInvalid({ key: "baseURL", reason: `"${baseURL}" is not a URL` })
    })
    const client = yield* Effect.try({
      try: () =>
        new OpenAI({
          apiKey: apiKey === undefined || apiKey === "" ? placeholderKey : apiKey,
          baseURL,
          organization: options.organization ?? null,
          project: options.project ?? null,
          maxRetries: 0,
          timeout: timeoutMs
        }),
      catch: (error) =>
        new Errors.ConfigurationInvalid({
          key: "OpenAI client",
          reason: redact({ provider, model: options.model, timeoutMs, apiKey }, describe(error))
        })
    })

    const contextFor = (model: string): ErrorContext => ({ provider, model, timeoutMs, apiKey })

    const body = (request: LanguageModel.ChatRequest) => {
      const opts = request.options
      return {
        model: opts?.model ?? options.model,
        messages: request.messages.map(toWireMessage),
        ...(request.tools.length > 0 ? { tools: request.tools.map(toWireTool) } : {}),
        ...(opts?.temperature !== undefined ? { temperature: opts.temperature } : {}),
        ...(opts?.maxOutputTokens === undefined
          ? {}
          : maxTokensField === "max_tokens"
          ? { max_tokens: opts.maxOutputTokens }
          : { max_completion_tokens: opts.maxOutputTokens })
      }
    }

    const annotate = (request: LanguageModel.ChatRequest) =>
      Effect.annotateCurrentSpan({
        "gen_ai.provider.name": provider,
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": request.options?.model ?? options.model,
        "server.address": host
      })

    const annotateResponse = (response: { readonly model: string; readonly usage: Usage.Usage; readonly finishReason: string }) =>
      Effect.annotateCurrentSpan({
        "gen_ai.response.model": response.model,
        // @effect/opentelemetry would pretty-print an array: a compact JSON string instead
        "gen_ai.response.finish_reasons": JSON.stringify([response.finishReason])
      })

    const chatOnce = (request: LanguageModel.ChatRequest): Effect.Effect<LanguageModel.ChatResponse, Errors.ModelError> => {
      const params: ChatCompletionCreateParamsNonStreaming = body(request)
      // The caller's timeout (the agent's per-call budget) if it is the tighter one.
      const callTimeoutMs = request.options?.timeout === undefined
        ? timeoutMs
        : Math.max(1, Math.min(timeoutMs, Math.round(Duration.toMillis(request.options.timeout))))
      const context = { ...contextFor(params.model), timeoutMs: callTimeoutMs }
      return Effect.suspend(() => {
        // The SDK's own timeout stops at the response headers; a deadline on the fetch's
        // signal also bounds reading the body, without racing a second fiber per call.
        // A timer of our own, cleared when the call settles: `AbortSignal.timeout` with
        // `AbortSignal.any` kept each call's signals, listeners and the SDK's controller
        // alive until the deadline passed (about 3 KB per call, for minutes: under load,
        // hundreds of MB, and long garbage-collection pauses).
        let timedOut = false
        return Effect.tryPromise({
          // Fiber interruption or the deadline, whichever comes first, aborts the HTTP request.
          try: (interrupted) => {
            const controller = new AbortController()
            const onInterrupt = () => controller.abort(interrupted.reason)
            interrupted.addEventListener("abort", onInterrupt, { once: true })
            const timer = setTimeout(() => {
              timedOut = true
              controller.abort()
            }, callTimeoutMs)
            return client.chat.completions.create(params, { signal: controller.signal, timeout: callTimeoutMs })
              .finally(() => {
                clearTimeout(timer)
                interrupted.removeEventListener("abort", onInterrupt)
              })
          },
          catch: (error) =>
            timedOut
              ? new Errors.ModelTimeout({ model: params.model, timeoutMs: callTimeoutMs })
              : fromSdkError(context, error)
        })
      }).pipe(
        Effect.flatMap((completion): Effect.Effect<LanguageModel.ChatResponse, Errors.ModelError> =>
          toChatResponse(provider, params.model, completion)
        )
      )
    }

    // No span of its own: the attributes go on the caller's span (an agent's
    // `chat {model}` span), so a model call is one span, not two.
    const chat = Effect.fnUntraced(function*(request: LanguageModel.ChatRequest) {
      yield* annotate(request)
      const response = yield* Recovery.withRetries(chatOnce(request), policy)
      yield* annotateResponse(response)
      return response
    })

    const openStream = (
      params: ChatCompletionCreateParamsStreaming,
      state: StreamState
    ): Stream.Stream<LanguageModel.ChatDelta, Errors.ModelError> => {
      const context = contextFor(params.model)
      return Stream.unwrapScoped(Effect.gen(function*() {
        // Aborted when the stream's scope closes, so interrupting the consumer cancels the request.
        const controller = yield* Effect.acquireRelease(
          Effect.sync(() => new AbortController()),
          (controller) => Effect.sync(() => controller.abort())
        )
        const sdkStream = yield* Effect.tryPromise({
          try: () => client.chat.completions.create(params, { signal: controller.signal }),
          catch: (error) => fromSdkError(context, error)
        })
        // Pulled by hand rather than with `Stream.fromAsyncIterable`: its finalizer awaits
        // `iterator.return()`, which waits for a pending `next()` that only the abort can end.
        const iterator = sdkStream[Symbol.asyncIterator]()
        return Stream.repeatEffectOption(
          Effect.tryPromise({
            try: () => iterator.next(),
            catch: (error) => Option.some(fromSdkError(context, error))
          }).pipe(
            Effect.flatMap((result) => result.done ? Effect.fail(Option.none()) : Effect.succeed(result.value))
          )
        )
      })).pipe(
        Stream.mapConcatEffect((raw) =>
          Either.match(decodeChunk(raw), {
            onLeft: (error) => Effect.fail(malformed(provider, error)),
            onRight: (chunk) => Effect.succeed(chunkToDeltas(state, chunk))
          })
        ),
        Stream.concat(Stream.suspend(() =>
          state.finishReason === undefined
            ? Stream.fail(new Errors.ModelResponseMalformed({ provider, reason: "stream ended without a finish_reason" }))
            : Stream.empty
        ))
      )
    }

    /*
     * A stream is retried only while nothing has been emitted: once a delta
     * reached the consumer, replaying the request would duplicate output, so
     * a later failure ends the stream with that error.
     */
    const stream = (request: LanguageModel.ChatRequest): Stream.Stream<LanguageModel.ChatDelta, Errors.ModelError> =>
      Stream.unwrap(Effect.gen(function*() {
        const params: ChatCompletionCreateParamsStreaming = {
          ...body(request),
          stream: true,
          stream_options: { include_usage: true }
        }
        const emitted = yield* Ref.make(false)
        const state: StreamState = { id: undefined, model: params.model, finishReason: undefined, usage: Usage.zero }
        const attempt = Stream.suspend(() => {
          // A retried attempt starts from a clean slate.
          Object.assign(state, { id: undefined, model: params.model, finishReason: undefined, usage: Usage.zero })
          return openStream(params, state)
        })
        const schedule = Recovery.retrySchedule<Errors.ModelError>(policy).pipe(
          Schedule.checkEffect(() => Effect.map(Ref.get(emitted), (any) => !any))
        )
        return attempt.pipe(
          Stream.tap(() => Ref.set(emitted, true)),
          Stream.retry(schedule),
          Stream.concat(Stream.suspend(() =>
            Stream.make(LanguageModel.Finish({
              finishReason: toFinishReason(state.finishReason),
              usage: state.usage,
              model: state.model,
              id: state.id
            }))
          )),
          Stream.tap((delta) =>
            delta._tag === "Finish"
              ? annotateResponse({ model: delta.model, usage: delta.usage, finishReason: delta.finishReason })
              : Effect.void
          )
        )
      })).pipe(
        Stream.withSpan("OpenAiLanguageModel.stream", {
          attributes: {
            "gen_ai.provider.name": provider,
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": request.options?.model ?? options.model,
            "server.address": host
          }
        })
      )

    // Listing models costs no tokens; any failure (refused key included) means runs would fail too.
    const ping = Effect.tryPromise((signal) =>
      client.models.list({ signal, timeout: Math.min(timeoutMs, pingTimeoutMs), maxRetries: 0 })
    ).pipe(
      Effect.as(true),
      Effect.timeout(Duration.millis(pingTimeoutMs)),
      Effect.orElseSucceed(() => false),
      Effect.withSpan("OpenAiLanguageModel.ping")
    )

    return { provider, model: options.model, chat, stream, ping } satisfies LanguageModel.Service
  })

/** @since 0.1.0 @category layers */
export const layer = (options: Options): Layer.Layer<LanguageModel.LanguageModel, Errors.ConfigurationInvalid> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))

const nonEmpty = <A>(option: Option.Option<A>, isEmpty: (a: A) => boolean): Option.Option<A> =>
  Option.filter(option, (a) => !isEmpty(a))

const configured = <A>(key: string, config: Config.Config<A>): Effect.Effect<A, Errors.ConfigurationInvalid> =>
  Effect.mapError(config, (error) => new Errors.ConfigurationInvalid({ key, reason: String(error) }))

/**
 * Reads `OPENAI_API_KEY` (optional: local servers need none), `OPENAI_BASE_URL`
 * (optional), `OPENAI_MODEL` (default `gpt-4o-mini`) and `OPENAI_TIMEOUT_MS`
 * (default 60000) from Effect's `Config`.
 *
 * @since 0.1.0 @category layers
 */
export const layerConfig = (
  options: {
    readonly provider?: string | undefined
    readonly retryPolicy?: Recovery.RetryPolicy | undefined
    readonly maxTokensField?: "max_completion_tokens" | "max_tokens" | undefined
  } = {}
): Layer.Layer<LanguageModel.LanguageModel, Errors.ConfigurationInvalid> =>
  Layer.effect(
    LanguageModel.LanguageModel,
    Effect.gen(function*() {
      const apiKey = yield* configured("OPENAI_API_KEY", Config.option(Config.redacted("OPENAI_API_KEY")))
      const baseURL = yield* configured("OPENAI_BASE_URL", Config.option(Config.string("OPENAI_BASE_URL")))
      const model = yield* configured("OPENAI_MODEL", Config.withDefault(Config.nonEmptyString("OPENAI_MODEL"), "gpt-4o-mini"))
      const timeoutMs = yield* configured("OPENAI_TIMEOUT_MS", Config.withDefault(Config.integer("OPENAI_TIMEOUT_MS"), 60_000))
      return yield* make({
        apiKey: Option.getOrUndefined(nonEmpty(apiKey, (key) => Redacted.value(key).trim() === "")),
        baseURL: Option.getOrUndefined(nonEmpty(baseURL, (url) => url.trim() === "")),
        model,
        timeout: Duration.millis(timeoutMs),
        ...options
      })
    })
  )
