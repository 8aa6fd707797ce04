import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { FakeOpenAi } from "@patinox/testing"
import { ConfigProvider, Effect, Layer } from "effect"
import * as Http from "../src/Http.js"
import { config, post, request, startServer } from "./server.js"

describe("OpenTelemetry in the running service", () => {
  it.scopedLive("exports GenAI spans: the run, the model calls (with usage, once), the tools and the validators", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const fake = yield* FakeOpenAi.make({
        replies: [
          FakeOpenAi.toolCall("calculator", { operation: "add", a: 17, b: 25 }, { usage: { promptTokens: 100, completionTokens: 20 } }),
          FakeOpenAi.text("42", { usage: { promptTokens: 150, completionTokens: 5 } })
        ]
      })
      const model = Http.modelLayer({ ...config, realModel: true }).pipe(
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_BASE_URL", fake.url], ["OPENAI_MODEL", "gpt-test"]]))))
      )
      const base = yield* startServer(model, "{}", [new SimpleSpanProcessor(exporter)])
      const { status } = yield* post(`${base}/agents/assistant/runs`, { input: "What is 17 + 25?" })
      assert.strictEqual(status, 200)
      const spans = exporter.getFinishedSpans()
      const run = spans.find((s) => s.name === "invoke_agent assistant")
      assert.isDefined(run)
      assert.strictEqual(run?.attributes["gen_ai.agent.name"], "assistant")
      assert.strictEqual(run?.attributes["gen_ai.operation.name"], "invoke_agent")
      const chats = spans.filter((s) => s.name === "chat gpt-test")
      assert.strictEqual(chats.length, 2)
      assert.strictEqual(chats[0]?.attributes["gen_ai.provider.name"], "openai")
      assert.strictEqual(chats[0]?.attributes["gen_ai.request.model"], "gpt-test")
      assert.strictEqual(chats[0]?.attributes["gen_ai.usage.input_tokens"], 100)
      assert.strictEqual(chats[1]?.attributes["gen_ai.response.finish_reasons"], "[\"stop\"]")
      // usage only on the model-call spans: nothing else repeats it
      const withUsage = spans.filter((s) => s.attributes["gen_ai.usage.input_tokens"] !== undefined)
      assert.deepStrictEqual(withUsage.map((s) => s.name), ["chat gpt-test", "chat gpt-test"])
      const tool = spans.find((s) => s.name === "execute_tool calculator")
      assert.strictEqual(tool?.attributes["gen_ai.tool.name"], "calculator")
      const input = spans.find((s) => s.name === "validate user_input")
      assert.strictEqual(input?.attributes["patinox.decision.jailbreak"], "approved")
      // the model call and the tool are children of the run
      assert.strictEqual(chats[0]?.spanContext().traceId, run?.spanContext().traceId)
    }))

  it.scopedLive("serves Prometheus text at /metrics on the service's port", () =>
    Effect.gen(function*() {
      const base = yield* startServer(Http.modelLayer(config))
      const response = yield* Effect.promise(() => fetch(`${base}/metrics`))
      assert.strictEqual(response.status, 200)
      assert.include(response.headers.get("content-type") ?? "", "text/plain")
      const text = yield* Effect.promise(() => response.text())
      assert.include(text, "# TYPE target_info gauge")
      assert.include(text, "service_name=\"patinox\"")
      yield* request(`${base}/health`)
    }))
})
