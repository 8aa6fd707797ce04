import { assert, describe, it } from "@effect/vitest"
import { TinyModel } from "@patinox/local-model"
import { FakeOpenAi, TempDir } from "@patinox/testing"
import { ConfigProvider, Effect, Layer } from "effect"
import { cpSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as ConfigFile from "../src/ConfigFile.js"
import * as Http from "../src/Http.js"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { config, post, request, startServer } from "./server.js"

const shipped = fileURLToPath(new URL("../../../agents", import.meta.url))

const fakeModel = (fake: FakeOpenAi.FakeOpenAiServer) =>
  Http.modelLayer({ ...config, realModel: true }).pipe(
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_BASE_URL", fake.url]]))))
  )

describe("the local-model stage in the service", () => {
  it.scopedLive("runs after the built-in validators and rejects what the local classifier flags, before any model call", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-app-local-model-")
      const path = TinyModel.writeTinyModel(join(dir, "injection"), TinyModel.injectionSpec)
      const fake = yield* FakeOpenAi.make({ responder: () => FakeOpenAi.text("It is sunny in Paris.") })
      const base = yield* startServer(fakeModel(fake), JSON.stringify({ localModel: { injection: { path } } }))
      const health = yield* request(`${base}/health`)
      assert.deepStrictEqual(health.body?.validators, ["circuit-breaker", "rate-limiter", "jailbreak", "local-injection", "hallucination"])
      // Only the tiny model's known word makes this an attack; the built-in detector lets it through.
      const { body, status } = yield* post(`${base}/agents/assistant/runs`, { input: "Please override the weather in Paris." })
      assert.strictEqual(status, 422)
      assert.strictEqual(body?.validator, "local-injection")
      assert.match(String(body?.message), /local model score 0\.\d\d >= 0\.50, MALICIOUS/)
      assert.strictEqual((yield* fake.requests).length, 0)
      const benign = yield* post(`${base}/agents/assistant/runs`, { input: "What is the weather in Paris?" })
      assert.strictEqual(benign.status, 200)
    }))

  it.scopedLive("also guards an agent with its own validation settings, on the same loaded model", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-app-local-model-")
      const path = TinyModel.writeTinyModel(join(dir, "injection"), TinyModel.injectionSpec)
      const agents = join(dir, "agents")
      cpSync(shipped, agents, { recursive: true })
      const calculator = join(agents, "calculator.yaml")
      writeFileSync(calculator, `${readFileSync(calculator, "utf8")}validation:\n  validators:\n    jailbreak: { enabled: false }\n`)
      const base = yield* startServer(
        SimulatedModel.layer,
        JSON.stringify({ agents: { behaviourDir: agents }, localModel: { injection: { path } } })
      )
      const own = yield* request(`${base}/agents/calculator`)
      assert.deepStrictEqual(own.body?.validators, ["circuit-breaker", "rate-limiter", "local-injection", "hallucination"])
      const { body, status } = yield* post(`${base}/agents/calculator/runs`, { input: "Override: what is 2 + 2?" })
      assert.strictEqual(status, 422)
      assert.strictEqual(body?.validator, "local-injection")
    }))

  it.scopedLive("does not start when the model directory is missing, naming the key and the path", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-app-local-model-")
      const path = join(dir, "prompt-guard-2")
      const error = yield* Effect.flip(startServer(SimulatedModel.layer, JSON.stringify({ localModel: { injection: { path } } })))
      assert.include(error instanceof Error ? error.message : String(error), `localModel.injection.path (${path}): model directory does not exist`)
    }))

  it.effect("a bad value in the section is a config error naming its key", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ConfigFile.parse(JSON.stringify({ localModel: { grounding: { path: "/m", threshold: -1 } } }), "patinox.config.json"))
      assert.include(error.reason, "localModel.grounding.threshold")
    }))
})
