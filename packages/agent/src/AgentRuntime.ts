/**
 * The actor runtime: the root `Supervisor` of every running agent, the
 * registry through which agents address each other by id, and the graceful
 * shutdown of the lot when its scope closes.
 *
 * Agents never hold references to each other: `asTool(id)` gives one agent a
 * tool that asks another through the runtime, so a delegation is an ordinary
 * tool call (validated, traced, reported). A FiberRef carries how deep the
 * current chain of delegations is; past `maxDelegationDepth` the tool fails
 * with `DelegationDepthExceeded`, which the asking model sees as a tool error.
 * The asked agent's run is a child of the asking tool call's span, and its
 * events and spans carry `patinox.parent.run.id`.
 *
 * @since 0.1.0
 */
import { Errors, type Ids, type Message, type Monitor, Tool } from "@patinox/core"
import { Clock, Context, Deferred, Duration, Effect, FiberRef, Layer, Schema, Scope } from "effect"
import type * as Agent from "./Agent.js"
import { currentDelegation } from "./internal/actor.js"
import type { RunResult } from "./RunResult.js"
import * as Supervisor from "./Supervisor.js"

/**
 * @since 0.1.0 @category models
 */
export interface Config {
  /** How many agents deep a chain of delegations may go (A asks B asks C is 2). Default 3. */
  readonly maxDelegationDepth?: number | undefined
  /** How long a shutdown may drain work in flight before interrupting it. Default 10 s. */
  readonly shutdownDeadline?: Duration.DurationInput | undefined
  /** Default timeout of an `asTool` delegation. Default 60 s. */
  readonly askTimeout?: Duration.DurationInput | undefined
  /** The root supervisor's policy (children inherit it unless they override). */
  readonly policy?: Partial<Supervisor.Policy> | undefined
  /** Called with a one-line summary once the shutdown is done (the app logs it). */
  readonly onShutdown?: ((summary: ShutdownSummary) => Effect.Effect<void>) | undefined
}

/** @since 0.1.0 @category models */
export interface ShutdownSummary {
  /** Everything accepted was finished before the deadline. */
  readonly drained: boolean
  readonly durationMs: number
  /** Agents running when the shutdown began. */
  readonly agents: number
}

/**
 * What `ask` through the runtime can fail with: the target's errors, or no
 * such target.
 *
 * @since 0.1.0 @category models
 */
export type AskError = Errors.AgentNotFound | Agent.AskError<Agent.Overflow>

/** @since 0.1.0 @category models */
export interface Service {
  readonly maxDelegationDepth: number
  readonly askTimeout: Duration.Duration
  /** The root supervisor. */
  readonly root: Supervisor.Supervisor
  /** `root.spawn`. */
  readonly spawn: Supervisor.Supervisor["spawn"]
  /** `root.supervisor`. */
  readonly supervisor: Supervisor.Supervisor["supervisor"]
  /** Fire and forget, with the target's mailbox backpressure. */
  readonly send: (
    id: Ids.AgentId,
    input: string
  ) => Effect.Effect<void, Errors.AgentNotFound | Errors.AgentStopped | Errors.MailboxFull>
  readonly ask: (id: Ids.AgentId, input: string, options?: Agent.AskOptions) => Effect.Effect<RunResult, AskError>
  /** Moves a conversation's history from one agent to another; the next turn goes to `to`. */
  readonly handoff: (conversationId: string, from: Ids.AgentId, to: Ids.AgentId) => Effect.Effect<void, Errors.AgentNotFound>
  readonly agents: Effect.Effect<ReadonlyArray<Ids.AgentId>>
  /** Stop accepting, drain within the deadline, interrupt the rest, close. Idempotent. */
  readonly shutdown: Effect.Effect<ShutdownSummary>
  /** Fails when the root supervisor gives up on an agent; never succeeds. */
  readonly awaitEscalation: Effect.Effect<never, Errors.AgentEscalated>
}

/** @since 0.1.0 @category tags */
export class AgentRuntime extends Context.Tag("@patinox/agent/AgentRuntime")<AgentRuntime, Service>() {}

const positiveInt = (what: string, value: number): number => {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`AgentRuntime ${what} must be a non-negative integer, got ${value}`)
  return value
}

/**
 * Makes a runtime in the current scope. Closing the scope shuts it down
 * gracefully: new messages are refused, work in flight (and the delegations
 * it makes) is drained within `shutdownDeadline`, what is left is interrupted
 * and its askers get `AgentStopped`. When the root supervisor gives up on an
 * agent, the runtime shuts down and `awaitEscalation` fails.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (config: Config = {}): Effect.Effect<Service, never, Scope.Scope | Monitor.Monitor> =>
  Effect.gen(function*() {
    const maxDelegationDepth = positiveInt("maxDelegationDepth", config.maxDelegationDepth ?? 3)
    const deadline = Duration.decode(config.shutdownDeadline ?? "10 seconds")
    const askTimeout = Duration.decode(config.askTimeout ?? "60 seconds")
    const policy: Supervisor.Policy = { ...Supervisor.defaultPolicy, ...config.policy }
    const scope = yield* Effect.scope
    const { core, root } = yield* Supervisor.makeRoot("runtime", policy, scope)
    const rootHandle = Supervisor.handleOf(core, root)

    const lookup = (id: Ids.AgentId) =>
      Effect.suspend(() => {
        const entry = core.registry.get(id)
        return entry === undefined
          ? Effect.fail(new Errors.AgentNotFound({ agent: id, available: [...core.registry.keys()] }))
          : Effect.succeed(entry)
      })

    let shutdownResult: ShutdownSummary | undefined
    const shutdown: Effect.Effect<ShutdownSummary> = Effect.suspend(() => {
      if (shutdownResult !== undefined) return Effect.succeed(shutdownResult)
      return Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const agents = core.registry.size
        const { drained } = yield* Supervisor.shutdownNode(core, root, deadline, true)
        core.registry.clear()
        const summary: ShutdownSummary = { drained, durationMs: (yield* Clock.currentTimeMillis) - started, agents }
        shutdownResult = summary
        if (config.onShutdown !== undefined) yield* config.onShutdown(summary)
        return summary
      }).pipe(Effect.uninterruptible)
    })

    const service: Service = {
      maxDelegationDepth,
      askTimeout,
      root: rootHandle,
      spawn: rootHandle.spawn,
      supervisor: rootHandle.supervisor,
      send: (id, input) => Effect.flatMap(lookup(id), (entry) => entry.handle.send(input)),
      ask: (id, input, options) => Effect.flatMap(lookup(id), (entry) => entry.handle.ask(input, options)),
      handoff: (conversationId, from, to) =>
        Effect.gen(function*() {
          const source = yield* lookup(from)
          const target = yield* lookup(to)
          const history: ReadonlyArray<Message.Message> = yield* source.actor.takeConversation(conversationId)
          yield* target.actor.putConversation(conversationId, history)
        }),
      agents: Effect.sync(() => [...core.registry.keys()]),
      shutdown,
      awaitEscalation: Deferred.await(core.escalated)
    }
    core.provide = Context.make(AgentRuntime, service)

    // An escalation at the root → a graceful shutdown, at once. The scope closes → the same;
    // added last, that finalizer runs first, before anything else in the scope is torn down.
    yield* Deferred.await(core.escalated).pipe(
      Effect.catchAll(() => Effect.asVoid(shutdown)),
      Effect.forkIn(scope)
    )
    yield* Effect.addFinalizer(() => Effect.asVoid(shutdown))
    return service
  })

/**
 * The runtime as a layer: its finalizer is the graceful shutdown, so
 * `Layer.launch` + `NodeRuntime.runMain` turn SIGINT/SIGTERM into one.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (config: Config = {}): Layer.Layer<AgentRuntime, never, Monitor.Monitor> =>
  Layer.scoped(AgentRuntime, make(config))

/**
 * Asks the agent `id` through the runtime in context.
 *
 * @since 0.1.0 @category accessors
 */
export const ask = (
  id: Ids.AgentId,
  input: string,
  options?: Agent.AskOptions
): Effect.Effect<RunResult, AskError, AgentRuntime> => Effect.flatMap(AgentRuntime, (runtime) => runtime.ask(id, input, options))

/**
 * Sends to the agent `id` through the runtime in context.
 *
 * @since 0.1.0 @category accessors
 */
export const send = (
  id: Ids.AgentId,
  input: string
): Effect.Effect<void, Errors.AgentNotFound | Errors.AgentStopped | Errors.MailboxFull, AgentRuntime> =>
  Effect.flatMap(AgentRuntime, (runtime) => runtime.send(id, input))

/**
 * What an agent-as-tool takes: the request, in words.
 *
 * @since 0.1.0 @category schemas
 */
export const AskParameters = Schema.Struct({
  input: Schema.String.annotations({ description: "The request for the other agent, self-contained" })
})

/** @since 0.1.0 @category models */
export type AskParameters = typeof AskParameters

/**
 * What an agent-as-tool can fail with; the asking model sees it as a tool error.
 *
 * @since 0.1.0 @category models
 */
export type DelegationError = AskError | Errors.DelegationDepthExceeded

/**
 * The runtime and the current delegation, or `DelegationDepthExceeded` when
 * one more hop to `target` would pass the runtime's limit.
 */
const delegationTo = (target: Ids.AgentId) =>
  Effect.gen(function*() {
    const runtime = yield* AgentRuntime
    const delegation = yield* FiberRef.get(currentDelegation)
    const depth = delegation.runId === undefined ? delegation.depth : delegation.depth + 1
    if (depth > runtime.maxDelegationDepth) {
      return yield* new Errors.DelegationDepthExceeded({ agent: target, maxDepth: runtime.maxDelegationDepth })
    }
    return { runtime, delegation }
  })

/**
 * An agent as a tool of another: calling it asks the agent `target` through
 * the runtime (by id, not by reference) and returns its answer. The tool is
 * named `ask_<target>` unless `name` is given.
 *
 * @since 0.1.0 @category multi-agent
 */
export const asTool = <const Name extends string = `ask_${string}`>(
  target: Ids.AgentId,
  options: {
    readonly description: string
    readonly name?: Name | undefined
    readonly timeout?: Duration.DurationInput | undefined
  }
): Tool.Tool<Name, AskParameters, typeof Schema.String, DelegationError, AgentRuntime> =>
  Tool.make(options.name ?? (`ask_${target}` as Name), {
    description: options.description,
    parameters: AskParameters,
    success: Schema.String,
    handler: ({ input }) =>
      Effect.gen(function*() {
        const { runtime } = yield* delegationTo(target)
        const result = yield* runtime.ask(target, input, { timeout: options.timeout ?? runtime.askTimeout })
        return result.answer
      })
  })

/**
 * A tool that hands the current conversation over to `target`: the history
 * moves there, and `target` answers this turn and the next ones asked with the
 * same `conversationId`.
 *
 * @since 0.1.0 @category multi-agent
 */
export const handoffTool = <const Name extends string = `transfer_to_${string}`>(
  target: Ids.AgentId,
  options: { readonly description: string; readonly name?: Name | undefined }
): Tool.Tool<Name, AskParameters, typeof Schema.String, DelegationError, AgentRuntime> =>
  Tool.make(options.name ?? (`transfer_to_${target}` as Name), {
    description: options.description,
    parameters: AskParameters,
    success: Schema.String,
    handler: ({ input }) =>
      Effect.gen(function*() {
        const { delegation, runtime } = yield* delegationTo(target)
        if (delegation.conversationId !== undefined && delegation.agent !== undefined) {
          yield* runtime.handoff(delegation.conversationId, delegation.agent, target)
        }
        const result = yield* runtime.ask(target, input, {
          timeout: runtime.askTimeout,
          conversationId: delegation.conversationId
        })
        return result.answer
      })
  })
