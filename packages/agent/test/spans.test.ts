import { assert, describe, it } from "@effect/vitest"
import { Agent } from "@patinox/agent"
import { Monitor, Tool, Usage, ValidationPipeline } from "@patinox/core"
import { ScriptedModel } from "@patinox/testing"
import { Context, Effect, Layer, Option, Schema, Tracer } from "effect"

/** A tracer that keeps each span's name and its parent's name. */
const recording = () => {
  const spans: Array<{ readonly name: string; readonly parent: string | undefined }> = []
  let next = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      spans.push({ name, parent: Option.isSome(parent) && parent.value._tag === "Span" ? parent.value.name : undefined })
      next++
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: next.toString(16).padStart(16, "0"),
        traceId: "a".repeat(32),
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: new Map(),
        links,
        sampled: true,
        kind,
        end: () => {},
        attribute: () => {},
        event: () => {},
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
  const parentOf = (name: string) => spans.find((s) => s.name === name)?.parent
  return { tracer, spans, parentOf }
}

const usage = new Usage.Usage({ inputTokens: 1, outputTokens: 1 })

class Lookup extends Context.Tag("test/Lookup")<Lookup, { readonly find: Effect.Effect<string> }>() {}

/** Does traced work of its own, with a service of its own. */
const probe = Tool.make("probe", {
  description: "Looks something up",
  parameters: Schema.Struct({}),
  success: Schema.String,
  handler: () => Effect.flatMap(Lookup, (lookup) => lookup.find).pipe(Effect.withSpan("lookup"))
})

const services = (script: ScriptedModel.Script) =>
  Layer.mergeAll(
    ScriptedModel.layer(script),
    ValidationPipeline.passThrough,
    Monitor.layerMemory(),
    Layer.succeed(Lookup, { find: Effect.succeed("found") })
  )

describe("an agent run's spans", () => {
  it.effect("a tool's own spans are children of its execute_tool span, not of the run's caller", () =>
    Effect.gen(function*() {
      const { parentOf, tracer } = recording()
      const agent = Agent.make("finder").model("scripted-model").instructions("Use the probe.").tools(probe).build()
      const result = yield* Agent.run(agent, "find it").pipe(Effect.withSpan("caller"), Effect.withTracer(tracer))
      assert.strictEqual(result.answer, "done")
      assert.strictEqual(parentOf("invoke_agent finder"), "caller")
      assert.strictEqual(parentOf("execute_tool probe"), "invoke_agent finder")
      assert.strictEqual(parentOf("lookup"), "execute_tool probe")
    }).pipe(Effect.provide(services([ScriptedModel.toolCall("probe", {}, "call_1", usage), ScriptedModel.text("done", usage)]))))

  it.scoped("a run asked of a started agent is a child of the asker's span, not of the span it was started in", () =>
    Effect.gen(function*() {
      const { parentOf, spans, tracer } = recording()
      const agent = Agent.make("greeter").model("scripted-model").instructions("Greet.").build()
      const running = yield* Agent.start(agent).pipe(Effect.withSpan("startup"), Effect.withTracer(tracer))
      const result = yield* running.ask("hi").pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      assert.strictEqual(result.answer, "hello")
      assert.strictEqual(parentOf("invoke_agent greeter"), "request", JSON.stringify(spans))
    }).pipe(Effect.provide(services([ScriptedModel.text("hello", usage)]))))

})
