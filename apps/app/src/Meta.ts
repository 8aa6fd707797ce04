/**
 * The meta-layer hosted by the service and by `patinox analyze`: the
 * built-in analysers, a replayer that runs agents built from edited files
 * with this process's tools and model, and the publisher the config asks
 * for (GitHub with a token and repository, else a branch in the local git
 * repository holding the behaviour files).
 */
import { Agent, AgentRuntime } from "@patinox/agent"
import { ActionResult, AgentAction, Ids, LanguageModel, Message, Monitor, Usage, ValidationPipeline } from "@patinox/core"
import {
  Behaviour,
  BuiltInAnalysers,
  GitHubPublisher,
  LocalGitPublisher,
  MetaConfig,
  MetaLayer,
  ProposalStore,
  Publisher,
  Replay,
  Rewrite
} from "@patinox/meta"
import { JailbreakValidator, type KnowledgeBase, PromptGuard } from "@patinox/validation"
import { Config, Duration, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import { execFileSync } from "node:child_process"
import { realpathSync } from "node:fs"
import { basename, relative } from "node:path"
import { BehaviourDir, build, localTools, type RegisteredTool } from "./Agents.js"
import * as SimulatedModel from "./SimulatedModel.js"

// Replayed runs are bounded like the service's own, so a looping edit cannot hang a pass.
const replayDeadline = Duration.minutes(2)
const replayConcurrency = 4
const eventsPerStep = 50

const finishReason = Schema.decodeUnknownSync(ActionResult.FinishReason)

/**
 * A model that answers one run from its recording: the recorded responses
 * in order, tool-call ids included, then (if the replayed run asks for more,
 * having taken another path) the configured model.
 */
export const recorded = (
  responses: ReadonlyArray<Replay.RecordedResponse>,
  fallback: LanguageModel.Service
): LanguageModel.Service => {
  let next = 0
  const chat = (request: LanguageModel.ChatRequest) =>
    Effect.suspend(() => {
      const response = responses[next++]
      return response === undefined ? fallback.chat(request) : Effect.succeed(
        new LanguageModel.ChatResponse({
          model: fallback.model,
          message: new Message.AssistantMessage({
            content: response.content,
            toolCalls: response.toolCalls.map((call) =>
              new Message.ToolCall({ id: Ids.ToolCallId.make(call.id), name: call.name, arguments: call.arguments })
            )
          }),
          finishReason: finishReason(response.finishReason),
          usage: new Usage.Usage({ inputTokens: response.tokensIn, outputTokens: response.tokensOut })
        })
      )
    })
  return {
    provider: "recorded",
    model: fallback.model,
    chat,
    stream: (request) => Stream.unwrap(Effect.map(chat(request), (response) => LanguageModel.toDeltas(response)))
  }
}

/**
 * Builds the agents the inputs name from the given files and runs each input
 * once, on the recorded responses in `recorded` mode, else on the model.
 * Runs report to a monitor of their own, never to the store, and pass
 * no validators (their decisions would be recorded to the store); agents
 * that delegate to other agents are not replayed, since the agents they ask
 * are the service's live actors.
 */
export const replayer: Layer.Layer<Replay.Replayer, never, LanguageModel.LanguageModel | KnowledgeBase.KnowledgeBase> =
  Layer.effect(
    Replay.Replayer,
    Effect.gen(function*() {
      const model = yield* LanguageModel.LanguageModel
      const tools = yield* localTools
      const registry = new Map<string, RegisteredTool>(tools.map((tool) => [tool.name, tool] as const))
      const replay = (files: ReadonlyArray<Replay.FileText>, inputs: ReadonlyArray<Replay.Input>, mode: Replay.Mode) =>
        Effect.gen(function*() {
          const wanted = new Set(inputs.map((input) => input.agent))
          const built = new Map<string, Effect.Effect.Success<ReturnType<typeof build>>["agent"]>()
          const steps = new Map<string, number>()
          for (const { file, text } of files) {
            const behaviour = yield* Behaviour.decode(text, file)
            if (!wanted.has(behaviour.name)) continue
            const asks = behaviour.tools.find((tool) => !registry.has(tool.name))
            if (asks !== undefined) {
              return yield* new Replay.ReplayError({
                reason: `${behaviour.name} uses ${asks.name}, which does not run in this process (delegation is not replayed)`
              })
            }
            steps.set(behaviour.name, behaviour.maxSteps)
            const loaded = { file, text, behaviour: { ...behaviour, validation: undefined } }
            built.set(behaviour.name, (yield* build(loaded, registry, model.model)).agent)
          }
          // The ring is allocated whole, so it is sized to these runs: a step reports about ten events.
          const capacity = inputs.reduce((n, input) => n + eventsPerStep * (steps.get(input.agent) ?? 1) + eventsPerStep, 0)
          const { memory, monitor } = yield* Monitor.makeMemory(Math.max(1, capacity))
          yield* Effect.forEach(inputs, (input) => {
            const agent = built.get(input.agent)
            const responses = mode === "recorded" ? input.responses : undefined
            return agent === undefined
              ? new Replay.ReplayError({ reason: `no behaviour file defines agent ${input.agent}` })
              : Effect.ignore(Agent.run(agent, input.input, { deadline: replayDeadline })).pipe(
                Effect.provideService(LanguageModel.LanguageModel, responses === undefined ? model : recorded(responses, model))
              )
          }, { concurrency: replayConcurrency, discard: true }).pipe(
            // The registry's tools are typed for delegation; none delegates here, so an idle runtime of its own.
            Effect.provide(AgentRuntime.layer()),
            Effect.provideService(Monitor.Monitor, monitor),
            Effect.provideService(ValidationPipeline.ValidationPipeline, ValidationPipeline.passThroughService)
          )
          return yield* memory.events
        }).pipe(
          Effect.catchTag("BehaviourFileError", (error) => new Replay.ReplayError({ reason: error.message })),
          Effect.withSpan("Meta.replay")
        )
      return { replay }
    })
  )

const git = (dir: string, ...args: ReadonlyArray<string>): Option.Option<string> => {
  try {
    return Option.some(execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim())
  } catch {
    return Option.none()
  }
}

/**
 * The publisher and how it names files: GitHub when `meta.github` is set and
 * `GITHUB_TOKEN` is present; else the git repository holding the behaviour
 * folder, proposals branching from its checked-out branch. Without either,
 * proposals are stored and shown by the API but not published.
 */
export const publishing = (config: MetaConfig.MetaConfig, behaviourDir: string) =>
  Effect.gen(function*() {
    const token = yield* Config.option(Config.redacted("GITHUB_TOKEN")).pipe(Effect.orDie)
    const github = config.github
    if (github !== undefined && Option.isSome(token) && Redacted.value(token.value) !== "") {
      const [owner = "", repo = ""] = github.repository.split("/")
      return {
        layer: GitHubPublisher.layer({
          token: token.value,
          owner,
          repo,
          baseBranch: github.base,
          baseUrl: github.baseUrl,
          autoMerge: config.autoMerge
        }),
        pathInRepo: (file: string) => [github.behaviourPath.replace(/\/+$/, ""), basename(file)].filter((p) => p !== "").join("/"),
        target: `GitHub ${github.repository}`
      }
    }
    if (github !== undefined) yield* Effect.logWarning("meta.github is set but GITHUB_TOKEN is not: publishing to local git")
    const root = git(behaviourDir, "rev-parse", "--show-toplevel")
    if (Option.isNone(root)) {
      return {
        layer: Layer.succeed(Publisher.Publisher, {
          publish: () =>
            new Publisher.GitError({ command: "git rev-parse", message: `${behaviourDir} is not in a git repository` })
        }),
        pathInRepo: basename,
        target: "nowhere (the behaviour folder is not in a git repository)"
      }
    }
    const branch = Option.getOrElse(git(behaviourDir, "symbolic-ref", "--short", "-q", "HEAD"), () => "main")
    return {
      layer: LocalGitPublisher.layer({ repoDir: root.value, baseBranch: branch, autoMerge: config.autoMerge }),
      // git answers with the real path (macOS's /tmp is /private/tmp): the file's must match it.
      pathInRepo: (file: string) => relative(root.value, realpathSync(file)).split("\\").join("/"),
      target: `git branch from ${branch} in ${root.value}`
    }
  })

/**
 * The anti-jailbreak validator as the meta-layer's output guard: a model's
 * rewrite is judged as text arriving from outside (the user-input stage),
 * and anything but an approval, or the validator failing, refuses it.
 */
export const outputGuard: Layer.Layer<Rewrite.OutputGuard, PromptGuard.PromptGuardModelError> = Layer.effect(
  Rewrite.OutputGuard,
  Effect.gen(function*() {
    const shared = yield* Effect.serviceOption(PromptGuard.PromptGuard)
    const validator = yield* JailbreakValidator.make({}, { guard: Option.getOrUndefined(shared) })
    const context = {
      agentId: Ids.AgentId.make("patinox-meta"),
      runId: Ids.RunId.make("patinox-meta-rewrite"),
      stage: "user_input" as const
    }
    return {
      check: (text: string) =>
        validator.validate(new AgentAction.UserInput({ input: text }), context).pipe(
          Effect.map((decision) =>
            decision._tag === "Approved"
              ? Option.none()
              : Option.some(decision._tag === "Rejected" ? decision.reason : `${decision._tag.toLowerCase()} by ${validator.name}`)
          ),
          Effect.catchAll((error) => Effect.succeed(Option.some(`${validator.name} failed: ${error.message}`)))
        )
    }
  })
)

/**
 * The model the meta-layer may ask for rewritten instructions: the service's
 * model when it is a real one. The offline simulated model cannot write
 * instructions, so with it nothing is rewritten.
 */
const metaModel = Layer.unwrapEffect(Effect.map(LanguageModel.LanguageModel, (model) =>
  model.provider === SimulatedModel.service.provider
    ? Layer.empty
    : Layer.merge(Layer.succeed(Rewrite.MetaModel, model), outputGuard)
))

/** Everything a pass needs beside the store's `SqlClient`, the model and the knowledge base. */
const passServices = (config: MetaConfig.MetaConfig, publisher: Layer.Layer<Publisher.Publisher>) =>
  Layer.mergeAll(BuiltInAnalysers.layer(config), replayer, publisher, ProposalStore.layer, metaModel)

/** One pass, as `patinox analyze` runs it. */
export const passOnce = (config: MetaConfig.MetaConfig, behaviourDir: string) =>
  Effect.gen(function*() {
    const publish = yield* publishing(config, behaviourDir)
    yield* Effect.logInfo(`meta: publishing to ${publish.target}`)
    return yield* MetaLayer.pass({ config, behaviourDir, pathInRepo: publish.pathInRepo }).pipe(
      Effect.provide(passServices(config, publish.layer))
    )
  })

/**
 * The scheduled passes in the service's scope (nothing when `meta.enabled`
 * is false). Where to publish is resolved at each pass, not at start: the
 * folder may become a repository later, and starting the service runs no git.
 */
export const layer = (config: MetaConfig.MetaConfig) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    if (!config.enabled) return Layer.empty
    const behaviourDir = yield* BehaviourDir
    yield* Effect.logInfo(`meta: passes on "${config.schedule}" over ${behaviourDir}`)
    return MetaLayer.scheduled(config, passOnce(config, behaviourDir))
  }))
