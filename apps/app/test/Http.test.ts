import { assert, describe, it } from "@effect/vitest"
import { FakeOpenAi } from "@patinox/testing"
import { ConfigProvider, Effect, Layer } from "effect"
import * as Http from "../src/Http.js"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { config, post, request, startServer } from "./server.js"

describe("the service over real HTTP (simulated model)", () => {
  it.scopedLive("answers 17 + 25 with 42 through the calculator tool, with steps and usage", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const { body, status } = yield* post(`${base}/agents/assistant/runs`, { input: "What is 17 + 25?" })
      assert.strictEqual(status, 200)
      assert.include(String(body?.answer), "42")
      const steps = body?.steps as ReadonlyArray<Record<string, unknown>>
      assert.deepStrictEqual(steps.map((s) => s._tag), ["ModelStep", "ToolStep", "ModelStep"])
      assert.strictEqual(steps[1]?.tool, "calculator")
      assert.include(String(steps[1]?.output), "\"result\":42")
      const usage = body?.usage as { inputTokens: number; outputTokens: number }
      assert.isAbove(usage.inputTokens, 0)
      assert.isAbove(usage.outputTokens, 0)
    }))

  it.scopedLive("answers a time question through the current_time tool", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const { body, status } = yield* post(`${base}/agents/assistant/runs`, { input: "What time is it?" })
      assert.strictEqual(status, 200)
      const steps = body?.steps as ReadonlyArray<Record<string, unknown>>
      assert.strictEqual(steps[1]?.tool, "current_time")
      assert.match(String(body?.answer), /^It is .*20\d\d/)
    }))

  it.scopedLive("reports health and lists agents with their tools", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const health = yield* request(`${base}/health`)
      assert.strictEqual(health.status, 200)
      assert.strictEqual(health.body?.status, "ok")
      assert.deepStrictEqual(health.body?.model, { provider: "patinox-simulated", name: "patinox-simulated", simulated: true })
      const agents = yield* request(`${base}/agents`)
      const list = agents.body as unknown as ReadonlyArray<{ name: string; tools: ReadonlyArray<{ name: string; parameters: { type: string } }> }>
      assert.strictEqual(list[0]?.name, "assistant")
      assert.deepStrictEqual(list[0]?.tools.map((t) => t.name), ["calculator", "current_time"])
      assert.strictEqual(list[0]?.tools[0]?.parameters.type, "object")
    }))

  it.scopedLive("answers bad JSON, a wrong schema and empty input with 400 and a clear message", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const url = `${base}/agents/assistant/runs`
      const badJson = yield* post(url, "{\"input\": ")
      assert.strictEqual(badJson.status, 400)
      assert.include(String(badJson.body?.message), "not valid JSON")
      const wrongSchema = yield* post(url, JSON.stringify({ prompt: "hi" }))
      assert.strictEqual(wrongSchema.status, 400)
      assert.strictEqual(wrongSchema.body?.error, "InvalidRequest")
      assert.include(String(wrongSchema.body?.message), "input: is missing")
      assert.deepStrictEqual(wrongSchema.body?.details, [{ path: ["input"], message: "is missing" }])
      const wrongType = yield* post(url, JSON.stringify({ input: 42 }))
      assert.strictEqual(wrongType.status, 400)
      const empty = yield* post(url, JSON.stringify({ input: "" }))
      assert.strictEqual(empty.status, 400)
      assert.include(String(empty.body?.message), "input must not be empty")
    }))

  it.scopedLive("answers an unknown agent with 404", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const { body, status } = yield* post(`${base}/agents/nobody/runs`, JSON.stringify({ input: "hi" }))
      assert.strictEqual(status, 404)
      assert.strictEqual(body?.error, "AgentNotFound")
      assert.include(String(body?.message), "No agent named \"nobody\"")
    }))
})

describe("the service with a real OpenAI-compatible endpoint (fake server, real SDK)", () => {
  const withEnv = (env: Record<string, string>) => Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

  it.scopedLive("runs the tool loop against the endpoint and reports the usage the server sent", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.make({
        replies: [
          FakeOpenAi.toolCall("calculator", { operation: "add", a: 17, b: 25 }, { usage: { promptTokens: 100, completionTokens: 20 } }),
          FakeOpenAi.text("The answer is 42.", { usage: { promptTokens: 150, completionTokens: 8 } })
        ]
      })
      const model = Http.modelLayer({ ...config, realModel: true }).pipe(
        Layer.provide(withEnv({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: "sk-test-123", OPENAI_MODEL: "gpt-test" }))
      )
      const base = yield* startServer(model)
      const { body, status } = yield* post(`${base}/agents/assistant/runs`, { input: "What is 17 + 25?" })
      assert.strictEqual(status, 200)
      assert.strictEqual(body?.answer, "The answer is 42.")
      assert.deepStrictEqual(body?.usage, { inputTokens: 250, outputTokens: 28 })
      const requests = yield* fake.requests
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(requests[0]?.body?.model, "gpt-test")
      const second = requests[1]?.body?.messages.at(-1)
      assert.strictEqual(second?.role, "tool")
      assert.include(String(second?.content), "\"result\":42")
    }))

  it.scopedLive("answers 502 with the typed error when the provider refuses the key", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.make({ replies: [FakeOpenAi.error(401, "Incorrect API key provided")] })
      const model = Http.modelLayer({ ...config, realModel: true }).pipe(
        Layer.provide(withEnv({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: "sk-wrong" }))
      )
      const base = yield* startServer(model)
      const { body, status } = yield* post(`${base}/agents/assistant/runs`, { input: "hi" })
      assert.strictEqual(status, 502)
      assert.strictEqual(body?.error, "ModelAuthenticationFailed")
      assert.isString(body?.runId)
      assert.notInclude(JSON.stringify(body), "sk-wrong")
    }))
})
