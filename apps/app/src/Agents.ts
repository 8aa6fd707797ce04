/**
 * The agents the service hosts. Each is built once against the configured
 * model and run per request with the service's pipeline and monitor.
 *
 * The `router` delegates to the `calculator` and `researcher` agents, which
 * run as supervised actors in the `AgentRuntime` (see `MultiAgent.ts`).
 * `Agents.Default` brings a runtime with the default settings (its finalizer
 * drains the actors before the monitor below it flushes);
 * `Agents.DefaultWithoutDependencies` takes a configured one from context.
 */
import { Agent, AgentRuntime, type RunResult } from "@patinox/agent"
import { DependencyGuard, type Errors, LanguageModel, type Monitor, type Tool, type ValidationPipeline } from "@patinox/core"
import { Metrics } from "@patinox/monitoring"
import { CircuitBreaker, KnowledgeBase } from "@patinox/validation"
import { Effect, Option } from "effect"
import { calculator, currentTime } from "./DemoTools.js"
import * as MultiAgent from "./MultiAgent.js"

export interface HostedAgent {
  readonly name: string
  readonly description: string
  readonly model: string
  readonly tools: ReadonlyArray<Tool.Any>
  readonly run: (input: string, options?: Agent.RunOptions) => Effect.Effect<RunResult.RunResult, Errors.RunError>
}

export class Agents extends Effect.Service<Agents>()("@patinox/app/Agents", {
  effect: Effect.gen(function*() {
    const model = yield* LanguageModel.LanguageModel
    const services = yield* Effect.context<
      | LanguageModel.LanguageModel
      | ValidationPipeline.ValidationPipeline
      | Monitor.Monitor
      | AgentRuntime.AgentRuntime
    >()
    const runtime = yield* AgentRuntime.AgentRuntime
    const team = MultiAgent.agents(model.model, yield* KnowledgeBase.KnowledgeBase)
    // The delegates are actors: supervised, bounded mailboxes, drained on shutdown. Starting
    // them can only fail on a duplicate id, a programming error.
    yield* Effect.orDie(Effect.provide(runtime.spawn(team.calculator), services))
    yield* Effect.orDie(Effect.provide(runtime.spawn(team.researcher), services))

    const assistant = Agent.make("assistant")
      .model(model.model)
      .instructions(
        "You are a precise assistant. Use the calculator tool for any arithmetic and the current_time tool " +
          "for the date or time; never compute or guess those yourself. Answer briefly."
      )
      .tools(calculator, currentTime)
      .maxSteps(8)
      .build()

    const hosted: ReadonlyArray<HostedAgent> = [
      {
        name: assistant.name,
        description: "A general assistant with exact arithmetic and the current time.",
        model: model.model,
        tools: assistant.tools,
        run: (input, options) => Agent.run(assistant, input, options).pipe(Effect.provide(services))
      },
      {
        name: team.router.name,
        description: "Routes arithmetic to the calculator agent and questions to the researcher agent.",
        model: model.model,
        tools: team.router.tools,
        // Run per request like the assistant; its tools ask the delegate actors by id.
        run: (input, options) => Agent.run(team.router, input, options).pipe(Effect.provide(services))
      },
      // The delegates are also reachable directly. A direct request runs the agent like the others
      // rather than through its actor's mailbox, which carries only the input: the run id, user and
      // deadline of the request would not reach the run.
      {
        name: team.calculator.name,
        description: "Does exact arithmetic with the calculator tool; the router delegates to it.",
        model: model.model,
        tools: team.calculator.tools,
        run: (input, options) => Agent.run(team.calculator, input, options).pipe(Effect.provide(services))
      },
      {
        name: team.researcher.name,
        description: "Answers questions from the documents it searches; the router delegates to it.",
        model: model.model,
        tools: team.researcher.tools,
        run: (input, options) => Agent.run(team.researcher, input, options).pipe(Effect.provide(services))
      }
    ]
    // The breaker's state gauge for every dependency from the start (a never-called one is closed),
    // not only after its first state change.
    const breaker = yield* Effect.serviceOption(CircuitBreaker.CircuitBreaker)
    if (Option.isSome(breaker)) {
      const tools = [...hosted.flatMap((agent) => agent.tools), ...team.calculator.tools, ...team.researcher.tools]
      const dependencies = new Set([DependencyGuard.model, ...tools.map((tool) => DependencyGuard.tool(tool.name))])
      yield* Effect.forEach(dependencies, (dependency) =>
        Effect.flatMap(breaker.value.state(dependency), (state) => Metrics.recordCircuitState(dependency, state)), {
        discard: true
      })
    }
    const byName = new Map(hosted.map((agent) => [agent.name, agent] as const))
    return {
      list: hosted,
      get: (name: string) => byName.get(name)
    } as const
  }),
  dependencies: [AgentRuntime.layer({ shutdownDeadline: "10 seconds" })]
}) {}
