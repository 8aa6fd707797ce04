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
  Monitor,
  Tool,
  type ValidationPipeline
} from "@patinox/core"
import {
  Clock,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Fiber,
  FiberRef,
  Layer,
  Mailbox,
  type Schedule,
  type Scope,
  Stream,
  Tracer
} from "effect"
import { unsafeCoerce } from "effect/Function"
import * as Actor from "./internal/actor.js"
import { type LoopAgent, runLoop, type RunTool } from "./internal/loop.js"
import * as RunContext from "./internal/runContext.js"
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
  /** Messages a running agent holds before its overflow policy applies. Default 64. */
  readonly mailboxCapacity: number
  /** A full mailbox makes senders wait (`"wait"`, the default) or fail with `MailboxFull` (`"fail"`). */
  readonly mailboxOverflow: Overflow
  /** Messages a running agent handles at once. Default 1: one at a time, in order. */
  readonly concurrency: number
  /** Conversations a running agent remembers (least recently used forgotten first). Default 128. */
  readonly maxConversations: number
  /** Messages of history kept per conversation (the oldest dropped first). Default 20. */
  readonly maxHistory: number
}

/**
 * What a full mailbox does to a sender: `"wait"` for room (backpressure), or
 * `"fail"` at once with a typed `MailboxFull`.
 *
 * @since 0.1.0 @category models
 */
export type Overflow = Actor.Overflow

/**
 * The error a sender can get from a full mailbox under overflow policy `O`.
 *
 * @since 0.1.0 @category type-level
 */
export type Refusal<O extends Overflow> = O extends "fail" ? Errors.MailboxFull : never

/** @since 0.1.0 @category models */
export interface MailboxOptions<O extends Overflow> {
  readonly capacity: number
  readonly overflow?: O | undefined
}

const defaultOptions: Options = {
  maxSteps: 10,
  temperature: undefined,
  maxOutputTokens: undefined,
  modelTimeout: Duration.seconds(60),
  toolTimeout: Duration.seconds(30),
  mailboxCapacity: 64,
  mailboxOverflow: "wait",
  concurrency: 1,
  maxConversations: 128,
  maxHistory: 20
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
export interface Agent<out Tools extends Tool.Any, out E, out R, out O extends Overflow = "wait"> {
  readonly [TypeId]: {
    readonly _Tools: (_: never) => Tools
    readonly _E: (_: never) => E
    readonly _R: (_: never) => R
    readonly _O: (_: never) => O
  }
  readonly name: string
  readonly id: Ids.AgentId
  readonly instructions: string
  readonly tools: ReadonlyArray<Tools>
  readonly options: Options
  /** @internal */
  readonly modelSpec: ModelSpec
}

/** Any agent. @since 0.1.0 @category models */
export type Any = Agent<Tool.Any, unknown, unknown, Overflow>

/**
 * The builder. Members that must not be used in the current state have a
 * `TypeError` type naming the problem instead of a call signature.
 *
 * @since 0.1.0 @category models
 */
export interface Builder<S extends Parts, Tools extends Tool.Any, E, R, O extends Overflow = "wait"> {
  readonly [BuilderTypeId]: { readonly _S: (_: never) => S }
  readonly name: string
  /**
   * The model: a name, served by the `LanguageModel` in context, or a Layer
   * that provides one (built once when the agent starts).
   */
  readonly model: S["model"] extends true ? TypeError<"Agent already has: model"> : {
    (model: string): Builder<With<S, "model">, Tools, E, R | LanguageModel.LanguageModel, O>
    <E2, R2>(model: Layer.Layer<LanguageModel.LanguageModel, E2, R2>): Builder<With<S, "model">, Tools, E | E2, R | R2, O>
  }
  readonly instructions: S["instructions"] extends true ? TypeError<"Agent already has: instructions">
    : (instructions: string) => Builder<With<S, "instructions">, Tools, E, R, O>
  /** Adds tools; a name used twice is a type error. */
  readonly tools: <const T extends ReadonlyArray<Tool.Any>>(
    ...tools: T
  ) => [DuplicateNames<T> | (Tool.Name<T[number]> & Tool.Name<Tools>)] extends [never]
    ? Builder<S, Tools | T[number], E, R | Tool.Context<T[number]>, O>
    : TypeError<`Duplicate tool name: ${DuplicateNames<T> | (Tool.Name<T[number]> & Tool.Name<Tools>)}`>
  readonly maxSteps: (maxSteps: number) => Builder<S, Tools, E, R, O>
  readonly temperature: (temperature: number) => Builder<S, Tools, E, R, O>
  readonly maxOutputTokens: (tokens: number) => Builder<S, Tools, E, R, O>
  readonly modelTimeout: (timeout: Duration.DurationInput) => Builder<S, Tools, E, R, O>
  readonly toolTimeout: (timeout: Duration.DurationInput) => Builder<S, Tools, E, R, O>
  readonly mailboxCapacity: (capacity: number) => Builder<S, Tools, E, R, O>
  /** Mailbox size and what a full mailbox does to a sender. */
  readonly mailbox: <const O2 extends Overflow = "wait">(options: MailboxOptions<O2>) => Builder<S, Tools, E, R, O2>
  /** Messages handled at once (default 1: in order). */
  readonly concurrency: (concurrency: number) => Builder<S, Tools, E, R, O>
  /** Bounds on the per-conversation history a running agent keeps. */
  readonly conversations: (options: { readonly max: number; readonly maxMessages: number }) => Builder<S, Tools, E, R, O>
  readonly build: [Missing<S>] extends [never] ? () => Agent<Tools, E, R, O>
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
const builder = <S extends Parts, Tools extends Tool.Any, E, R, O extends Overflow>(
  config: BuilderConfig
): Builder<S, Tools, E, R, O> => {
  const next = (patch: Partial<BuilderConfig>) => builder<S, Tools, E, R, O>({ ...config, ...patch })
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
    mailboxCapacity: (n: number) => option("mailboxCapacity", positiveInt("mailboxCapacity", n)),
    mailbox: (options: MailboxOptions<Overflow>) =>
      next({
        options: {
          ...config.options,
          mailboxCapacity: positiveInt("mailbox capacity", options.capacity),
          mailboxOverflow: options.overflow ?? "wait"
        }
      }),
    concurrency: (n: number) => option("concurrency", positiveInt("concurrency", n)),
    conversations: (options: { readonly max: number; readonly maxMessages: number }) =>
      next({
        options: {
          ...config.options,
          maxConversations: positiveInt("conversations max", options.max),
          maxHistory: positiveInt("conversations maxMessages", options.maxMessages)
        }
      }),
    build: () => {
      const agent: Any = {
        [TypeId]: { _Tools: (_: never) => _, _E: (_: never) => _, _R: (_: never) => _, _O: (_: never) => _ },
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
  toolTimeout: agent.options.toolTimeout
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
const prepare = <Tools extends Tool.Any, E, R, O extends Overflow>(agent: Agent<Tools, E, R, O>): Effect.Effect<Prepared, E, R | Scope.Scope> => {
  const program = Effect.gen(function*() {
    // Without the caller's span: a tool's own spans belong under its `execute_tool` span.
    const context = Context.omit(Tracer.ParentSpan)(yield* Effect.context<never>())
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
 * Marks the fiber as inside this run, so that agents it asks through the
 * runtime are linked to it (and one delegation deeper when it is itself asked).
 */
const withinRun = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  agent: Ids.AgentId,
  runId: Ids.RunId,
  options: RunOptions
) =>
  Effect.gen(function*() {
    const outer = yield* FiberRef.get(Actor.currentDelegation)
    const now = yield* Clock.currentTimeMillis
    const deadlineAt = options.deadline === undefined ? outer.deadlineAt : now + Duration.toMillis(options.deadline)
    return yield* Effect.locally(self, Actor.currentDelegation, {
      depth: outer.runId === undefined ? outer.depth : outer.depth + 1,
      runId,
      agent,
      conversationId: undefined,
      userId: options.userId ?? outer.userId,
      deadlineAt
    })
  })

/**
 * Runs the agent once on `input`, building its model for this run only.
 * For repeated use, `start` it.
 *
 * @since 0.1.0 @category running
 */
export const run = <Tools extends Tool.Any, E, R, O extends Overflow>(
  agent: Agent<Tools, E, R, O>,
  input: string,
  options: RunOptions = {}
): Effect.Effect<
  RunResult,
  Errors.RunError | E,
  R | ValidationPipeline.ValidationPipeline | Monitor.Monitor
> =>
  Effect.scoped(
    Effect.gen(function*() {
      const prepared = yield* prepare(agent)
      const runId = options.runId ?? (yield* Ids.makeRunId)
      return yield* withinRun(
        RunContext.within(
          runLoop(loopAgent(agent), prepared.model, prepared.runTool, input, runId, {
            userId: options.userId,
            deadline: options.deadline === undefined ? undefined : Duration.decode(options.deadline)
          })
        ),
        agent.id,
        runId,
        options
      )
    })
  )

/**
 * Per-run options of `run`.
 *
 * @since 0.1.0 @category models
 */
export interface RunOptions {
  /** The run's id, when the caller needs it before the run ends (to report errors with it). */
  readonly runId?: Ids.RunId | undefined
  /** The end user the run is for: validators key rate limits on it. */
  readonly userId?: string | undefined
  /**
   * Bounds the whole run (model calls and their retries, tools, validators);
   * past it, what is in flight is interrupted (an HTTP request to the model is
   * aborted) and the run fails with `RunDeadlineExceeded`.
   */
  readonly deadline?: Duration.DurationInput | undefined
}

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
export const stream = <Tools extends Tool.Any, E, R, O extends Overflow>(
  agent: Agent<Tools, E, R, O>,
  input: string,
  options: RunOptions & { readonly chunkSize?: number | undefined } = {}
): Stream.Stream<RunEvent, Errors.RunError | E, R | ValidationPipeline.ValidationPipeline | Monitor.Monitor> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const prepared = yield* prepare(agent)
      const runId = options.runId ?? (yield* Ids.makeRunId)
      // Bounded: a slow consumer holds the run back instead of buffering without limit.
      const mailbox = yield* Mailbox.make<RunEvent, Errors.RunError>(64)
      const chunkSize = Math.max(1, options.chunkSize ?? 32)
      yield* runLoop(loopAgent(agent), prepared.model, prepared.runTool, input, runId, {
        streaming: true,
        userId: options.userId,
        deadline: options.deadline === undefined ? undefined : Duration.decode(options.deadline),
        onStep: (step) => Effect.asVoid(mailbox.offer(RunEvent.Step({ step })))
      }).pipe(
        (loop) => withinRun(RunContext.within(loop), agent.id, runId, options),
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
 * How to ask a running agent.
 *
 * @since 0.1.0 @category models
 */
export interface AskOptions {
  /** Fail with `AskTimeout` if no answer comes within this. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Messages with the same id form a conversation: the agent keeps its turns
   * (bounded, see `conversations`) and gives them to the model as history.
   */
  readonly conversationId?: string | undefined
}

/**
 * What an `ask` can fail with under overflow policy `O`.
 *
 * @since 0.1.0 @category models
 */
export type AskError<O extends Overflow = "wait"> =
  | Errors.RunError
  | Errors.AgentStopped
  | Errors.AgentCrashed
  | Errors.AskTimeout
  | Refusal<O>

/**
 * A started agent. `send` queues a message and returns once it is accepted
 * (waiting while the mailbox is full, or failing with `MailboxFull` when the
 * agent's overflow policy is `"fail"`); `ask` waits for the answer; `stop`
 * finishes the queued work and returns the stopped handle, which has no
 * `send` or `ask`.
 *
 * @since 0.1.0 @category models
 */
export interface Running<O extends Overflow = "wait"> {
  readonly _tag: "Running"
  readonly name: string
  readonly id: Ids.AgentId
  readonly send: (input: string) => Effect.Effect<void, Errors.AgentStopped | Refusal<O>>
  readonly ask: (input: string, options?: AskOptions) => Effect.Effect<RunResult, AskError<O>>
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

/**
 * How a running agent is supervised: set by a `Supervisor`; `start` on its
 * own uses `Supervisor.defaultPolicy`'s values.
 *
 * @since 0.1.0 @category models
 * @internal
 */
export interface Supervision {
  readonly restart: Schedule.Schedule<unknown, unknown>
  readonly resetAfter: Duration.Duration
  readonly supervisor: string
  readonly tracker: Actor.Tracker | undefined
  readonly onEscalate: (error: Errors.AgentEscalated) => Effect.Effect<void>
  /** Services the agent's tools get besides the caller's (the runtime itself). */
  readonly provide: Context.Context<never>
}

/**
 * Prepares an agent and builds its actor; nothing runs until the actor's
 * `main` does. Shared by `start` and `AgentRuntime`.
 *
 * @since 0.1.0 @category running
 * @internal
 */
export const makeActor = <Tools extends Tool.Any, E, R, O extends Overflow>(
  agent: Agent<Tools, E, R, O>,
  supervision: Supervision
): Effect.Effect<Actor.Actor, E, R | ValidationPipeline.ValidationPipeline | Monitor.Monitor | Scope.Scope> =>
  Effect.gen(function*() {
    const prepared = yield* prepare(agent)
    const services = RunContext.services(yield* Effect.context<RunContext.Services>())
    const looped = loopAgent(agent)
    return yield* Actor.make({
      name: agent.name,
      id: agent.id,
      capacity: agent.options.mailboxCapacity,
      overflow: agent.options.mailboxOverflow,
      concurrency: agent.options.concurrency,
      maxConversations: agent.options.maxConversations,
      maxHistory: agent.options.maxHistory,
      run: (input, runId, hooks) =>
        RunContext.withCaptured(runLoop(looped, prepared.model, prepared.runTool, input, runId, hooks), services),
      report: (event) => RunContext.withCaptured(Monitor.report(event), services),
      restart: supervision.restart,
      resetAfter: supervision.resetAfter,
      supervisor: supervision.supervisor,
      tracker: supervision.tracker,
      onEscalate: supervision.onEscalate
    })
  }).pipe(Effect.provide(supervision.provide))

/**
 * Builds the envelope for a message sent from the current fiber: a message
 * sent from inside an agent's run is a delegation one level deeper, linked to
 * that run and to the caller's span.
 *
 * @since 0.1.0 @category running
 * @internal
 */
export const envelope = (
  input: string,
  conversationId: string | undefined,
  reply: Deferred.Deferred<RunResult, Actor.ReplyError> | undefined
): Effect.Effect<Actor.Envelope> =>
  Effect.zipWith(
    FiberRef.get(Actor.currentDelegation),
    Effect.serviceOption(Tracer.ParentSpan),
    (delegation, parentSpan): Actor.Envelope => ({
      input,
      conversationId,
      reply,
      depth: delegation.runId === undefined ? delegation.depth : delegation.depth + 1,
      parentRunId: delegation.runId,
      parentSpan,
      userId: delegation.userId,
      deadlineAt: delegation.deadlineAt
    })
  )

/**
 * The running handle over an actor; `stop` is how its owner stops it.
 *
 * @since 0.1.0 @category running
 * @internal
 */
export const runningHandle = <O extends Overflow>(
  agent: { readonly name: string; readonly id: Ids.AgentId },
  actor: Actor.Actor,
  stop: Effect.Effect<void>
): Running<O> => {
  // A "wait" mailbox never refuses for being full: `Refusal<"wait">` is `never`.
  const offer = (message: Actor.Envelope): Effect.Effect<void, Errors.AgentStopped | Refusal<O>> =>
    unsafeCoerce(actor.offer(message))
  return {
    _tag: "Running",
    name: agent.name,
    id: agent.id,
    send: (input) => Effect.flatMap(envelope(input, undefined, undefined), offer),
    ask: (input, options) =>
      Effect.gen(function*() {
        const reply = yield* Deferred.make<RunResult, Actor.ReplyError>()
        yield* offer(yield* envelope(input, options?.conversationId, reply))
        const answer = Deferred.await(reply)
        if (options?.timeout === undefined) return yield* answer
        const timeout = Duration.decode(options.timeout)
        return yield* Effect.timeoutFail(answer, {
          duration: timeout,
          onTimeout: () => new Errors.AskTimeout({ agent: agent.name, timeoutMs: Duration.toMillis(timeout) })
        })
      }),
    stop: Effect.zipRight(
      stop,
      Effect.map(actor.stats, (stats): Stopped => ({ _tag: "Stopped", name: agent.name, id: agent.id, stats }))
    ),
    stats: actor.stats
  }
}

/**
 * Starts the agent in the current scope: builds its model once, and runs a
 * fiber that takes messages from a bounded mailbox (one at a time, in order,
 * unless `concurrency` says otherwise). A defect while handling a message
 * answers that message with `AgentCrashed` and restarts the worker on
 * `Supervisor.defaultPolicy`'s schedule; the rest of the mailbox is kept.
 * `stop` lets the worker finish what was queued before it; closing the scope
 * instead interrupts the worker and fails any queued `ask` with `AgentStopped`.
 *
 * @since 0.1.0 @category running
 */
export const start = <Tools extends Tool.Any, E, R, O extends Overflow = "wait">(
  agent: Agent<Tools, E, R, O>
): Effect.Effect<
  Running<O>,
  E,
  R | ValidationPipeline.ValidationPipeline | Monitor.Monitor | Scope.Scope
> =>
  Effect.gen(function*() {
    const actor = yield* makeActor(agent, {
      restart: Actor.defaultRestart,
      resetAfter: Actor.defaultResetAfter,
      supervisor: agent.name,
      tracker: undefined,
      onEscalate: () => Effect.void,
      provide: Context.empty()
    })
    const fiber = yield* Effect.forkScoped(actor.main)
    return runningHandle<O>(agent, actor, Effect.zipRight(actor.close, Fiber.await(fiber)))
  })
