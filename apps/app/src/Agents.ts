/**
 * The agents the service hosts. Their behaviour (instructions, model and its
 * parameters, steps, which tools with which timeouts and retries) comes from
 * the YAML files in the behaviour folder (see docs/behaviour-files.md); the
 * tools stay code, in a registry by name. Each agent is built once at start
 * and run per request with the service's pipeline and monitor.
 *
 * Every agent `X` can be delegated to through the `ask_X` tool: the agents
 * some file delegates to run as supervised actors in the `AgentRuntime` (see
 * `MultiAgent.ts`). `Agents.Default` brings a runtime with the default
 * settings (its finalizer drains the actors before the monitor below it
 * flushes); `Agents.DefaultWithoutDependencies` takes a configured one from
 * context.
 */
import { Agent, AgentRuntime, type RunResult } from "@patinox/agent"
import { DependencyGuard, Errors, Ids, LanguageModel, Monitor, Tool, ValidationPipeline } from "@patinox/core"
import { LocalModel } from "@patinox/local-model"
import { Behaviour } from "@patinox/meta"
import { Metrics, ToolSwitch } from "@patinox/monitoring"
import { Guard, PatinoxConfig, Validation } from "@patinox/patinox"
import { CircuitBreaker, KnowledgeBase, type Validator } from "@patinox/validation"
import { Config, Context, Duration, Effect, Layer, Option, Schedule, type Schema } from "effect"
import { existsSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { calculator, currentTime } from "./DemoTools.js"
import { searchDocuments } from "./MultiAgent.js"

export interface HostedAgent {
  readonly name: string
  readonly description: string
  readonly model: string
  readonly tools: ReadonlyArray<Tool.Any>
  /** The validators its runs go through, in order (its own stack's, when its file has `validation` settings). */
  readonly validators: ReadonlyArray<string>
  readonly maxSteps: number
  readonly run: (input: string, options?: Agent.RunOptions) => Effect.Effect<RunResult.RunResult, Errors.RunError>
}

/** A tool the files can name; delegation tools need the runtime. */
export type RegisteredTool = Tool.Tool<
  string,
  Schema.Schema.AnyNoContext,
  Schema.Schema.AnyNoContext,
  unknown,
  AgentRuntime.AgentRuntime
>

/**
 * Where the behaviour files are: `PATINOX_AGENTS_DIR` (from the working
 * directory), else the config file's `agents.behaviourDir` (resolved against
 * the config file's folder when read from one), else the first `agents/`
 * folder from the working directory up, so that the service finds the
 * repository's folder whether started from the root or from `apps/app`.
 */
export class BehaviourDir extends Context.Tag("@patinox/app/BehaviourDir")<BehaviourDir, string>() {
  static readonly layer = (configured: string | undefined) =>
    Layer.effect(
      BehaviourDir,
      Effect.gen(function*() {
        const env = yield* Config.option(Config.nonEmptyString("PATINOX_AGENTS_DIR")).pipe(Effect.orDie)
        if (Option.isSome(env)) return resolve(env.value)
        if (configured !== undefined) return resolve(configured)
        for (let dir = process.cwd();; dir = dirname(dir)) {
          if (existsSync(join(dir, "agents"))) return join(dir, "agents")
          if (dirname(dir) === dir) return resolve("agents")
        }
      })
    )
}

/**
 * Tools a host adds to the registry beside the demo ones (the tests' and
 * benchmarks' planted faults, an embedding service's own tools).
 */
export class ExtraTools extends Context.Reference<ExtraTools>()("@patinox/app/ExtraTools", {
  defaultValue: (): ReadonlyArray<RegisteredTool> => []
}) {}

/**
 * Agents a host adds beside the behaviour folder's (the demo's), as decoded
 * files; a name the folder also defines stops the service.
 */
export class ExtraAgents extends Context.Reference<ExtraAgents>()("@patinox/app/ExtraAgents", {
  defaultValue: (): ReadonlyArray<Behaviour.Loaded> => []
}) {}

// Past the last attempt's own timeout: the outer bound only catches a handler that ignores interruption.
const outerMarginMs = 1_000

/**
 * A tool as a file configures it. `timeoutMs` bounds each attempt and
 * `retry` retries failed and timed-out attempts, so that a slow call can be
 * cut and tried again; the tool's own timeout then bounds all attempts.
 */
export const configure = (tool: RegisteredTool, settings: Behaviour.ToolSettings): RegisteredTool => {
  const retry = settings.retry
  if (settings.timeoutMs === undefined && retry === undefined && settings.description === undefined) return tool
  const timeoutMs = settings.timeoutMs
  const attempt = timeoutMs === undefined ? tool.handler : (params: unknown) =>
    Effect.timeoutFail(tool.handler(params), {
      duration: Duration.millis(timeoutMs),
      onTimeout: () => new Errors.ToolTimeout({ tool: tool.name, timeoutMs })
    })
  const attempts = 1 + (retry?.times ?? 0)
  return Tool.make(tool.name, {
    description: settings.description ?? tool.description,
    parameters: tool.parameters,
    success: tool.success,
    handler: retry === undefined ? attempt : (params) =>
      Effect.retry(attempt(params), {
        times: retry.times,
        schedule: Schedule.spaced(Duration.millis(retry.delayMs ?? 0))
      }),
    timeout: timeoutMs === undefined
      ? tool.timeout
      : Duration.millis(attempts * timeoutMs + (attempts - 1) * (retry?.delayMs ?? 0) + outerMarginMs)
  })
}

/**
 * Builds one file's agent against the registry; a tool name the registry
 * does not hold stops the service naming the file and the key.
 */
export const build = (loaded: Behaviour.Loaded, registry: ReadonlyMap<string, RegisteredTool>, defaultModel: string) =>
  Effect.gen(function*() {
    const { behaviour, file } = loaded
    for (const name of Object.keys(behaviour.validation?.validators ?? {})) {
      if (!(name in validatorSections)) {
        return yield* new Behaviour.BehaviourFileError({
          file,
          key: `validation.validators.${name}`,
          reason: `unknown validator "${name}"; the service has: ${Object.keys(validatorSections).join(", ")}`
        })
      }
    }
    const tools = yield* Effect.forEach(behaviour.tools, (settings, index) => {
      const tool = registry.get(settings.name)
      return tool === undefined
        ? new Behaviour.BehaviourFileError({
          file,
          key: `tools[${index}].name`,
          reason: `unknown tool "${settings.name}"; the service has: ${[...registry.keys()].join(", ")}`
        })
        : Effect.succeed(configure(tool, settings))
    })
    let builder = Agent.make(behaviour.name)
      .model(behaviour.model ?? defaultModel)
      .instructions(behaviour.instructions)
      .tools(...tools)
      .maxSteps(behaviour.maxSteps)
    const parameters = behaviour.modelParameters
    if (parameters?.temperature !== undefined) builder = builder.temperature(parameters.temperature)
    if (parameters?.maxTokens !== undefined) builder = builder.maxOutputTokens(parameters.maxTokens)
    return { behaviour, agent: builder.build() }
  })

/** The registry's tools that run in this process: the demo tools and the host's extra ones (no delegation). */
export const localTools = Effect.gen(function*() {
  const demo: ReadonlyArray<RegisteredTool> = [calculator, currentTime, searchDocuments(yield* KnowledgeBase.KnowledgeBase)]
  return [...demo, ...yield* ExtraTools]
})

/** The service's validation config, which an agent's `validation` settings override for that agent. */
export class ServiceValidation extends Context.Reference<ServiceValidation>()("@patinox/app/ServiceValidation", {
  defaultValue: (): PatinoxConfig.ValidationConfig => PatinoxConfig.ValidationConfig.make({})
}) {}

// Validator names a file may switch, and the config section each one's `enabled` lives in.
const validatorSections = {
  jailbreak: "jailbreak",
  hallucination: "hallucination",
  "rate-limiter": "rateLimit",
  "circuit-breaker": "circuitBreaker"
} as const

/** The service's validation config with one agent's settings applied. */
export const agentValidation = (
  base: PatinoxConfig.ValidationConfig,
  settings: Behaviour.ValidationSettings
): PatinoxConfig.ValidationConfig => {
  const switched = (name: keyof typeof validatorSections, enabled: boolean) =>
    settings.validators?.[name]?.enabled ?? enabled
  const rate = settings.rateLimit
  const breaker = settings.circuitBreaker
  return {
    ...base,
    jailbreak: { ...base.jailbreak, enabled: switched("jailbreak", base.jailbreak.enabled) },
    hallucination: { ...base.hallucination, enabled: switched("hallucination", base.hallucination.enabled) },
    rateLimit: {
      ...base.rateLimit,
      enabled: rate?.enabled ?? switched("rate-limiter", base.rateLimit.enabled),
      requests: {
        capacity: rate?.capacity ?? base.rateLimit.requests.capacity,
        refillPerSecond: rate?.refillPerSecond ?? base.rateLimit.requests.refillPerSecond
      }
    },
    circuitBreaker: {
      ...base.circuitBreaker,
      enabled: breaker?.enabled ?? switched("circuit-breaker", base.circuitBreaker.enabled),
      failureRateThreshold: breaker?.failureRateThreshold ?? base.circuitBreaker.failureRateThreshold,
      openDurationMs: breaker?.openDurationMs ?? base.circuitBreaker.openDurationMs
    }
  }
}

/**
 * An agent's own validation stack, for a file with `validation` settings:
 * its pipeline, circuit breaker and guard, on the service's monitor,
 * knowledge base and tool switch. Its rate-limit buckets and breaker state
 * are its own, so its limits do not share the other agents' budget.
 */
const agentStack = (config: PatinoxConfig.ValidationConfig, local: ReadonlyArray<Validator.Any>) =>
  Guard.layer.pipe(
    // The local-model validators, loaded once for the service, run on the agent's own stack too.
    Layer.provideMerge(LocalModel.withValidators(local).pipe(Layer.provideMerge(Validation.stack(config))))
  )

export class Agents extends Effect.Service<Agents>()("@patinox/app/Agents", {
  scoped: Effect.gen(function*() {
    const model = yield* LanguageModel.LanguageModel
    const services = yield* Effect.context<
      | LanguageModel.LanguageModel
      | ValidationPipeline.ValidationPipeline
      | Monitor.Monitor
      | AgentRuntime.AgentRuntime
    >()
    const shared = yield* Effect.context<Monitor.Monitor | KnowledgeBase.KnowledgeBase>()
    // The service's switch, so that a tool an alert turned off is off for every agent; a host without one gets its own.
    const toolSwitch = Option.match(yield* Effect.serviceOption(ToolSwitch.ToolSwitch), {
      onNone: () => ToolSwitch.layer,
      onSome: (value) => Layer.succeed(ToolSwitch.ToolSwitch, value)
    })
    const serviceValidation = yield* ServiceValidation
    const localValidators = Option.getOrElse(yield* Effect.serviceOption(LocalModel.LoadedValidators), () => [])
    // A reference, not a tag: captured here so that runs see the host's setting wherever they are started.
    const recordResponses = yield* Monitor.RecordModelResponses
    const runtime = yield* AgentRuntime.AgentRuntime
    const dir = yield* BehaviourDir
    const files = [...yield* Behaviour.load(dir), ...yield* ExtraAgents]
    const seen = new Map<string, string>()
    for (const { behaviour, file } of files) {
      const other = seen.get(behaviour.name)
      if (other !== undefined) {
        return yield* new Behaviour.BehaviourFileError({ file, key: "name", reason: `agent "${behaviour.name}" is already defined in ${other}` })
      }
      seen.set(behaviour.name, file)
    }
    yield* Effect.logInfo(`Agents: ${files.map((f) => f.behaviour.name).join(", ")} from ${dir}`)

    // Every agent can be asked by the others through `ask_<name>`; the file's description, unless
    // the asking agent's file overrides it, tells the model what it is for.
    const delegation = files.map(({ behaviour }) =>
      AgentRuntime.asTool(Ids.AgentId.make(behaviour.name), {
        name: `ask_${behaviour.name}`,
        description: `Asks the ${behaviour.name} agent: ${behaviour.description}`
      })
    )
    const registry = new Map([...yield* localTools, ...delegation].map((tool) => [tool.name, tool] as const))
    const built = yield* Effect.forEach(files, (file) => build(file, registry, model.model))

    // Agents with their own validation settings run on a stack of their own, built once here.
    const contexts = new Map<string, Context.Context<ValidationPipeline.ValidationPipeline | DependencyGuard.DependencyGuard>>()
    for (const { behaviour } of built) {
      if (behaviour.validation === undefined) continue
      const own = yield* Layer.build(
        agentStack(agentValidation(serviceValidation, behaviour.validation), localValidators).pipe(
          Layer.provide(Layer.merge(Layer.succeedContext(shared), toolSwitch))
        )
      )
      contexts.set(behaviour.name, own)
    }
    const withRecording = Context.add(services, Monitor.RecordModelResponses, recordResponses)
    const servicesFor = (name: string) => {
      const own = contexts.get(name)
      return own === undefined ? withRecording : Context.merge(withRecording, own)
    }

    // The agents some file delegates to are actors: supervised, bounded mailboxes, drained on
    // shutdown. Starting them can only fail on a duplicate id, which the load has ruled out.
    const asked = new Set(built.flatMap(({ behaviour }) => behaviour.tools.map((tool) => tool.name)))
    yield* Effect.forEach(
      built.filter(({ agent }) => asked.has(`ask_${agent.name}`)),
      ({ agent }) => Effect.orDie(Effect.provide(runtime.spawn(agent), servicesFor(agent.name))),
      { discard: true }
    )

    // A direct request runs the agent per request, delegates included, rather than through an
    // actor's mailbox, which carries only the input: the run id, user and deadline would not reach it.
    const hosted: ReadonlyArray<HostedAgent> = built.map(({ agent, behaviour }) => ({
      name: agent.name,
      description: behaviour.description,
      model: behaviour.model ?? model.model,
      tools: agent.tools,
      validators: Context.get(servicesFor(agent.name), ValidationPipeline.ValidationPipeline).validators,
      maxSteps: agent.options.maxSteps,
      run: (input, options) => Agent.run(agent, input, options).pipe(Effect.provide(servicesFor(agent.name)))
    }))
    // The breaker's state gauge for every dependency from the start (a never-called one is closed),
    // not only after its first state change.
    const breaker = yield* Effect.serviceOption(CircuitBreaker.CircuitBreaker)
    if (Option.isSome(breaker)) {
      const tools = hosted.flatMap((agent) => agent.tools)
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
