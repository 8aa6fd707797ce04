import { assert, describe, it } from "@effect/vitest"
import { Errors, Ids, LanguageModel, Message, type Recovery } from "@patinox/core"
import { FakeOpenAi } from "@patinox/testing"
import { ConfigProvider, Deferred, Effect, Exit, Fiber, Layer, Redacted, Scope, Stream } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { OpenAiLanguageModel } from "../src/index.js"

const fastRetries: Recovery.RetryPolicy = { maxRetries: 2, baseDelay: "10 millis", maxDelay: "1 second" }
const noRetries: Recovery.RetryPolicy = { maxRetries: 0, baseDelay: "10 millis", maxDelay: "1 second" }

const setup = (
  replies: ReadonlyArray<FakeOpenAi.Reply>,
  options: Partial<OpenAiLanguageModel.Options> = {}
) =>
  Effect.gen(function*() {
    const server = yield* FakeOpenAi.make({ replies })
    const model = yield* OpenAiLanguageModel.make({
      apiKey: Redacted.make("sk-test-secret"),
      baseURL: server.url,
      model: "gpt-test",
      retryPolicy: fastRetries,
      timeout: "5 seconds",
      ...options
    })
    return { server, model }
  })

const hello: LanguageModel.ChatRequest = { messages: [Message.system("Be brief."), Message.user("Hello")], tools: [] }

const weatherTool: LanguageModel.ToolDefinition = {
  name: "weather",
  description: "Current weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}

describe("OpenAiLanguageModel", () => {
  it.scopedLive("ping lists the server's models: true while it answers, false once it is gone", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { model, server } = yield* Scope.extend(setup([]), scope)
      assert.isTrue(yield* model.ping ?? Effect.succeed(false))
      const requests = yield* server.requests
      assert.deepStrictEqual(requests.map((r) => [r.method, r.path]), [["GET", "/v1/models"]])
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(yield* model.ping ?? Effect.succeed(true))
    }))

  it.scopedLive("answers text with the usage the server reported", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([
        FakeOpenAi.text("Hi!", { usage: { promptTokens: 11, completionTokens: 3 } })
      ])
      const response = yield* model.chat(hello)
      assert.strictEqual(response.message.content, "Hi!")
      assert.strictEqual(response.finishReason, "stop")
      assert.strictEqual(response.model, "gpt-test")
      assert.strictEqual(response.usage.inputTokens, 11)
      assert.strictEqual(response.usage.outputTokens, 3)
      assert.deepStrictEqual(response.toolCalls, [])
      assert.strictEqual(model.provider, "openai")
      const [request] = yield* server.requests
      assert.strictEqual(request?.headers["authorization"], "Bearer sk-test-secret")
      assert.deepStrictEqual(request?.body?.messages, [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hello" }
      ])
      assert.isUndefined(request?.body?.["tools"])
    }))

  it.scopedLive("maps tool calls, tools, tool results and options in both directions", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([
        FakeOpenAi.toolCall("weather", { city: "Oslo" }, { id: "call_w1" })
      ])
      const response = yield* model.chat({
        messages: [
          Message.user("Weather in Oslo and Bergen?"),
          new Message.AssistantMessage({
            content: null,
            toolCalls: [
              new Message.ToolCall({ id: Ids.ToolCallId.make("call_0"), name: "weather", arguments: "{\"city\":\"Bergen\"}" })
            ]
          }),
          new Message.ToolMessage({ toolCallId: Ids.ToolCallId.make("call_0"), name: "weather", content: "rain", isError: false })
        ],
        tools: [weatherTool],
        options: { temperature: 0.2, maxOutputTokens: 64, model: "gpt-other" }
      })
      assert.strictEqual(response.finishReason, "tool_calls")
      assert.strictEqual(response.message.content, null)
      assert.strictEqual(response.toolCalls.length, 1)
      assert.strictEqual(response.toolCalls[0]?.id, "call_w1")
      assert.strictEqual(response.toolCalls[0]?.name, "weather")
      assert.deepStrictEqual(JSON.parse(response.toolCalls[0]?.arguments ?? ""), { city: "Oslo" })
      assert.strictEqual(response.model, "gpt-other")

      const body = (yield* server.requests)[0]?.body
      assert.strictEqual(body?.model, "gpt-other")
      assert.strictEqual(body?.["temperature"], 0.2)
      // Not api.openai.com, so the field every OpenAI-compatible server knows.
      assert.strictEqual(body?.["max_tokens"], 64)
      assert.isUndefined(body?.["max_completion_tokens"])
      assert.deepStrictEqual(body?.["tools"], [{
        type: "function",
        function: { name: weatherTool.name, description: weatherTool.description, parameters: weatherTool.parameters }
      }])
      assert.deepStrictEqual(body?.messages, [
        { role: "user", content: "Weather in Oslo and Bergen?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_0", type: "function", function: { name: "weather", arguments: "{\"city\":\"Bergen\"}" } }]
        },
        { role: "tool", tool_call_id: "call_0", content: "rain" }
      ])
    }))

  it.scopedLive("sends max_completion_tokens when asked to", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([FakeOpenAi.text("ok")], { maxTokensField: "max_completion_tokens" })
      yield* model.chat({ ...hello, options: { maxOutputTokens: 10 } })
      const body = (yield* server.requests)[0]?.body
      assert.strictEqual(body?.["max_completion_tokens"], 10)
      assert.isUndefined(body?.["max_tokens"])
    }))

  it.scopedLive("streams text and a tool call that collect into the response", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([
        FakeOpenAi.toolCalls([{ id: "call_s", name: "weather", arguments: { city: "Trondheim, Norway" } }], {
          content: "Let me check the weather for you.",
          usage: { promptTokens: 21, completionTokens: 9 }
        })
      ])
      const deltas = yield* Stream.runCollect(model.stream({ ...hello, tools: [weatherTool] }))
      const tags = [...deltas].map((delta) => delta._tag)
      assert.isAbove(tags.filter((tag) => tag === "TextDelta").length, 2)
      assert.isAbove(tags.filter((tag) => tag === "ToolCallDelta").length, 2)
      assert.deepStrictEqual(tags.filter((tag) => tag === "Finish"), ["Finish"])
      assert.strictEqual(tags[tags.length - 1], "Finish")

      const response = yield* LanguageModel.collect(model.provider, model.stream(hello))
        .pipe(Effect.flip, Effect.map((error) => error._tag))
      // The script had one reply: the second stream gets the fake's 400.
      assert.strictEqual(response, "ModelRequestRejected")

      yield* server.enqueue(
        FakeOpenAi.toolCalls([{ id: "call_s", name: "weather", arguments: { city: "Trondheim, Norway" } }], {
          content: "Let me check the weather for you.",
          usage: { promptTokens: 21, completionTokens: 9 }
        })
      )
      const collected = yield* LanguageModel.collect(model.provider, model.stream({ ...hello, tools: [weatherTool] }))
      assert.strictEqual(collected.message.content, "Let me check the weather for you.")
      assert.strictEqual(collected.finishReason, "tool_calls")
      assert.strictEqual(collected.toolCalls[0]?.id, "call_s")
      assert.strictEqual(collected.toolCalls[0]?.name, "weather")
      assert.deepStrictEqual(JSON.parse(collected.toolCalls[0]?.arguments ?? ""), { city: "Trondheim, Norway" })
      assert.strictEqual(collected.usage.inputTokens, 21)
      assert.strictEqual(collected.usage.outputTokens, 9)
      assert.strictEqual(collected.model, "gpt-test")
      assert.match(collected.id ?? "", /^chatcmpl-fake-/)

      const body = (yield* server.requests)[0]?.body
      assert.strictEqual(body?.stream, true)
      assert.deepStrictEqual(body?.stream_options, { include_usage: true })
    }))

  it.scopedLive("finishes a stream with zero usage when the server sends no usage chunk", () =>
    Effect.gen(function*() {
      const chunk = (delta: object, finish: string | null) =>
        `data: ${
          JSON.stringify({
            id: "c1",
            object: "chat.completion.chunk",
            created: 1,
            model: "local",
            choices: [{ index: 0, delta, finish_reason: finish }]
          })
        }\n\n`
      const sse = chunk({ role: "assistant", content: "" }, null) + chunk({ content: "Hi" }, null) +
        chunk({}, "stop") + "data: [DONE]\n\n"
      const { model } = yield* setup([FakeOpenAi.raw(200, sse, { headers: { "content-type": "text/event-stream" } })])
      const response = yield* LanguageModel.collect(model.provider, model.stream(hello))
      assert.strictEqual(response.message.content, "Hi")
      assert.strictEqual(response.model, "local")
      assert.strictEqual(response.usage.totalTokens, 0)
    }))

  it.scopedLive("retries a 429 after the server's retry-after, then succeeds", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([
        FakeOpenAi.rateLimited({ retryAfterMs: 50 }),
        FakeOpenAi.rateLimited({ retryAfterSeconds: 0.05 }),
        FakeOpenAi.text("finally")
      ])
      const started = Date.now()
      const response = yield* model.chat(hello)
      assert.strictEqual(response.message.content, "finally")
      assert.strictEqual((yield* server.requests).length, 3)
      assert.isAtLeast(Date.now() - started, 95)
    }))

  it.scopedLive("gives up at once on a retry-after longer than the policy's maxDelay", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([FakeOpenAi.rateLimited({ retryAfterSeconds: 30 }), FakeOpenAi.text("x")])
      const error = yield* Effect.flip(model.chat(hello))
      assert.instanceOf(error, Errors.ModelRateLimited)
      if (error instanceof Errors.ModelRateLimited) assert.strictEqual(error.retryAfterMs, 30_000)
      assert.strictEqual((yield* server.requests).length, 1)
    }))

  it.scopedLive("retries a 500, then succeeds", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([FakeOpenAi.error(500, "The server had an error"), FakeOpenAi.text("ok")])
      const response = yield* model.chat(hello)
      assert.strictEqual(response.message.content, "ok")
      assert.strictEqual((yield* server.requests).length, 2)
    }))

  it.scopedLive("fails with ModelUnavailable once retries are spent", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([
        FakeOpenAi.error(503, "Overloaded", { headers: { "retry-after-ms": "5" } }),
        FakeOpenAi.error(503, "Overloaded", { headers: { "retry-after-ms": "5" } }),
        FakeOpenAi.error(503, "Overloaded", { headers: { "retry-after-ms": "5" } })
      ])
      const error = yield* Effect.flip(model.chat(hello))
      assert.instanceOf(error, Errors.ModelUnavailable)
      if (error instanceof Errors.ModelUnavailable) {
        assert.strictEqual(error.status, 503)
        assert.strictEqual(error.retryAfterMs, 5)
      }
      assert.strictEqual((yield* server.requests).length, 3)
    }))

  it.scopedLive("does not retry a 400", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([
        FakeOpenAi.error(400, "Invalid schema for function 'weather'", { code: "invalid_function_parameters" }),
        FakeOpenAi.text("never")
      ])
      const error = yield* Effect.flip(model.chat(hello))
      assert.instanceOf(error, Errors.ModelRequestRejected)
      if (error instanceof Errors.ModelRequestRejected) {
        assert.strictEqual(error.status, 400)
        assert.strictEqual(error.code, "invalid_function_parameters")
      }
      assert.strictEqual((yield* server.requests).length, 1)
    }))

  it.scopedLive("maps 401 to ModelAuthenticationFailed without leaking the key", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([
        FakeOpenAi.error(401, "Incorrect API key provided: sk-test-secret", { code: "invalid_api_key" })
      ])
      const error = yield* Effect.flip(model.chat(hello))
      assert.instanceOf(error, Errors.ModelAuthenticationFailed)
      assert.notInclude(error.message, "sk-test-secret")
      assert.notInclude(JSON.stringify(error), "sk-test-secret")
      assert.strictEqual((yield* server.requests).length, 1)
    }))

  it.scopedLive("maps 403 to ModelAuthenticationFailed", () =>
    Effect.gen(function*() {
      const { model } = yield* setup([FakeOpenAi.error(403, "Country not supported")])
      const error = yield* Effect.flip(model.chat(hello))
      assert.strictEqual(error._tag, "ModelAuthenticationFailed")
    }))

  it.scopedLive("fails with ModelTimeout when the server hangs", () =>
    Effect.gen(function*() {
      const { model } = yield* setup([FakeOpenAi.hang], { timeout: "100 millis", retryPolicy: noRetries })
      const error = yield* Effect.flip(model.chat(hello))
      assert.instanceOf(error, Errors.ModelTimeout)
      if (error instanceof Errors.ModelTimeout) assert.strictEqual(error.timeoutMs, 100)
    }))

  it.scopedLive("fails with ModelTimeout when the body stalls after the headers", () =>
    Effect.gen(function*() {
      // The SDK's own timeout ends at the headers; the call's deadline also covers the body.
      const { model } = yield* setup([FakeOpenAi.stallStream()], { timeout: "200 millis", retryPolicy: noRetries })
      const started = Date.now()
      const error = yield* Effect.flip(model.chat(hello))
      assert.instanceOf(error, Errors.ModelTimeout)
      assert.isBelow(Date.now() - started, 5_000)
    }))

  it.scopedLive("keeps nothing of a finished call alive until its deadline", () =>
    Effect.gen(function*() {
      // A deadline of minutes used to hold each call's signals and listeners (about 3 KB) until it passed.
      const server = yield* FakeOpenAi.make({ record: false, responder: () => FakeOpenAi.text("ok") })
      const model = yield* OpenAiLanguageModel.make({
        apiKey: Redacted.make("sk-test-secret"),
        baseURL: server.url,
        model: "gpt-test",
        retryPolicy: noRetries,
        timeout: "10 minutes"
      })
      setFlagsFromString("--expose-gc")
      const gc = runInNewContext("gc") as () => void
      const retained = () => {
        gc()
        gc()
        return process.memoryUsage().heapUsed
      }
      const calls = Effect.repeatN(model.chat(hello), 999)
      yield* calls // warm-up: code, connection pool
      // A leak grows the heap in every round of 1,000 calls (the old one by about 3 MB, 5.9 MB a
      // round of 2,000); a one-off allocation elsewhere in the process (lazily built code, a socket's
      // buffers) shows in one round only, so the smallest growth of three rounds is the one compared.
      const grown: Array<number> = []
      for (let round = 0; round < 3; round++) {
        const before = retained()
        yield* calls
        grown.push(retained() - before)
      }
      assert.isBelow(Math.min(...grown), 1_000_000, `heap grew ${grown.join(", ")} bytes over rounds of 1,000 finished calls`)
    }), 60_000)

  it.scopedLive("fails with ModelResponseMalformed on invalid JSON and on a missing choice", () =>
    Effect.gen(function*() {
      const { model } = yield* setup([
        FakeOpenAi.malformedJson(),
        FakeOpenAi.raw(200, JSON.stringify({ id: "x", object: "chat.completion", choices: [] })),
        FakeOpenAi.malformedJson()
      ], { retryPolicy: noRetries })
      const json = yield* Effect.flip(model.chat(hello))
      const empty = yield* Effect.flip(model.chat(hello))
      const sse = yield* Effect.flip(LanguageModel.collect(model.provider, model.stream(hello)))
      assert.instanceOf(json, Errors.ModelResponseMalformed)
      assert.instanceOf(empty, Errors.ModelResponseMalformed)
      assert.instanceOf(sse, Errors.ModelResponseMalformed)
    }))

  it.scopedLive("fails a stream dropped after its first deltas with ModelConnectionFailed, without retrying", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([FakeOpenAi.dropStream({ afterChunks: 3 }), FakeOpenAi.text("again")])
      const exit = yield* Effect.exit(Stream.runCollect(model.stream(hello)))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.instanceOf(error, Errors.ModelConnectionFailed)
      assert.strictEqual((yield* server.requests).length, 1)
    }))

  it.scopedLive("retries a stream dropped before any delta", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([FakeOpenAi.dropStream({ afterChunks: 1 }), FakeOpenAi.text("again")])
      const response = yield* LanguageModel.collect(model.provider, model.stream(hello))
      assert.strictEqual(response.message.content, "again")
      assert.strictEqual((yield* server.requests).length, 2)
    }))

  it.scopedLive("fails a dropped JSON body with ModelConnectionFailed", () =>
    Effect.gen(function*() {
      const { model } = yield* setup([FakeOpenAi.dropStream()], { retryPolicy: noRetries })
      const error = yield* Effect.flip(model.chat(hello))
      assert.instanceOf(error, Errors.ModelConnectionFailed)
    }))

  it.scopedLive("fails with ModelConnectionFailed when nothing listens", () =>
    Effect.gen(function*() {
      const model = yield* OpenAiLanguageModel.make({
        apiKey: undefined,
        baseURL: "http://127.0.0.1:9/v1",
        model: "gpt-test",
        retryPolicy: noRetries
      })
      const error = yield* Effect.flip(model.chat(hello))
      assert.instanceOf(error, Errors.ModelConnectionFailed)
    }))

  it.scopedLive("aborts the HTTP request when a chat is interrupted", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([FakeOpenAi.hang])
      const fiber = yield* Effect.fork(model.chat(hello))
      yield* Effect.sleep("100 millis")
      assert.strictEqual((yield* server.requests).length, 1)
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep("50 millis")
      assert.strictEqual(yield* server.disconnects, 1)
    }))

  it.scopedLive("aborts the HTTP request when a stream is interrupted before its response", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([FakeOpenAi.hang])
      const fiber = yield* Effect.fork(Stream.runDrain(model.stream(hello)))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep("50 millis")
      assert.strictEqual(yield* server.disconnects, 1)
    }))

  it.scopedLive("aborts the HTTP request when a stream consumer is interrupted mid-stream", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([FakeOpenAi.stallStream({ afterChunks: 3 })])
      const first = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Stream.runForEach(model.stream(hello), () => Deferred.succeed(first, undefined)))
      yield* Deferred.await(first)
      // The pending read must not keep the interruption waiting.
      const interrupted = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("1 second"))
      assert.isTrue(Exit.isInterrupted(interrupted))
      yield* Effect.sleep("50 millis")
      assert.strictEqual(yield* server.disconnects, 1)
    }))

  it.scopedLive("stops consuming when the consumer takes only what it needs", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup([FakeOpenAi.stallStream({ afterChunks: 3 })])
      const taken = yield* Stream.runCollect(Stream.take(model.stream(hello), 1)).pipe(Effect.timeout("1 second"))
      assert.strictEqual(taken.length, 1)
      yield* Effect.sleep("50 millis")
      assert.strictEqual(yield* server.disconnects, 1)
    }))

  it.scopedLive("reads its configuration from Config, sending a placeholder key when none is set", () =>
    Effect.gen(function*() {
      const server = yield* FakeOpenAi.make({ responder: () => FakeOpenAi.text("configured") })
      const program = Effect.gen(function*() {
        const model = yield* LanguageModel.LanguageModel
        assert.strictEqual(model.model, "cfg-model")
        return yield* model.chat(hello)
      })
      const response = yield* program.pipe(
        Effect.provide(
          OpenAiLanguageModel.layerConfig().pipe(
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
              new Map([["OPENAI_BASE_URL", server.url], ["OPENAI_MODEL", "cfg-model"], ["OPENAI_TIMEOUT_MS", "2000"]])
            )))
          )
        )
      )
      assert.strictEqual(response.message.content, "configured")
      yield* program.pipe(
        Effect.provide(
          OpenAiLanguageModel.layerConfig().pipe(
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
              new Map([["OPENAI_BASE_URL", server.url], ["OPENAI_MODEL", "cfg-model"], ["OPENAI_API_KEY", "sk-cfg"]])
            )))
          )
        )
      )
      const requests = yield* server.requests
      assert.strictEqual(requests[0]?.headers["authorization"], "Bearer no-api-key")
      assert.strictEqual(requests[0]?.body?.model, "cfg-model")
      assert.strictEqual(requests[1]?.headers["authorization"], "Bearer sk-cfg")
    }))

  it.effect("rejects an invalid OPENAI_TIMEOUT_MS as ConfigurationInvalid", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(OpenAiLanguageModel.layerConfig()).pipe(
        Effect.scoped,
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_TIMEOUT_MS", "soon"]]))),
        Effect.flip
      )
      assert.instanceOf(error, Errors.ConfigurationInvalid)
      assert.strictEqual(error.key, "OPENAI_TIMEOUT_MS")
    }))
})
