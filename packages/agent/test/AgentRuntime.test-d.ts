/**
 * Type-level tests for the actor runtime: each `@ts-expect-error` states
 * something that must not compile, beside a positive twin that must.
 */
import { Agent, AgentRuntime, type RunResult, type Supervisor } from "@patinox/agent"
import type { Errors, Ids, Monitor, Tool, ValidationPipeline } from "@patinox/core"
import type { Effect, Schema } from "effect"
import { describe, expectTypeOf, it } from "vitest"

declare const runtime: AgentRuntime.Service
declare const calculatorId: Ids.AgentId
declare const runId: Ids.RunId

describe("running handles", () => {
  it("a stopped handle has no send, a running one has", () => {
    const use = (running: Agent.Running, stopped: Agent.Stopped) => {
      expectTypeOf(running.send("hi")).toEqualTypeOf<Effect.Effect<void, Errors.AgentStopped>>()
      // @ts-expect-error a stopped agent has no send
      stopped.send("hi")
    }
    expectTypeOf(use).toBeFunction()
  })

  it("MailboxFull is a possible error only when the overflow policy is fail", () => {
    const strict = Agent.make("s").model("m").instructions("i").mailbox({ capacity: 4, overflow: "fail" }).build()
    const patient = Agent.make("p").model("m").instructions("i").mailbox({ capacity: 4 }).build()
    expectTypeOf(strict).toEqualTypeOf<Agent.Agent<never, never, import("@patinox/core").LanguageModel.LanguageModel, "fail">>()
    type StrictSend = Effect.Effect.Error<ReturnType<Agent.Running<"fail">["send"]>>
    expectTypeOf<StrictSend>().toEqualTypeOf<Errors.AgentStopped | Errors.MailboxFull>()
    expectTypeOf(Agent.start(patient)).toEqualTypeOf<
      Effect.Effect<
        Agent.Running<"wait">,
        never,
        | import("@patinox/core").LanguageModel.LanguageModel
        | ValidationPipeline.ValidationPipeline
        | Monitor.Monitor
        | import("effect").Scope.Scope
      >
    >()
    // @ts-expect-error the overflow policy is "wait" or "fail"
    Agent.make("x").mailbox({ capacity: 4, overflow: "drop" })
  })
})

describe("the runtime", () => {
  it("asks by agent id, not by any string or run id", () => {
    expectTypeOf(runtime.ask(calculatorId, "2 + 2")).toEqualTypeOf<Effect.Effect<RunResult.RunResult, AgentRuntime.AskError>>()
    // @ts-expect-error a plain string is not an AgentId
    runtime.ask("calculator", "2 + 2")
    // @ts-expect-error a RunId is not an AgentId
    runtime.ask(runId, "2 + 2")
  })

  it("gives an agent-as-tool typed parameters and the runtime as its requirement", () => {
    const tool = AgentRuntime.asTool(calculatorId, { name: "ask_calculator", description: "Arithmetic" })
    expectTypeOf(tool).toEqualTypeOf<
      Tool.Tool<"ask_calculator", AgentRuntime.AskParameters, typeof Schema.String, AgentRuntime.DelegationError, AgentRuntime.AgentRuntime>
    >()
    expectTypeOf<Schema.Schema.Type<typeof tool.parameters>>().toEqualTypeOf<{ readonly input: string }>()
    // @ts-expect-error the parameters are { input: string }
    tool.handler({ question: "2 + 2" })
    // an agent using it requires the runtime; spawning it through the runtime discharges that
    const router = Agent.make("router").model("m").instructions("i").tools(tool).build()
    type SpawnContext = Effect.Effect.Context<ReturnType<typeof runtime.spawn<never, never, AgentRuntime.AgentRuntime>>>
    expectTypeOf<SpawnContext>().toEqualTypeOf<ValidationPipeline.ValidationPipeline | Monitor.Monitor>()
    const started = Agent.start(router)
    expectTypeOf<Extract<Effect.Effect.Context<typeof started>, AgentRuntime.AgentRuntime>>().toEqualTypeOf<
      AgentRuntime.AgentRuntime
    >()
  })

  it("nests supervisors and spawns under them", () => {
    const child = runtime.supervisor("team")
    expectTypeOf(child).toEqualTypeOf<Effect.Effect<Supervisor.Supervisor, Errors.AgentStopped>>()
    // @ts-expect-error a supervisor's name is a string
    runtime.supervisor(42)
  })
})
