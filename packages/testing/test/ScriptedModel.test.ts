import { assert, describe, it } from "@effect/vitest"
import { Errors, LanguageModel, Message, Usage } from "@patinox/core"
import { Effect, Fiber, Option, TestClock } from "effect"
import { ScriptedModel } from "../src/index.js"

const request = (content: string): LanguageModel.ChatRequest => ({ messages: [Message.user(content)], tools: [] })

describe("ScriptedModel", () => {
  it.effect("serves scripted replies in order and records the requests", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel.LanguageModel
      const first = yield* model.chat(request("one"))
      const second = yield* model.chat(request("two"))
      assert.strictEqual(first.finishReason, "tool_calls")
      assert.strictEqual(first.toolCalls[0]?.name, "search")
      assert.strictEqual(first.toolCalls[0]?.id, "call_a")
      assert.deepStrictEqual(JSON.parse(first.toolCalls[0]?.arguments ?? ""), { query: "x" })
      assert.strictEqual(second.message.content, "answer")
      assert.strictEqual(second.usage.totalTokens, 5)
      const requests = yield* (yield* ScriptedModel.Recorder).requests
      assert.deepStrictEqual(requests.map((r) => r.messages[0]?._tag === "user" ? r.messages[0].content : ""), [
        "one",
        "two"
      ])
    }).pipe(
      Effect.provide(ScriptedModel.layer([
        ScriptedModel.toolCall("search", { query: "x" }, "call_a"),
        ScriptedModel.text("answer", new Usage.Usage({ inputTokens: 3, outputTokens: 2 }))
      ]))
    ))

  it.effect("fails with a scripted model error", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel.LanguageModel
      const error = yield* Effect.flip(model.chat(request("hi")))
      assert.strictEqual(error._tag, "ModelRateLimited")
    }).pipe(
      Effect.provide(ScriptedModel.layer([new Errors.ModelRateLimited({ provider: "scripted", reason: "slow down" })]))
    ))

  it.effect("fails with ModelResponseMalformed once the script is exhausted", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel.LanguageModel
      yield* model.chat(request("one"))
      const error = yield* Effect.flip(model.chat(request("two")))
      assert.strictEqual(error._tag, "ModelResponseMalformed")
      assert.include(error.message, "script exhausted")
    }).pipe(Effect.provide(ScriptedModel.layer([ScriptedModel.text("only")]))))

  it.effect("computes replies with a responder", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel.LanguageModel
      const a = yield* model.chat(request("ping"))
      const b = yield* model.chat(request("pong"))
      assert.strictEqual(a.message.content, "0:ping")
      assert.strictEqual(b.message.content, "1:pong")
      assert.strictEqual(model.provider, "test-provider")
      assert.strictEqual(model.model, "m1")
    }).pipe(
      Effect.provide(
        ScriptedModel.layer(
          (req, index) => ScriptedModel.text(`${index}:${req.messages[0]?._tag === "user" ? req.messages[0].content : ""}`),
          { provider: "test-provider", model: "m1" }
        )
      )
    ))

  it.effect("streams a reply as deltas that collect back into it", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel.LanguageModel
      const response = yield* LanguageModel.collect("scripted", model.stream(request("go")))
      assert.strictEqual(response.message.content, "a long enough text to need several deltas")
      assert.strictEqual(response.toolCalls[0]?.name, "calc")
      assert.strictEqual(response.toolCalls[0]?.arguments, "{\"expression\":\"1 + 2 * 3\"}")
      assert.strictEqual((yield* (yield* ScriptedModel.Recorder).requests).length, 1)
    }).pipe(
      Effect.provide(ScriptedModel.layer([
        new LanguageModel.ChatResponse({
          model: "scripted-model",
          finishReason: "tool_calls",
          usage: Usage.zero,
          message: new Message.AssistantMessage({
            content: "a long enough text to need several deltas",
            toolCalls: ScriptedModel.toolCall("calc", { expression: "1 + 2 * 3" }, "call_c").toolCalls
          })
        })
      ]))
    ))

  it.effect("holds a delayed reply until the TestClock passes the delay", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel.LanguageModel
      const fiber = yield* Effect.fork(model.chat(request("wait")))
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.message.content, "late")
    }).pipe(Effect.provide(ScriptedModel.layer([ScriptedModel.delay(ScriptedModel.text("late"), "1 second")]))))

  it.effect("gives tool calls fresh ids when none is given", () =>
    Effect.sync(() => {
      const a = ScriptedModel.toolCall("t", {})
      const b = ScriptedModel.toolCall("t", {})
      assert.notStrictEqual(a.toolCalls[0]?.id, b.toolCalls[0]?.id)
      assert.strictEqual(a.toolCalls[0]?.arguments, "{}")
    }))
})
