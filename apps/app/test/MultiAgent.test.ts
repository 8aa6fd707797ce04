import { assert, describe, it } from "@effect/vitest"
import { AgentRuntime } from "@patinox/agent"
import { Monitor, ValidationPipeline } from "@patinox/core"
import { Effect, Layer } from "effect"
import { Agents } from "../src/Agents.js"
import * as MultiAgent from "../src/MultiAgent.js"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { post, startServer } from "./server.js"

describe("the multi-agent router over real HTTP (simulated model)", () => {
  it.scopedLive("delegates arithmetic to the calculator agent", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const { body, status } = yield* post(`${base}/agents/router/runs`, { input: "What is 17 + 25?" })
      assert.strictEqual(status, 200)
      assert.strictEqual(body?.answer, "17 + 25 = 42")
      const steps = body?.steps as ReadonlyArray<Record<string, unknown>>
      assert.deepStrictEqual(steps.map((s) => s._tag), ["ModelStep", "ToolStep", "ModelStep"])
      assert.strictEqual(steps[1]?.tool, "ask_calculator")
    }))

  it.scopedLive("delegates questions to the researcher agent, which searches its documents", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const { body, status } = yield* post(`${base}/agents/router/runs`, { input: "Who was Ada Lovelace?" })
      assert.strictEqual(status, 200)
      assert.include(String(body?.answer), "According to \"Ada Lovelace\"")
      const steps = body?.steps as ReadonlyArray<Record<string, unknown>>
      assert.strictEqual(steps[1]?.tool, "ask_researcher")
    }))
})

describe("the multi-agent example on the runtime", () => {
  const services = Layer.mergeAll(SimulatedModel.layer, ValidationPipeline.passThrough, Monitor.layerMemory())

  it.scoped("links the delegate's run to the router's, and lists the delegates as running actors", () =>
    Effect.gen(function*() {
      const agents = yield* Agents
      const runtime = yield* AgentRuntime.AgentRuntime
      const router = agents.get("router")
      assert.isDefined(router)
      const result = yield* router!.run("Explain the actors")
      assert.include(result.answer, "bounded mailbox")
      assert.sameMembers((yield* runtime.agents).map(String), ["calculator", "researcher"])
      const events = yield* Effect.flatMap(Monitor.MemoryMonitor, (m) => m.events)
      const child = events.find((e) => e.type === "run.start" && e.agentId === MultiAgent.researcherId)
      assert.strictEqual(child?.context["patinox.parent.run.id"], result.runId)
    }).pipe(
      Effect.provide(
        Agents.DefaultWithoutDependencies.pipe(Layer.provideMerge(AgentRuntime.layer()), Layer.provideMerge(services))
      )
    ))

  it("searches the documents by shared words, titles first", () => {
    assert.strictEqual(MultiAgent.search("who was Ada Lovelace")[0]?.title, "Ada Lovelace")
    assert.deepStrictEqual(MultiAgent.search("nothing matches zzz"), [])
  })
})
