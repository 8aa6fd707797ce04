/**
 * A fake OpenAI chat-completions server on a real loopback port. It speaks
 * the wire protocol (JSON and SSE streaming, OpenAI's error bodies and
 * `retry-after` headers) so the real `openai` SDK is exercised end to end:
 * tests script its replies, benchmarks give it a responder.
 *
 * ```ts
 * const server = yield* FakeOpenAi.make({
 *   record: false,
 *   responder: FakeOpenAi.toolThenAnswer("lookup", { id: 1 }, "done")
 * })
 * // point the SDK (or OpenAiLanguageModel) at server.url
 * ```
 *
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer, Option, Schema, type Scope } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"

// ---------------------------------------------------------------------------
// requests
// ---------------------------------------------------------------------------

/** A tool call as it appears in a request's assistant message. @since 0.1.0 @category models */
export interface WireToolCall {
  readonly id: string
  readonly type: "function"
  readonly function: { readonly name: string; readonly arguments: string }
}

/** A message as the SDK sent it. Only the fields the fake looks at are typed. @since 0.1.0 @category models */
export interface WireMessage {
  readonly role: string
  readonly content?: unknown
  readonly tool_calls?: ReadonlyArray<WireToolCall> | undefined
  readonly tool_call_id?: string | undefined
  readonly [key: string]: unknown
}

/** The parsed body of a chat-completions request. @since 0.1.0 @category models */
export interface ChatCompletionRequest {
  readonly model: string
  readonly messages: ReadonlyArray<WireMessage>
  readonly tools?: ReadonlyArray<unknown> | undefined
  readonly stream?: boolean | undefined
  readonly stream_options?: { readonly include_usage?: boolean | undefined } | undefined
  readonly [key: string]: unknown
}

/** A request the fake received, recorded before it answered. @since 0.1.0 @category models */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  /** Lower-cased header names, as Node reports them. */
  readonly headers: Readonly<Record<string, string>>
  /** The parsed JSON body; `undefined` when the body was not JSON. */
  readonly body: ChatCompletionRequest | undefined
}

// ---------------------------------------------------------------------------
// replies
// ---------------------------------------------------------------------------

/** Token counts to report; omitted counts are estimated at 4 characters a token. @since 0.1.0 @category models */
export interface ReplyUsage {
  readonly promptTokens?: number | undefined
  readonly completionTokens?: number | undefined
}

/** A tool call the fake should make. `arguments` objects are JSON-encoded. @since 0.1.0 @category models */
export interface ToolCallSpec {
  readonly id?: string | undefined
  readonly name: string
  readonly arguments: string | Readonly<Record<string, unknown>>
}

interface Common {
  /** Delay before the fake starts answering. */
  readonly latencyMs?: number | undefined
}

/**
 * What the fake answers one request with.
 *
 * - `Text`: an assistant message with content.
 * - `ToolCalls`: an assistant message with tool calls (and optional content).
 * - `Error`: OpenAI's error body with the given status and headers.
 * - `DropStream`: starts answering, then destroys the socket mid-response.
 * - `StallStream`: starts answering, then falls silent with the connection open.
 * - `MalformedJson`: a 200 whose body (or SSE data) is not JSON.
 * - `Raw`: exactly the given status, headers and body.
 * - `Hang`: never answers (for client timeouts and interruption).
 *
 * @since 0.1.0 @category models
 */
export type Reply = Data.TaggedEnum<{
  Text: Common & {
    readonly content: string
    readonly finishReason?: "stop" | "length" | "content_filter" | undefined
    readonly usage?: ReplyUsage | undefined
  }
  ToolCalls: Common & {
    readonly calls: ReadonlyArray<ToolCallSpec>
    readonly content?: string | undefined
    readonly usage?: ReplyUsage | undefined
  }
  Error: Common & {
    readonly status: number
    readonly message: string
    readonly type?: string | undefined
    readonly code?: string | null | undefined
    readonly param?: string | null | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
  }
  DropStream: Common & {
    /** For streaming requests: how many SSE chunks go out before the drop. */
    readonly afterChunks?: number | undefined
    /** The text whose first chunks are sent. */
    readonly content?: string | undefined
  }
  StallStream: Common & {
    /** How many SSE chunks go out before the fake falls silent (keeping the connection open). */
    readonly afterChunks?: number | undefined
    readonly content?: string | undefined
  }
  MalformedJson: Common
  Raw: Common & {
    readonly status: number
    readonly body: string
    readonly headers?: Readonly<Record<string, string>> | undefined
  }
  Hang: Common
}>

/** @since 0.1.0 @category constructors */
export const Reply = Data.taggedEnum<Reply>()

/** An assistant text answer. @since 0.1.0 @category constructors */
export const text = (
  content: string,
  options?: {
    readonly usage?: ReplyUsage | undefined
    readonly latencyMs?: number | undefined
    readonly finishReason?: "stop" | "length" | "content_filter" | undefined
  }
): Reply => Reply.Text({ content, ...options })

/** An assistant answer that calls tools. @since 0.1.0 @category constructors */
export const toolCalls = (
  calls: ReadonlyArray<ToolCallSpec>,
  options?: {
    readonly content?: string | undefined
    readonly usage?: ReplyUsage | undefined
    readonly latencyMs?: number | undefined
  }
): Reply => Reply.ToolCalls({ calls, ...options })

/** An assistant answer that calls one tool. @since 0.1.0 @category constructors */
export const toolCall = (
  name: string,
  args: string | Readonly<Record<string, unknown>>,
  options?: { readonly id?: string | undefined; readonly usage?: ReplyUsage | undefined; readonly latencyMs?: number | undefined }
): Reply =>
  Reply.ToolCalls({ calls: [{ name, arguments: args, id: options?.id }], usage: options?.usage, latencyMs: options?.latencyMs })

/** An OpenAI error response. @since 0.1.0 @category constructors */
export const error = (
  status: number,
  message: string,
  options?: {
    readonly type?: string | undefined
    readonly code?: string | null | undefined
    readonly param?: string | null | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
    readonly latencyMs?: number | undefined
  }
): Reply => Reply.Error({ status, message, ...options })

/**
 * A 429 with `retry-after` (whole seconds) and/or `retry-after-ms`, as
 * OpenAI sends them.
 *
 * @since 0.1.0 @category constructors
 */
export const rateLimited = (
  options?: { readonly retryAfterSeconds?: number | undefined; readonly retryAfterMs?: number | undefined }
): Reply => {
  const headers: Record<string, string> = {}
  if (options?.retryAfterSeconds !== undefined) headers["retry-after"] = String(options.retryAfterSeconds)
  if (options?.retryAfterMs !== undefined) headers["retry-after-ms"] = String(options.retryAfterMs)
  return Reply.Error({
    status: 429,
    message: "Rate limit reached for requests",
    type: "requests",
    code: "rate_limit_exceeded",
    headers
  })
}

/** Sends part of the answer, then destroys the socket. @since 0.1.0 @category constructors */
export const dropStream = (
  options?: { readonly afterChunks?: number | undefined; readonly content?: string | undefined; readonly latencyMs?: number | undefined }
): Reply => Reply.DropStream({ ...options })

/** Sends part of a streamed answer, then falls silent without closing. @since 0.1.0 @category constructors */
export const stallStream = (
  options?: { readonly afterChunks?: number | undefined; readonly content?: string | undefined; readonly latencyMs?: number | undefined }
): Reply => Reply.StallStream({ ...options })

/** A 200 whose body is not valid JSON (or SSE with garbage data). @since 0.1.0 @category constructors */
export const malformedJson = (options?: { readonly latencyMs?: number | undefined }): Reply =>
  Reply.MalformedJson({ ...options })

/** Exactly this status, headers and body. @since 0.1.0 @category constructors */
export const raw = (
  status: number,
  body: string,
  options?: { readonly headers?: Readonly<Record<string, string>> | undefined; readonly latencyMs?: number | undefined }
): Reply => Reply.Raw({ status, body, ...options })

/** Never answers. @since 0.1.0 @category constructors */
export const hang: Reply = Reply.Hang({})

/** Computes the reply for a request when the script is empty. @since 0.1.0 @category models */
export type Responder = (request: ChatCompletionRequest) => Reply

/**
 * The responder benchmarks use: when the last message is a tool result it
 * answers `answer`, otherwise it calls `toolName` with `args`; each reply
 * after `latencyMs` (default none).
 *
 * @since 0.1.0 @category responders
 */
export const toolThenAnswer = (
  toolName: string,
  args: string | Readonly<Record<string, unknown>>,
  answer: string,
  options?: { readonly latencyMs?: number | undefined }
): Responder =>
(request) => {
  const last = request.messages[request.messages.length - 1]
  return last?.role === "tool" ? text(answer, options) : toolCall(toolName, args, options)
}

// ---------------------------------------------------------------------------
// server
// ---------------------------------------------------------------------------

/** @since 0.1.0 @category models */
export interface Options {
  /** Replies consumed in order, one per request. */
  readonly replies?: Iterable<Reply> | undefined
  /** Used once the scripted replies are used up. */
  readonly responder?: Responder | undefined
  /** Keep every request for `requests`. Default true; benchmarks turn it off to keep memory flat. */
  readonly record?: boolean | undefined
  /** Characters per streamed text or arguments piece. Default 8. */
  readonly streamChunkSize?: number | undefined
}

/** @since 0.1.0 @category models */
export interface FakeOpenAiServer {
  /** Base URL for the SDK, ending in `/v1`. */
  readonly url: string
  readonly port: number
  /** Every request received so far, in order (empty when `record: false`). */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** How many requests the client abandoned (closed the connection) before the fake answered in full. */
  readonly disconnects: Effect.Effect<number>
  /** Appends replies to the script. */
  readonly enqueue: (...replies: ReadonlyArray<Reply>) => Effect.Effect<void>
}

/** @since 0.1.0 @category tags */
export class FakeOpenAi extends Context.Tag("@patinox/testing/FakeOpenAi")<FakeOpenAi, FakeOpenAiServer>() {}

const estimateTokens = (chars: number): number => Math.max(1, Math.ceil(chars / 4))

const promptChars = (request: ChatCompletionRequest | undefined): number => {
  if (request === undefined) return 0
  let chars = 0
  for (const message of request.messages) {
    if (typeof message.content === "string") chars += message.content.length
    else if (message.content !== undefined && message.content !== null) chars += JSON.stringify(message.content).length
    for (const call of message.tool_calls ?? []) chars += call.function.name.length + call.function.arguments.length
  }
  return chars
}

const pieces = (value: string, size: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < value.length; i += size) out.push(value.slice(i, i + size))
  return out
}

const defaultErrorType = (status: number): string =>
  status === 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error"

const Unknowns = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const RequestBody = Schema.parseJson(Schema.Struct(
  {
    model: Schema.String,
    messages: Schema.Array(Schema.Struct(
      {
        role: Schema.String,
        content: Schema.optional(Schema.Unknown),
        tool_calls: Schema.optional(Schema.Array(Schema.Struct({
          id: Schema.String,
          type: Schema.Literal("function"),
          function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
        }))),
        tool_call_id: Schema.optional(Schema.String)
      },
      Unknowns
    )),
    tools: Schema.optional(Schema.Array(Schema.Unknown)),
    stream: Schema.optional(Schema.Boolean),
    stream_options: Schema.optional(Schema.Struct({ include_usage: Schema.optional(Schema.Boolean) }))
  },
  Unknowns
))

const decodeRequest = Schema.decodeUnknownOption(RequestBody)

const parseRequest = (raw: string): ChatCompletionRequest | undefined => Option.getOrUndefined(decodeRequest(raw))

interface ResolvedToolCall {
  readonly id: string
  readonly name: string
  readonly arguments: string
}

/**
 * Starts the fake on `127.0.0.1` on a free port. It stops, dropping any open
 * connections, when the scope closes.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<FakeOpenAiServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const script: Array<Reply> = [...(options.replies ?? [])]
    const recorded: Array<RecordedRequest> = []
    const sockets = new Set<Net.Socket>()
    const timers = new Set<ReturnType<typeof setTimeout>>()
    const chunkSize = Math.max(1, options.streamChunkSize ?? 8)
    let disconnects = 0
    let sequence = 0

    const nextReply = (body: ChatCompletionRequest | undefined): Reply => {
      const scripted = script.shift()
      if (scripted !== undefined) return scripted
      if (options.responder !== undefined && body !== undefined) return options.responder(body)
      return error(400, "FakeOpenAi: the script is exhausted and there is no responder", {
        code: "fake_script_exhausted"
      })
    }

    const later = (ms: number, f: () => void): void => {
      if (ms <= 0) return f()
      const timer = setTimeout(() => {
        timers.delete(timer)
        f()
      }, ms)
      timers.add(timer)
    }

    const sendJson = (res: Http.ServerResponse, status: number, body: unknown, headers?: Readonly<Record<string, string>>) => {
      const payload = JSON.stringify(body)
      res.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(payload),
        ...headers
      })
      res.end(payload)
    }

    const answer = (res: Http.ServerResponse, body: ChatCompletionRequest | undefined) => {
      const reply = nextReply(body)
      const n = ++sequence
      const id = `chatcmpl-fake-${n}`
      const created = Math.floor(Date.now() / 1000)
      const model = body?.model ?? "unknown"
      const streaming = body?.stream === true
      const includeUsage = body?.stream_options?.include_usage === true

      const toolCallsOf = (calls: ReadonlyArray<ToolCallSpec>): Array<ResolvedToolCall> =>
        calls.map((call, index) => ({
          id: call.id ?? `call_fake_${n}_${index}`,
          name: call.name,
          arguments: typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments)
        }))

      const usageOf = (usage: ReplyUsage | undefined, completionChars: number) => {
        const prompt = usage?.promptTokens ?? estimateTokens(promptChars(body))
        const completion = usage?.completionTokens ?? estimateTokens(completionChars)
        return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
      }

      const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
        id,
        object: "chat.completion.chunk",
        created,
        model,
        system_fingerprint: null,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...(includeUsage ? { usage: null } : {})
      })

      const startSse = () => {
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
          connection: "keep-alive"
        })
      }
      const sse = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`)

      const completionChunks = (content: string | null, calls: ReadonlyArray<ResolvedToolCall>): Array<unknown> => {
        const out: Array<unknown> = [chunk({ role: "assistant", content: calls.length > 0 && !content ? null : "", refusal: null }, null)]
        for (const piece of pieces(content ?? "", chunkSize)) out.push(chunk({ content: piece }, null))
        calls.forEach((call, index) => {
          const args = pieces(call.arguments, chunkSize)
          out.push(chunk({
            tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }]
          }, null))
          for (const fragment of args) out.push(chunk({ tool_calls: [{ index, function: { arguments: fragment } }] }, null))
        })
        return out
      }

      const complete = (
        content: string | null,
        calls: ReadonlyArray<ResolvedToolCall>,
        finishReason: string,
        usage: ReturnType<typeof usageOf>
      ) => {
        if (streaming) {
          startSse()
          for (const data of completionChunks(content, calls)) sse(data)
          sse(chunk({}, finishReason))
          if (includeUsage) {
            sse({ id, object: "chat.completion.chunk", created, model, system_fingerprint: null, choices: [], usage })
          }
          res.end("data: [DONE]\n\n")
          return
        }
        sendJson(res, 200, {
          id,
          object: "chat.completion",
          created,
          model,
          system_fingerprint: null,
          choices: [{
            index: 0,
            message: {
              role: "assistant",
              content,
              refusal: null,
              ...(calls.length > 0
                ? {
                  tool_calls: calls.map((call) => ({
                    id: call.id,
                    type: "function",
                    function: { name: call.name, arguments: call.arguments }
                  }))
                }
                : {})
            },
            finish_reason: finishReason,
            logprobs: null
          }],
          usage
        }, { "x-request-id": `req_fake_${n}` })
      }

      const run = () => {
        if (res.destroyed) return
        switch (reply._tag) {
          case "Text":
            return complete(reply.content, [], reply.finishReason ?? "stop", usageOf(reply.usage, reply.content.length))
          case "ToolCalls": {
            const calls = toolCallsOf(reply.calls)
            const chars = (reply.content ?? "").length +
              calls.reduce((sum, call) => sum + call.name.length + call.arguments.length, 0)
            return complete(reply.content ?? null, calls, "tool_calls", usageOf(reply.usage, chars))
          }
          case "Error":
            return sendJson(res, reply.status, {
              error: {
                message: reply.message,
                type: reply.type ?? defaultErrorType(reply.status),
                param: reply.param ?? null,
                code: reply.code ?? null
              }
            }, reply.headers)
          case "DropStream": {
            const content = reply.content ?? "This answer is cut off in the middle of a sentence"
            if (streaming) {
              startSse()
              const chunks = completionChunks(content, [])
              for (const data of chunks.slice(0, reply.afterChunks ?? 2)) sse(data)
            } else {
              res.writeHead(200, { "content-type": "application/json" })
              res.write(`{"id":"${id}","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"`)
            }
            // Let the bytes already written reach the client, then cut the connection.
            return later(10, () => res.destroy())
          }
          case "StallStream": {
            const content = reply.content ?? "This answer stops in the middle of a sentence"
            if (streaming) {
              startSse()
              for (const data of completionChunks(content, []).slice(0, reply.afterChunks ?? 2)) sse(data)
            } else {
              res.writeHead(200, { "content-type": "application/json" })
              res.write(`{"id":"${id}","object":"chat.completion","choices":[`)
            }
            return
          }
          case "MalformedJson":
            if (streaming) {
              startSse()
              sse(chunk({ role: "assistant", content: "" }, null))
              res.end("data: {\"id\": \"chatcmpl-broken\", \"choices\": [\n\ndata: [DONE]\n\n")
              return
            }
            res.writeHead(200, { "content-type": "application/json" })
            res.end("{\"id\": \"chatcmpl-broken\", \"object\": \"chat.completion\", \"choices\": [")
            return
          case "Raw":
            res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
            res.end(reply.body)
            return
          case "Hang":
            return
        }
      }
      later(reply.latencyMs ?? 0, run)
    }

    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (data: Buffer) => chunks.push(data))
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8")
        const headers: Record<string, string> = {}
        for (const [key, value] of Object.entries(req.headers)) {
          if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(", ") : value
        }
        const path = (req.url ?? "/").split("?")[0] ?? "/"
        const body = parseRequest(raw)
        if (options.record !== false) recorded.push({ method: req.method ?? "GET", path, headers, body })
        res.on("close", () => {
          if (!res.writableFinished) disconnects++
        })
        if (req.method === "GET" && (path === "/v1/models" || path === "/models")) {
          return sendJson(res, 200, {
            object: "list",
            data: [{ id: "gpt-4o-mini", object: "model", created: 0, owned_by: "fake" }]
          })
        }
        if (req.method !== "POST" || (path !== "/v1/chat/completions" && path !== "/chat/completions")) {
          return sendJson(res, 404, {
            error: { message: `Unknown route ${req.method} ${path}`, type: "invalid_request_error", param: null, code: null }
          })
        }
        if (body === undefined) {
          return sendJson(res, 400, {
            error: {
              message: "We could not parse the JSON body of your request.",
              type: "invalid_request_error",
              param: null,
              code: null
            }
          })
        }
        answer(res, body)
      })
    })
    server.on("connection", (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })

    const port = yield* Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
      })
    })

    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        for (const timer of timers) clearTimeout(timer)
        timers.clear()
        server.close(() => resume(Effect.void))
        for (const socket of sockets) socket.destroy()
        server.closeAllConnections()
      })
    )

    return {
      url: `http://127.0.0.1:${port}/v1`,
      port,
      requests: Effect.sync(() => [...recorded]),
      disconnects: Effect.sync(() => disconnects),
      enqueue: (...replies) =>
        Effect.sync(() => {
          script.push(...replies)
        })
    } satisfies FakeOpenAiServer
  })

/** The fake as a layer, for sharing one server across a `layer(...)` test block. @since 0.1.0 @category layers */
export const layer = (options: Options = {}): Layer.Layer<FakeOpenAi> => Layer.scoped(FakeOpenAi, make(options))
