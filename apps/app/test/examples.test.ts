import { assert, describe, it } from "@effect/vitest"
import { AgentAction, Ids, Monitor, ValidationPipeline } from "@patinox/core"
import { Effect, Layer } from "effect"
import { pipeline } from "../src/examples/customValidator.js"

describe("the custom validator example in docs/validation.md", () => {
  it.effect("redacts e-mail addresses from final answers and leaves other answers alone", () =>
    Effect.gen(function*() {
      const context = { agentId: Ids.AgentId.make("a"), runId: Ids.RunId.make("r") }
      const check = (content: string) =>
        ValidationPipeline.check(new AgentAction.FinalAnswer({ step: 1, content }), context)
      const redacted = yield* check("Write to ada@example.com or bob@example.org.")
      assert.strictEqual(redacted._tag, "Proceed")
      assert.strictEqual(
        redacted._tag === "Proceed" && redacted.action._tag === "FinalAnswer" ? redacted.action.content : "",
        "Write to [email] or [email]."
      )
      const untouched = yield* check("No addresses here.")
      assert.strictEqual(untouched._tag === "Proceed" && untouched.action._tag === "FinalAnswer" ? untouched.action.content : "", "No addresses here.")
      const pipelineService = yield* ValidationPipeline.ValidationPipeline
      assert.deepStrictEqual(pipelineService.validators, ["jailbreak", "no-emails"])
    }).pipe(Effect.provide(pipeline.pipe(Layer.provideMerge(Monitor.layerMemory())))))
})
