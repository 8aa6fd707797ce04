/**
 * The agents the service hosts. Each is built once against the configured
 * model and run per request with the service's pipeline and monitor.
 */
import { Agent, type RunResult } from "@patinox/agent"
import { type Errors, LanguageModel, type Monitor, type Tool, type ValidationPipeline } from "@patinox/core"
import { Effect } from "effect"
import { calculator, currentTime } from "./DemoTools.js"

export interface HostedAgent {
  readonly name: string
  readonly description: string
  readonly model: string
  readonly tools: ReadonlyArray<Tool.Any>
  readonly run: (input: string) => Effect.Effect<RunResult.RunResult, Errors.RunError>
}

export class Agents extends Effect.Service<Agents>()("@patinox/app/Agents", {
  effect: Effect.gen(function*() {
    const model = yield* LanguageModel.LanguageModel
    const services = yield* Effect.context<
      LanguageModel.LanguageModel | ValidationPipeline.ValidationPipeline | Monitor.Monitor
    >()

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
        run: (input) => Agent.run(assistant, input).pipe(Effect.provide(services))
      }
    ]
    const byName = new Map(hosted.map((agent) => [agent.name, agent] as const))
    return {
      list: hosted,
      get: (name: string) => byName.get(name)
    } as const
  })
}) {}
