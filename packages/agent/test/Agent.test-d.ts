/**
 * Type-level tests: each `@ts-expect-error` states something that must not
 * compile, beside a positive twin that must. If the typestate regresses, the
 * unused `@ts-expect-error` fails `tsc` and this file fails.
 */
import { Agent, type RunResult } from "@patinox/agent"
import { type Errors, LanguageModel, type Monitor, Tool, type ValidationPipeline } from "@patinox/core"
import { Effect, Layer, Schema } from "effect"
import { describe, expectTypeOf, it } from "vitest"
import { add, balance, type Ledger } from "./fixtures.js"

type Services = ValidationPipeline.ValidationPipeline | Monitor.Monitor

declare const modelLayer: Layer.Layer<LanguageModel.LanguageModel, Errors.ConfigurationInvalid>

describe("the builder", () => {
  it("builds only when the model and the instructions are set", () => {
    const complete = Agent.make("a").model("gpt").instructions("be brief")
    expectTypeOf(complete.build).toBeFunction()
    expectTypeOf(complete.build()).toEqualTypeOf<Agent.Agent<never, never, LanguageModel.LanguageModel>>()
  })

  it("names the missing model", () => {
    const noModel = Agent.make("a").instructions("be brief")
    expectTypeOf(noModel.build).toEqualTypeOf<Agent.TypeError<"Agent is missing: model">>()
    // @ts-expect-error Agent is missing: model
    noModel.build()
  })

  it("names the missing instructions", () => {
    const noInstructions = Agent.make("a").model("gpt")
    expectTypeOf(noInstructions.build).toEqualTypeOf<Agent.TypeError<"Agent is missing: instructions">>()
    // @ts-expect-error Agent is missing: instructions
    noInstructions.build()
  })

  it("names both parts when nothing is set", () => {
    expectTypeOf(Agent.make("a").build).toEqualTypeOf<
      Agent.TypeError<"Agent is missing: model" | "Agent is missing: instructions">
    >()
    // @ts-expect-error Agent is missing: model, instructions
    Agent.make("a").build()
  })

  it("refuses a second model (a duplicate required part is an error, not an override)", () => {
    const withModel = Agent.make("a").model("gpt")
    expectTypeOf(withModel.model).toEqualTypeOf<Agent.TypeError<"Agent already has: model">>()
    // @ts-expect-error Agent already has: model
    withModel.model("other")
    expectTypeOf(Agent.make("a").model).toBeCallableWith("gpt")
  })

  it("refuses second instructions", () => {
    const withInstructions = Agent.make("a").instructions("one")
    // @ts-expect-error Agent already has: instructions
    withInstructions.instructions("two")
    expectTypeOf(Agent.make("a").instructions).toBeCallableWith("one")
  })

  it("lets optional parts be set in any order and more than once", () => {
    const agent = Agent.make("a").maxSteps(3).instructions("i").temperature(0).maxSteps(5).model("gpt").build()
    expectTypeOf(agent).toEqualTypeOf<Agent.Agent<never, never, LanguageModel.LanguageModel>>()
  })

  it("refuses two tools with the same name", () => {
    const addAgain = Tool.make("add", {
      description: "another add",
      parameters: Schema.Struct({ x: Schema.Number }),
      success: Schema.Number,
      handler: ({ x }) => Effect.succeed(x)
    })
    expectTypeOf(Agent.make("a").tools(add, addAgain)).toEqualTypeOf<Agent.TypeError<"Duplicate tool name: add">>()
    expectTypeOf(Agent.make("a").tools(add).tools(addAgain)).toEqualTypeOf<
      Agent.TypeError<"Duplicate tool name: add">
    >()
    // @ts-expect-error a builder with duplicate tools cannot go on
    Agent.make("a").tools(add, addAgain).model("gpt")
    expectTypeOf(Agent.make("a").tools(add, balance).model).toBeFunction()
  })
})

describe("requirements", () => {
  it("carries the tools' requirements into the agent and its run", () => {
    const agent = Agent.make("a").model(modelLayer).instructions("i").tools(add, balance).build()
    expectTypeOf(agent).toEqualTypeOf<Agent.Agent<typeof add | typeof balance, Errors.ConfigurationInvalid, Ledger>>()
    expectTypeOf(Agent.run(agent, "hi")).toEqualTypeOf<
      Effect.Effect<RunResult.RunResult, Errors.RunError | Errors.ConfigurationInvalid, Ledger | Services>
    >()
  })

  it("needs a LanguageModel in context when the model is given by name, not when it is a Layer", () => {
    const byName = Agent.make("a").model("gpt").instructions("i").build()
    const byLayer = Agent.make("a").model(modelLayer).instructions("i").build()
    expectTypeOf(Agent.run(byName, "hi")).toEqualTypeOf<
      Effect.Effect<RunResult.RunResult, Errors.RunError, LanguageModel.LanguageModel | Services>
    >()
    expectTypeOf(Agent.run(byLayer, "hi")).toEqualTypeOf<
      Effect.Effect<RunResult.RunResult, Errors.RunError | Errors.ConfigurationInvalid, Services>
    >()
  })

  it("cannot run without a validation pipeline in context", () => {
    const agent = Agent.make("a").model(modelLayer).instructions("i").build()
    // @ts-expect-error ValidationPipeline is not provided
    const unvalidated: Effect.Effect<RunResult.RunResult, unknown, Monitor.Monitor> = Agent.run(agent, "hi")
    const validated: Effect.Effect<RunResult.RunResult, unknown, Services> = Agent.run(agent, "hi")
    expectTypeOf(unvalidated).not.toEqualTypeOf(validated)
  })

  it("cannot run without a monitor in context", () => {
    const agent = Agent.make("a").model(modelLayer).instructions("i").build()
    // @ts-expect-error Monitor is not provided
    const unmonitored: Effect.Effect<RunResult.RunResult, unknown, ValidationPipeline.ValidationPipeline> = Agent.run(
      agent,
      "hi"
    )
    expectTypeOf(unmonitored).not.toBeNever()
  })

  it("cannot run a tool-using agent without the tools' services", () => {
    const agent = Agent.make("a").model(modelLayer).instructions("i").tools(balance).build()
    // @ts-expect-error Ledger is not provided
    const withoutLedger: Effect.Effect<RunResult.RunResult, unknown, Services> = Agent.run(agent, "hi")
    const withLedger: Effect.Effect<RunResult.RunResult, unknown, Services | Ledger> = Agent.run(agent, "hi")
    expectTypeOf(withLedger).not.toEqualTypeOf(withoutLedger)
  })
})

describe("typed tools", () => {
  it("accepts only arguments of the tool's parameter type", () => {
    expectTypeOf(Tool.execute(add, { a: 1, b: 2 })).toEqualTypeOf<Effect.Effect<{ readonly sum: number }>>()
    // @ts-expect-error a must be a number
    Tool.execute(add, { a: "1", b: 2 })
    // @ts-expect-error b is required
    Tool.execute(add, { a: 1 })
  })

  it("requires the handler to return the success type", () => {
    Tool.make("ok", {
      description: "d",
      parameters: Schema.Struct({}),
      success: Schema.Number,
      handler: () => Effect.succeed(1)
    })
    Tool.make("bad", {
      description: "d",
      parameters: Schema.Struct({}),
      success: Schema.Number,
      // @ts-expect-error a string is not a number
      handler: () => Effect.succeed("one")
    })
  })

  it("types the handler's parameters from the schema", () => {
    Tool.make("typed", {
      description: "d",
      parameters: Schema.Struct({ n: Schema.Number }),
      success: Schema.Number,
      handler: ({ n }) => {
        expectTypeOf(n).toEqualTypeOf<number>()
        // @ts-expect-error n is a number, not a string
        return Effect.succeed(n.toUpperCase())
      }
    })
  })
})

describe("lifecycle", () => {
  it("has send, ask and stop on a running handle, and returns a stopped handle from stop", () => {
    expectTypeOf<Agent.Running["send"]>().toEqualTypeOf<(input: string) => Effect.Effect<void, Errors.AgentStopped>>()
    expectTypeOf<Agent.Running["stop"]>().toEqualTypeOf<Effect.Effect<Agent.Stopped>>()
  })

  it("has no send or ask on a stopped handle", () => {
    const useStopped = (stopped: Agent.Stopped) => {
      // @ts-expect-error a stopped agent has no send
      stopped.send("hi")
      // @ts-expect-error a stopped agent has no ask
      stopped.ask("hi")
      // @ts-expect-error a stopped agent cannot be stopped again
      stopped.stop
      return stopped.stats
    }
    expectTypeOf(useStopped).returns.toEqualTypeOf<Agent.Stats>()
  })

  it("starts only in a scope, and reports the model layer's error", () => {
    const agent = Agent.make("a").model(modelLayer).instructions("i").build()
    expectTypeOf(Agent.start(agent)).toEqualTypeOf<
      Effect.Effect<Agent.Running, Errors.ConfigurationInvalid, Services | import("effect").Scope.Scope>
    >()
  })

  it("cannot start an incomplete builder", () => {
    const incomplete = Agent.make("a").model("gpt")
    // @ts-expect-error a builder is not an agent
    Agent.start(incomplete)
    expectTypeOf(Agent.start(incomplete.instructions("i").build())).not.toBeNever()
  })
})

// keep the LanguageModel value import used (it is a type-only use elsewhere)
expectTypeOf(LanguageModel.collect).toBeFunction()
