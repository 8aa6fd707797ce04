/**
 * Agents as Effect programs.
 *
 * `Agent.make(name)` returns a builder whose phantom state records which
 * required parts are set. `build` only type-checks once the model and the
 * instructions are given; setting a required part twice is a type error (a
 * second `.model(...)` is almost always a merge mistake, and an override would
 * hide it). A built agent is data: run it once with `run`, or `start` it into
 * a running handle inside a scope. A stopped handle has no `send`.
 *
 * Running needs a `ValidationPipeline` and a `Monitor` in context: an agent
 * cannot run unvalidated or unobserved, and the types say so.
 *
 * @since 0.1.0
 */
import {
  Errors,
  Ids,
  LanguageModel,
  type Monitor,
  Recovery,
  Tool,
  type ValidationPipeline
} from "@patinox/core"
import { Cause, Context, Data, Deferred, Duration, Effect, Exit, Fiber, Layer, Mailbox, Queue, Ref, type Scope, Stream } from "effect"
import { unsafeCoerce } from "effect/Function"
import { type LoopAgent, runLoop, type RunTool } from "./internal/loop.js"
import type { RunResult, Step } from "./RunResult.js"

/** @since 0.1.0 @category type ids */
export const TypeId: unique symbol = Symbol.for("@patinox/agent/Agent")
/** @since 0.1.0 @category type ids */
export type TypeId = typeof TypeId

/** @since 0.1.0 @category type ids */
export const BuilderTypeId: unique symbol = Symbol.for("@patinox/agent/Builder")
/** @since 0.1.0 @category type ids */
export type BuilderTypeId = typeof BuilderTypeId

// ---------------------------------------------------------------------------
// type-level state
// ---------------------------------------------------------------------------

/** The builder's phantom state: one flag per required part. @since 0.1.0 @category type-level */
export interface Parts {
  readonly model: boolean
  readonly instructions: boolean
}

/** Nothing set yet. @since 0.1.0 @category type-level */
export interface Unset extends Parts {
  readonly model: false
  readonly instructions: false
}

/** @since 0.1.0 @category type-level */
export type With<S extends Parts, K extends keyof Parts> = { readonly [P in keyof Parts]: P extends K ? true : S[P] }

/** The names of the required parts not set yet. @since 0.1.0 @category type-level */
export type Missing<S extends Parts> = { [K in keyof Parts]: S[K] extends true ? never : K }[keyof Parts]

/**
 * Stands in for a method that must not be called in the current state; the
 * compiler's "has no call signatures" error shows the message.
 *
 * @since 0.1.0 @category type-level
 */
export interface TypeError<Message extends string> {
  readonly "~patinox/error": Message
}

type DuplicateNames<T extends ReadonlyArray<Tool.Any>> = T extends readonly [
  infer Head extends Tool.Any,
  ...infer Rest extends ReadonlyArray<Tool.Any>
] ? (Tool.Name<Head> & Tool.Name<Rest[number]>) | DuplicateNames<Rest>
  : never

// ---------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------

/** @since 0.1.0 @category models */
export interface Options {
  /** Model calls allowed per run before `MaxStepsExceeded`. Default 10. */
  readonly maxSteps: number
  readonly temperature: number | undefined
  readonly maxOutputTokens: number | undefined
  /** Per model call. Default 60 s. */
  readonly modelTimeout: Duration.Duration
  /** Per tool call, unless the tool sets its own. Default 30 s. */
  readonly toolTimeout: Duration.Duration
  /** Retries of model calls whose error's recovery strategy is `retry`. */
  readonly retryPolicy: Recovery.RetryPolicy
  /** Messages a running agent holds before `send` waits. Default 64. */
  readonly mailboxCapacity: number
}

const defaultOptions: Options = {
  maxSteps: 10,
  temperature: undefined,
  maxOutputTokens: undefined,
  modelTimeout: Duration.seconds(60),
  toolTimeout: Duration.seconds(30),
  retryPolicy: { maxRetries: 1, baseDelay: "500 millis", maxDelay: "30 seconds" },
  mailboxCapacity: 64
}

type ModelSpec =
  | { readonly _tag: "Named"; readonly name: string }
  | { readonly _tag: "Layer"; readonly layer: Layer.Layer<LanguageModel.LanguageModel, unknown, unknown> }

/**
 * A complete agent definition. `Tools` is the union of its tools, `E` what
 * building its model can fail with, `R` what its model and tools need.
 *
 * @since 0.1.0 @category models
 */
export interface Agent<out Tools extends Tool.Any, out E, out R> {
  readonly [TypeId]: { readonly _Tools: (_: never) => Tools; readonly _E: (_: never) => E; readonly _R: (_: never) => R }
  readonly name: string
  readonly id: Ids.AgentId
  readonly instructions: string
  readonly tools: ReadonlyArray<Tools>
  readonly options: Options
  /** @internal */
  readonly modelSpec: ModelSpec
}

/** Any agent. @since 0.1.0 @category models */
export type Any = Agent<Tool.Any, unknown, unknown>

/**
 * The builder. Members that must not be used in the current state have a
 * `TypeError` type naming the problem instead of a call signature.
 *
 * @since 0.1.0 @category models
 */
export interface Builder<S extends Parts, Tools extends Tool.Any, E, R> {
  readonly [BuilderTypeId]: { readonly _S: (_: never) => S }
  readonly name: string
  /**
   * The model: a name, served by the `LanguageModel` in context, or a Layer
   * that provides one (built once when the agent starts).
   */
  readonly model: S["model"] extends true ? TypeError<"Agent already has: model"> : {
    (model: string): Builder<With<S, "model">, Tools, E, R | LanguageModel.LanguageModel>
    <E2, R2>(model: Layer.Layer<LanguageModel.LanguageModel, E2, R2>): Builder<With<S, "model">, Tools, E | E2, R | R2>
  }
  readonly instructions: S["instructions"] extends true ? TypeError<"Agent already has: instructions">
    : (instructions: string) => Builder<With<S, "instructions">, Tools, E, R>
  /** Adds tools; a name used twice is a type error. */
  readonly tools: <const T extends ReadonlyArray<Tool.Any>>(
    ...tools: T
  ) => [DuplicateNames<T> | (Tool.Name<T[number]> & Tool.Name<Tools>)] extends [never]
    ? Builder<S, Tools | T[number], E, R | Tool.Context<T[number]>>
    : TypeError<`Duplicate tool name: ${DuplicateNames<T> | (Tool.Name<T[number]> & Tool.Name<Tools>)}`>
  readonly maxSteps: (maxSteps: number) => Builder<S, Tools, E, R>
  readonly temperature: (temperature: number) => Builder<S, Tools, E, R>
  readonly maxOutputTokens: (tokens: number) => Builder<S, Tools, E, R>
  readonly modelTimeout: (timeout: Duration.DurationInput) => Builder<S, Tools, E, R>
  readonly toolTimeout: (timeout: Duration.DurationInput) => Builder<S, Tools, E, R>
  readonly retryPolicy: (policy: Recovery.RetryPolicy) => Builder<S, Tools, E, R>
  readonly mailboxCapacity: (capacity: number) => Builder<S, Tools, E, R>
  readonly build: [Missing<S>] extends [never] ? () => Agent<Tools, E, R>
    : TypeError<`Agent is missing: ${Missing<S>}`>
}

interface BuilderConfig {
  readonly name: string
  readonly id: Ids.AgentId
  readonly modelSpec: ModelSpec | undefined
  readonly instructions: string | undefined
  readonly tools: ReadonlyArray<Tool.Any>
  readonly options: Options
}

const positiveInt = (what: string, value: number): number => {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`Agent ${what} must be a positive integer, got ${value}`)
  return value
}

// The runtime builder is untyped; its phantom state exists only in `Builder`.
// This is the single place where the two are tied together.
const builder = <S extends Parts, Tools extends Tool.Any, E, R>(config: BuilderConfig): Builder<S, Tools, E, R> => {
  const next = (patch: Partial<BuilderConfig>) => builder<S, Tools, E, R>({ ...config, ...patch })
  const option = <K extends keyof Options>(key: K, value: Options[K]) => next({ options: { ...config.options, [key]: value } })
  const runtime = {
    [BuilderTypeId]: { _S: (_: never) => _ },
    name: config.name,
    model: (model: string | Layer.Layer<LanguageModel.LanguageModel, unknown, unknown>) =>
      next({ modelSpec: typeof model === "string" ? { _tag: "Named", name: model } : { _tag: "Layer", layer: model } }),
    instructions: (instructions: string) => next({ instructions }),
    tools: (...tools: ReadonlyArray<Tool.Any>) => {
      const names = new Set(config.tools.map((t) => t.name))
      for (const tool of tools) {
        if (names.has(tool.name)) throw new TypeError(`Agent "${config.name}" already has a tool named "${tool.name}"`)
        names.add(tool.name)
      }
      return next({ tools: [...config.tools, ...tools] })
    },
    maxSteps: (n: number) => option("maxSteps", positiveInt("maxSteps", n)),
    temperature: (t: number) => option("temperature", t),
    maxOutputTokens: (n: number) => option("maxOutputTokens", positiveInt("maxOutputTokens", n)),
    modelTimeout: (d: Duration.DurationInput) => option("modelTimeout", Duration.decode(d)),
    toolTimeout: (d: Duration.DurationInput) => option("toolTimeout", Duration.decode(d)),
    retryPolicy: (policy: Recovery.RetryPolicy) => option("retryPolicy", policy),
    mailboxCapacity: (n: number) => option("mailboxCapacity", positiveInt("mailboxCapacity", n)),
    build: () => {
      const agent: Any = {
        [TypeId]: { _Tools: (_: never) => _, _E: (_: never) => _, _R: (_: never) => _ },
        name: config.name,
        id: config.id,
        instructions: config.instructions ?? "",
        tools: config.tools,
        options: config.options,
        modelSpec: config.modelSpec ?? { _tag: "Named", name: "" }
      }
      return agent
    }
  }
  return unsafeCoerce(runtime)
}

/**
 * Starts defining an agent. The name must be a non-empty identifier-like
 * string; it becomes the agent's id.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (name: string): Builder<Unset, never, never, never> => {
  const id = Ids.AgentId.make(name)
  return builder({ name, id, modelSpec: undefined, instructions: undefined, tools: [], options: defaultOptions })
}

// ---------------------------------------------------------------------------
// running
// ---------------------------------------------------------------------------

const loopAgent = (agent: Any): LoopAgent => ({
  name: agent.name,
  id: agent.id,
  instructions: agent.instructions,
  tools: agent.tools,
  maxSteps: agent.options.maxSteps,
  temperature: agent.options.temperature,
  maxOutputTokens: agent.options.maxOutputTokens,
  modelName: agent.modelSpec._tag === "Named" ? agent.modelSpec.name : undefined,
  modelTimeout: agent.options.modelTimeout,
  toolTimeout: agent.options.toolTimeout,
  retryPolicy: agent.options.retryPolicy
})

interface Prepared {
  readonly model: LanguageModel.Service
  readonly runTool: RunTool
}

/**
 * Resolves the model and captures the tools' requirements, so that what runs
 * afterwards needs nothing else from context. `R` is, by construction of the
 * builder, exactly what the model layer and the tools require.
 */
const prepare = <Tools extends Tool.Any, E, R>(agent: Agent<Tools, E, R>): Effect.Effect<Prepared, E, R | Scope.Scope> => {
  const program = Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const model = agent.modelSpec._tag === "Named"
      ? yield* LanguageModel.LanguageModel
      : Context.get(yield* Layer.build(agent.modelSpec.layer), LanguageModel.LanguageModel)
    // `Tool.Any` erases each tool's requirements; `context` holds them all.
    const runTool: RunTool = (tool, rawArguments, timeout) =>
      unsafeCoerce(Effect.provide(Tool.runRaw(tool, rawArguments, timeout), context))
    return { model, runTool }
  })
  return unsafeCoerce(program)
}

/**
 * Runs the agent once on `input`, building its model for this run only.
 * For repeated use, `start` it.
 *
 * @since 0.1.0 @category running
 */
export const run = <Tools extends Tool.Any, E, R>(
  agent: Agent<Tools, E, R>,
  input: string
): Effect.Effect<
  RunResult,
  Errors.RunError | E,
  R | ValidationPipeline.ValidationPipeline | Monitor.Monitor
> =>
  Effect.scoped(
    Effect.gen(function*() {
      const prepared = yield* prepare(agent)
      const runId = yield* Ids.makeRunId
      return yield* runLoop(loopAgent(agent), prepared.model, prepared.runTool, input, runId)
    })
  )

/**
 * What `stream` emits: each step as it is taken, then the validated answer in
 * pieces, then the whole result.
 *
 * @since 0.1.0 @category models
 */
export type RunEvent = Data.TaggedEnum<{
  Step: { readonly step: Step }
  AnswerDelta: { readonly text: string }
  Completed: { readonly result: RunResult }
}>

/** @since 0.1.0 @category constructors */
export const RunEvent = Data.taggedEnum<RunEvent>()

/**
 * Runs the agent and streams its progress. The model is called through its
 * streaming API, but an answer is released only after the validation
 * pipeline has passed it whole: a rejected or revised answer never reaches
 * the consumer, not even in part. Stopping consumption interrupts the run.
 *
 * @since 0.1.0 @category running
 */
export const stream = <Tools extends Tool.Any, E, R>(
  agent: Agent<Tools, E, R>,
  input: string,
  options: { readonly chunkSize?: number | undefined } = {}
): Stream.Stream<RunEvent, Errors.RunError | E, R | ValidationPipeline.ValidationPipeline | Monitor.Monitor> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const prepared = yield* prepare(agent)
      const runId = yield* Ids.makeRunId
      // Bounded: a slow consumer holds the run back instead of buffering without limit.
      const mailbox = yield* Mailbox.make<RunEvent, Errors.RunError>(64)
      const chunkSize = Math.max(1, options.chunkSize ?? 32)
      yield* runLoop(loopAgent(agent), prepared.model, prepared.runTool, input, runId, {
        streaming: true,
        onStep: (step) => Effect.asVoid(mailbox.offer(RunEvent.Step({ step })))
      }).pipe(
        Effect.flatMap((result) =>
          Effect.gen(function*() {
            for (let at = 0; at < result.answer.length; at += chunkSize) {
              yield* mailbox.offer(RunEvent.AnswerDelta({ text: result.answer.slice(at, at + chunkSize) }))
            }
            yield* mailbox.offer(RunEvent.Completed({ result }))
            yield* mailbox.end
          })
        ),
        Effect.catchAll((error) => mailbox.fail(error)),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    })
  )

/**
 * A started agent. `send` queues a message and returns once it is accepted
 * (waiting while the mailbox is full); `ask` waits for the answer; `stop`
 * finishes the queued work and returns the stopped handle, which has no
 * `send` or `ask`.
 *
 * @since 0.1.0 @category models
 */
export interface Running {
  readonly _tag: "Running"
  readonly name: string
  readonly id: Ids.AgentId
  readonly send: (input: string) => Effect.Effect<void, Errors.AgentStopped>
  readonly ask: (
    input: string,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<RunResult, Errors.RunError | Errors.AgentStopped | Errors.AskTimeout>
  readonly stop: Effect.Effect<Stopped>
  readonly stats: Effect.Effect<Stats>
}

/** @since 0.1.0 @category models */
export interface Stopped {
  readonly _tag: "Stopped"
  readonly name: string
  readonly id: Ids.AgentId
  readonly stats: Stats
}

/** @since 0.1.0 @category models */
export interface Stats {
  readonly processed: number
  readonly failed: number
  readonly queued: number
}

type Envelope =
  | {
    readonly _tag: "Message"
    readonly input: string
    readonly reply: Deferred.Deferred<RunResult, Errors.RunError | Errors.AgentStopped> | undefined
  }
  | { readonly _tag: "Stop" }

/**
 * Starts the agent in the current scope: builds its model once, and runs a
 * fiber that takes messages from a bounded mailbox one at a time, in order.
 * `stop` lets the worker finish what was queued before it; closing the scope
 * instead interrupts the worker and fails any queued `ask` with `AgentStopped`.
 *
 * @since 0.1.0 @category running
 */
export const start = <Tools extends Tool.Any, E, R>(
  agent: Agent<Tools, E, R>
): Effect.Effect<
  Running,
  E,
  R | ValidationPipeline.ValidationPipeline | Monitor.Monitor | Scope.Scope
> =>
  Effect.gen(function*() {
    const prepared = yield* prepare(agent)
    const services = yield* Effect.context<ValidationPipeline.ValidationPipeline | Monitor.Monitor>()
    const mailbox = yield* Queue.bounded<Envelope>(agent.options.mailboxCapacity)
    const accepting = yield* Ref.make(true)
    const counters = yield* Ref.make({ processed: 0, failed: 0 })
    const looped = loopAgent(agent)
    const stopped = new Errors.AgentStopped({ agent: agent.name })

    const handle = (input: string, reply: Deferred.Deferred<RunResult, Errors.RunError | Errors.AgentStopped> | undefined) =>
      Effect.gen(function*() {
        const runId = yield* Ids.makeRunId
        const exit = yield* Effect.exit(runLoop(looped, prepared.model, prepared.runTool, input, runId))
        yield* Ref.update(counters, (c) =>
          Exit.isSuccess(exit) ? { ...c, processed: c.processed + 1 } : { processed: c.processed + 1, failed: c.failed + 1 })
        if (reply !== undefined) yield* Deferred.done(reply, exit)
        else if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
          yield* Effect.logWarning(`agent ${agent.name}: message failed`, Cause.squash(exit.cause))
        }
      }).pipe(Effect.provide(services))

    // Fails every `ask` still in the mailbox when the worker goes away.
    const failQueued = Effect.flatMap(Queue.takeAll(mailbox), (left) =>
      Effect.forEach(
        left,
        (envelope) => envelope._tag === "Message" && envelope.reply !== undefined
          ? Deferred.fail(envelope.reply, stopped)
          : Effect.void,
        { discard: true }
      ))

    const work: Effect.Effect<void> = Effect.flatMap(Queue.take(mailbox), (envelope) =>
      envelope._tag === "Stop" ? Effect.void : Effect.zipRight(handle(envelope.input, envelope.reply), work))

    const worker = yield* work.pipe(
      Effect.ensuring(Effect.zipRight(Ref.set(accepting, false), failQueued)),
      Effect.forkScoped
    )

    const enqueue = (envelope: Envelope) =>
      Effect.flatMap(Ref.get(accepting), (open) => open ? Queue.offer(mailbox, envelope) : Effect.fail(stopped)).pipe(
        Effect.asVoid
      )

    const stats = Effect.zipWith(Ref.get(counters), Queue.size(mailbox), (c, queued) => ({ ...c, queued: Math.max(0, queued) }))

    const running: Running = {
      _tag: "Running",
      name: agent.name,
      id: agent.id,
      send: (input) => enqueue({ _tag: "Message", input, reply: undefined }),
      ask: (input, options) =>
        Effect.gen(function*() {
          const reply = yield* Deferred.make<RunResult, Errors.RunError | Errors.AgentStopped>()
          yield* enqueue({ _tag: "Message", input, reply })
          const answer = Deferred.await(reply)
          if (options?.timeout === undefined) return yield* answer
          const timeout = Duration.decode(options.timeout)
          return yield* Effect.timeoutFail(answer, {
            duration: timeout,
            onTimeout: () => new Errors.AskTimeout({ agent: agent.name, timeoutMs: Duration.toMillis(timeout) })
          })
        }),
      stop: Effect.gen(function*() {
        // The Stop envelope queues behind everything accepted before it, so the
        // worker finishes that work first.
        const wasAccepting = yield* Ref.getAndSet(accepting, false)
        if (wasAccepting) yield* Queue.offer(mailbox, { _tag: "Stop" })
        yield* Fiber.await(worker)
        const stopped: Stopped = { _tag: "Stopped", name: agent.name, id: agent.id, stats: yield* stats }
        return stopped
      }),
      stats
    }
    return running
  })
