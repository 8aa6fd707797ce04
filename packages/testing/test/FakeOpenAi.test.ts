import { assert, describe, it } from "@effect/vitest"
import { Data, Effect } from "effect"
import OpenAI from "openai"
import type { ChatCompletionChunk } from "openai/resources/chat/completions"
import { FakeOpenAi } from "../src/index.js"

class SdkFailed extends Data.TaggedError("SdkFailed")<{ readonly cause: unknown }> {}

const clientFor = (server: FakeOpenAi.FakeOpenAiServer, options: { readonly timeout?: number } = {}) =>
  new OpenAI({ apiKey: "test-key", baseURL: server.url, maxRetries: 0, logLevel: "off", ...options })

const ask = (client: OpenAI, content = "hello") =>
  Effect.tryPromise({
    try: (signal) =>
      client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content }] }, { signal }),
    catch: (cause) => new SdkFailed({ cause })
  })

const askStreaming = (client: OpenAI, content = "hello") =>
  Effect.tryPromise({
    try: async (signal) => {
      const stream = await client.chat.completions.create(
        {
          model: "gpt-test",
          messages: [{ role: "user", content }],
          stream: true,
          stream_options: { include_usage: true }
        },
        { signal }
      )
      const chunks: Array<ChatCompletionChunk> = []
      for await (const chunk of stream) chunks.push(chunk)
      return chunks
    },
    catch: (cause) => new SdkFailed({ cause })
  })

const failureOf = <A>(effect: Effect.Effect<A, SdkFailed>) =>
  Effect.flip(effect).pipe(Effect.map((failed) => failed.cause))

describe("FakeOpenAi", () => {
  it.scoped("answers a JSON chat completion in OpenAI's shape", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({
        replies: [FakeOpenAi.text("Hello there", { usage: { promptTokens: 11, completionTokens: 3 } })]
      })
      const completion = yield* ask(clientFor(server))
      assert.strictEqual(completion.object, "chat.completion")
      assert.strictEqual(completion.model, "gpt-test")
      const choice = completion.choices[0]
      assert.isDefined(choice)
      assert.strictEqual(choice?.message.content, "Hello there")
      assert.strictEqual(choice?.message.role, "assistant")
      assert.strictEqual(choice?.finish_reason, "stop")
      assert.deepStrictEqual(completion.usage, { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 })
    }))

  it.scoped("estimates usage deterministically when the reply names none", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ replies: [FakeOpenAi.text("12345678"), FakeOpenAi.text("12345678")] })
      const client = clientFor(server)
      const first = yield* ask(client, "abcdefgh")
      const second = yield* ask(client, "abcdefgh")
      assert.deepStrictEqual(first.usage, { prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 })
      assert.deepStrictEqual(second.usage, first.usage)
    }))

  it.scoped("answers tool calls with JSON-encoded arguments", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({
        replies: [FakeOpenAi.toolCalls([{ id: "call_1", name: "search", arguments: { query: "effect" } }, {
          name: "clock",
          arguments: "{}"
        }])]
      })
      const completion = yield* ask(clientFor(server))
      const choice = completion.choices[0]
      assert.strictEqual(choice?.finish_reason, "tool_calls")
      assert.strictEqual(choice?.message.content, null)
      const calls = (choice?.message.tool_calls ?? []).flatMap((call) => call.type === "function" ? [call] : [])
      assert.deepStrictEqual(calls.map((call) => [call.id, call.function.name, call.function.arguments]), [
        ["call_1", "search", "{\"query\":\"effect\"}"],
        ["call_fake_1_1", "clock", "{}"]
      ])
    }))

  it.scoped("streams text in several chunks, then finish, usage and [DONE]", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({
        replies: [FakeOpenAi.text("A streamed answer in pieces", { usage: { promptTokens: 5, completionTokens: 7 } })]
      })
      const chunks = yield* askStreaming(clientFor(server))
      assert.strictEqual(chunks[0]?.choices[0]?.delta.role, "assistant")
      const texts = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? ""))
      assert.isAbove(texts.filter((piece) => piece !== "").length, 2)
      assert.strictEqual(texts.join(""), "A streamed answer in pieces")
      const finishing = chunks.filter((chunk) => chunk.choices[0]?.finish_reason)
      assert.deepStrictEqual(finishing.map((chunk) => chunk.choices[0]?.finish_reason), ["stop"])
      const last = chunks[chunks.length - 1]
      assert.deepStrictEqual(last?.choices, [])
      assert.deepStrictEqual(last?.usage, { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 })
    }))

  it.scoped("streams tool calls in pieces that reassemble", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({
        replies: [FakeOpenAi.toolCall("search", { query: "a fairly long query string" }, { id: "call_x" })]
      })
      const chunks = yield* askStreaming(clientFor(server))
      const pieces = chunks.flatMap((chunk) => chunk.choices.flatMap((choice) => choice.delta.tool_calls ?? []))
      assert.isAbove(pieces.length, 2)
      assert.strictEqual(pieces[0]?.id, "call_x")
      assert.strictEqual(pieces[0]?.function?.name, "search")
      assert.isTrue(pieces.slice(1).every((piece) => piece.id === undefined && piece.index === 0))
      const args = pieces.map((piece) => piece.function?.arguments ?? "").join("")
      assert.deepStrictEqual(JSON.parse(args), { query: "a fairly long query string" })
      const finishing = chunks.flatMap((chunk) => chunk.choices.flatMap((choice) => choice.finish_reason ?? []))
      assert.deepStrictEqual(finishing, ["tool_calls"])
    }))

  it.scoped("answers 429 with retry-after headers as a RateLimitError", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({
        replies: [FakeOpenAi.rateLimited({ retryAfterSeconds: 2, retryAfterMs: 1500 })]
      })
      const cause = yield* failureOf(ask(clientFor(server)))
      assert.instanceOf(cause, OpenAI.RateLimitError)
      if (cause instanceof OpenAI.RateLimitError) {
        assert.strictEqual(cause.status, 429)
        assert.strictEqual(cause.headers.get("retry-after"), "2")
        assert.strictEqual(cause.headers.get("retry-after-ms"), "1500")
        assert.strictEqual(cause.code, "rate_limit_exceeded")
      }
    }))

  it.scoped("answers 500, 401 and 400 with OpenAI's error body", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({
        replies: [
          FakeOpenAi.error(500, "The server had an error"),
          FakeOpenAi.error(401, "Incorrect API key provided", { code: "invalid_api_key" }),
          FakeOpenAi.error(400, "Bad tools", { param: "tools", code: "invalid_value" })
        ]
      })
      const client = clientFor(server)
      const internal = yield* failureOf(ask(client))
      const auth = yield* failureOf(ask(client))
      const bad = yield* failureOf(ask(client))
      assert.instanceOf(internal, OpenAI.InternalServerError)
      assert.instanceOf(auth, OpenAI.AuthenticationError)
      assert.instanceOf(bad, OpenAI.BadRequestError)
      if (bad instanceof OpenAI.BadRequestError) {
        assert.strictEqual(bad.param, "tools")
        assert.strictEqual(bad.code, "invalid_value")
        assert.include(bad.message, "Bad tools")
      }
    }))

  it.scoped("sends malformed JSON and garbage SSE data", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ replies: [FakeOpenAi.malformedJson(), FakeOpenAi.malformedJson()] })
      const client = clientFor(server)
      const json = yield* failureOf(ask(client))
      const sse = yield* failureOf(askStreaming(client))
      assert.instanceOf(json, SyntaxError)
      assert.instanceOf(sse, SyntaxError)
    }))

  it.scoped("drops a stream after a few chunks", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ replies: [FakeOpenAi.dropStream({ afterChunks: 3 })] })
      const cause = yield* failureOf(askStreaming(clientFor(server)))
      assert.notInstanceOf(cause, OpenAI.APIError)
      assert.instanceOf(cause, Error)
    }))

  it.scopedLive("hangs until the client times out", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ replies: [FakeOpenAi.hang] })
      const cause = yield* failureOf(ask(clientFor(server, { timeout: 100 })))
      assert.instanceOf(cause, OpenAI.APIConnectionTimeoutError)
      // The client gave up on the request, so the fake saw the connection go.
      yield* Effect.sleep("50 millis")
      assert.strictEqual(yield* server.disconnects, 1)
    }))

  it.scopedLive("stalls a stream after a few chunks until the client gives up", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ replies: [FakeOpenAi.stallStream({ afterChunks: 2 })] })
      const { received, endedByAbort } = yield* Effect.tryPromise({
        try: async (signal) => {
          const stream = await clientFor(server).chat.completions.create(
            { model: "gpt-test", messages: [{ role: "user", content: "hi" }], stream: true },
            { signal }
          )
          const received: Array<ChatCompletionChunk> = []
          for await (const chunk of stream) {
            received.push(chunk)
            if (received.length === 2) setTimeout(() => stream.controller.abort(), 50)
          }
          // The SDK ends an aborted stream quietly: only the abort may have ended this one.
          return { received, endedByAbort: stream.controller.signal.aborted }
        },
        catch: (cause) => new SdkFailed({ cause })
      })
      assert.strictEqual(received.length, 2)
      assert.isTrue(endedByAbort)
    }))

  it.scoped("records what the SDK sent, including the authorization header", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ replies: [FakeOpenAi.text("ok")] })
      yield* ask(clientFor(server), "what did I send?")
      const requests = yield* server.requests
      assert.strictEqual(requests.length, 1)
      const request = requests[0]
      assert.strictEqual(request?.method, "POST")
      assert.strictEqual(request?.path, "/v1/chat/completions")
      assert.strictEqual(request?.headers["authorization"], "Bearer test-key")
      assert.strictEqual(request?.body?.model, "gpt-test")
      assert.deepStrictEqual(request?.body?.messages, [{ role: "user", content: "what did I send?" }])
    }))

  it.scoped("falls back to the responder once the script is empty, after enqueued replies", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ responder: FakeOpenAi.toolThenAnswer("lookup", { id: 7 }, "done") })
      yield* server.enqueue(FakeOpenAi.text("scripted first"))
      const client = clientFor(server)
      const first = yield* ask(client)
      assert.strictEqual(first.choices[0]?.message.content, "scripted first")
      const second = yield* ask(client)
      const call = second.choices[0]?.message.tool_calls?.[0]
      assert.strictEqual(call?.type === "function" ? call.function.name : undefined, "lookup")
      const third = yield* Effect.tryPromise({
        try: () =>
          client.chat.completions.create({
            model: "gpt-test",
            messages: [
              { role: "user", content: "hi" },
              {
                role: "assistant",
                content: null,
                tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup", arguments: "{\"id\":7}" } }]
              },
              { role: "tool", tool_call_id: "call_1", content: "found" }
            ]
          }),
        catch: (cause) => new SdkFailed({ cause })
      })
      assert.strictEqual(third.choices[0]?.message.content, "done")
    }))

  it.scoped("keeps no requests when recording is off", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ record: false, responder: () => FakeOpenAi.text("fast") })
      const completion = yield* ask(clientFor(server))
      assert.strictEqual(completion.choices[0]?.message.content, "fast")
      assert.deepStrictEqual(yield* server.requests, [])
    }))

  it.scoped("answers 400 when the script is exhausted and there is no responder", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make()
      const cause = yield* failureOf(ask(clientFor(server)))
      assert.instanceOf(cause, OpenAI.BadRequestError)
    }))

  it.scoped("waits latencyMs before answering", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ replies: [FakeOpenAi.text("slow", { latencyMs: 80 })] })
      const started = Date.now()
      yield* ask(clientFor(server))
      assert.isAtLeast(Date.now() - started, 70)
    }))
})
