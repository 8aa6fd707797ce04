/**
 * Supervisors own running agents. Each agent is a fiber in its supervisor's
 * `FiberMap` (by agent id), reading a bounded mailbox. A defect while an
 * agent handles a message (a die, not a typed run error) answers that message
 * with `AgentCrashed` and restarts the agent on the supervisor's `Schedule`,
 * keeping the rest of its mailbox; once the schedule gives up, the supervisor
 * escalates to its parent, and the root (the `AgentRuntime`) fails with
 * `AgentEscalated`. Every restart and escalation is reported to the
 * `Monitor` (`agent.restart`, `agent.escalation`).
 *
 * Supervisors nest: a child's scope is part of its parent's, so shutting a
 * supervisor down stops everything under it.
 *
 * @since 0.1.0
 */
import { Errors, type Ids, Monitor, type Tool, type ValidationPipeline } from "@patinox/core"
import { Context, Deferred, Duration, Effect, ExecutionStrategy, Exit, Fiber, FiberMap, Option, Schedule, Scope } from "effect"
import { unsafeCoerce } from "effect/Function"
import * as Agent from "./Agent.js"
import type { AgentRuntime } from "./AgentRuntime.js"
import * as Actor from "./internal/actor.js"

/**
 * How a supervisor treats a crashing agent.
 *
 * @since 0.1.0 @category models
 */
export interface Policy {
  /** Delays between restarts; when it ends, the supervisor gives up on the agent. */
  readonly restart: Schedule.Schedule<unknown, unknown>
  /** An agent that ran this long since its last crash gets a fresh restart budget (the window). */
  readonly resetAfter: Duration.DurationInput
  /**
   * What giving up means: `"escalate"` to the parent supervisor (the root
   * fails the runtime with `AgentEscalated`), or `"stop"` only that agent.
   */
  readonly onExhausted: "escalate" | "stop"
}

/**
 * Exponential backoff from 100 ms, at most 3 restarts within a minute, then
 * escalate.
 *
 * @since 0.1.0 @category policies
 */
export const defaultPolicy: Policy = {
  restart: Actor.defaultRestart,
  resetAfter: Actor.defaultResetAfter,
  onExhausted: "escalate"
}

/**
 * At most `maxRestarts` restarts within `within`, waiting `base`, 2×`base`,
 * 4×`base`… before each.
 *
 * @since 0.1.0 @category policies
 */
export const backoff = (options: {
  readonly maxRestarts: number
  readonly within: Duration.DurationInput
  readonly base?: Duration.DurationInput | undefined
  readonly onExhausted?: "escalate" | "stop" | undefined
}): Policy => ({
  restart: Schedule.exponential(options.base ?? "100 millis").pipe(Schedule.intersect(Schedule.recurs(options.maxRestarts))),
  resetAfter: options.within,
  onExhausted: options.onExhausted ?? "escalate"
})

/**
 * A supervisor. `spawn` starts an agent under it, registered by id with the
 * runtime (ids are unique per runtime); `supervisor` makes a child.
 *
 * @since 0.1.0 @category models
 */
export interface Supervisor {
  /** Its path from the root, `/`-separated (`runtime/team`). */
  readonly path: string
  readonly spawn: <Tools extends Tool.Any, E, R, O extends Agent.Overflow = "wait">(
    agent: Agent.Agent<Tools, E, R, O>
  ) => Effect.Effect<
    Agent.Running<O>,
    E | Errors.ConfigurationInvalid | Errors.AgentStopped,
    Exclude<R, AgentRuntime> | ValidationPipeline.ValidationPipeline | Monitor.Monitor
  >
  readonly supervisor: (name: string, policy?: Partial<Policy>) => Effect.Effect<Supervisor, Errors.AgentStopped>
  /** The ids of the agents it runs directly. */
  readonly agents: Effect.Effect<ReadonlyArray<Ids.AgentId>>
  /** Stops taking messages, drains what its agents hold within `deadline`, interrupts the rest, closes. */
  readonly shutdown: (deadline: Duration.DurationInput) => Effect.Effect<void>
}

// ---------------------------------------------------------------------------
// internal
// ---------------------------------------------------------------------------

interface Entry {
  readonly actor: Actor.Actor
  readonly handle: Agent.Running<Agent.Overflow>
  readonly node: Node
}

interface Node {
  readonly path: string
  readonly policy: Policy
  readonly scope: Scope.CloseableScope
  readonly fibers: FiberMap.FiberMap<Ids.AgentId>
  readonly actors: Map<Ids.AgentId, Actor.Actor>
  readonly children: Array<Node>
  readonly parent: Node | undefined
  open: boolean
}

/** @internal */
export interface Core {
  readonly registry: Map<Ids.AgentId, Entry>
  readonly tracker: Actor.Tracker
  readonly monitor: Context.Context<Monitor.Monitor>
  readonly escalated: Deferred.Deferred<never, Errors.AgentEscalated>
  /** The runtime service, for tools that ask other agents; set once the runtime exists. */
  provide: Context.Context<never>
}

const report = (core: Core, event: Monitor.EventInput) => Effect.provide(Monitor.report(event), core.monitor)

const escalate = (core: Core, node: Node, error: Errors.AgentEscalated, agentId: Ids.AgentId): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (node.policy.onExhausted === "stop") return
    let current = node.parent
    while (current !== undefined) {
      yield* report(core, {
        type: "agent.escalation",
        agentId,
        context: { supervisor: current.path, from: node.path, restarts: error.restarts, reason: error.reason }
      })
      if (current.policy.onExhausted === "stop") return
      current = current.parent
    }
    yield* Deferred.fail(core.escalated, error)
  })

const spawnIn = (core: Core, node: Node) =>
<Tools extends Tool.Any, E, R, O extends Agent.Overflow = "wait">(
  agent: Agent.Agent<Tools, E, R, O>
): Effect.Effect<
  Agent.Running<O>,
  E | Errors.ConfigurationInvalid | Errors.AgentStopped,
  Exclude<R, AgentRuntime> | ValidationPipeline.ValidationPipeline | Monitor.Monitor
> => {
  const program = Effect.gen(function*() {
    if (!node.open) return yield* new Errors.AgentStopped({ agent: agent.name })
    if (core.registry.has(agent.id)) {
      return yield* new Errors.ConfigurationInvalid({ key: `agents.${agent.id}`, reason: "an agent with this id is already running" })
    }
    const actor = yield* Agent.makeActor(agent, {
      restart: node.policy.restart,
      resetAfter: Duration.decode(node.policy.resetAfter),
      supervisor: node.path,
      tracker: core.tracker,
      onEscalate: (error) =>
        Effect.zipRight(
          Effect.sync(() => {
            core.registry.delete(agent.id)
            node.actors.delete(agent.id)
          }),
          escalate(core, node, error, agent.id)
        ),
      provide: core.provide
    }).pipe(Scope.extend(node.scope))
    const fiber = yield* FiberMap.run(node.fibers, agent.id, actor.main)
    const stop = Effect.suspend(() =>
      Effect.zipRight(
        Effect.zipRight(actor.close, Fiber.await(fiber)),
        Effect.sync(() => {
          core.registry.delete(agent.id)
          node.actors.delete(agent.id)
        })
      )
    )
    const handle = Agent.runningHandle<O>(agent, actor, stop)
    node.actors.set(agent.id, actor)
    core.registry.set(agent.id, { actor, handle: handle as Agent.Running<Agent.Overflow>, node })
    return handle
  })
  // `R` may include `AgentRuntime` (tools that ask other agents): the runtime provides itself.
  return unsafeCoerce(program)
}

const nodesOf = (node: Node): ReadonlyArray<Node> => [node, ...node.children.flatMap(nodesOf)]

/**
 * Shuts a subtree down: refuse new messages (delegations from work in flight
 * are still taken while `drainDelegations`), wait until the work accepted is
 * done or the deadline passes, then end the mailboxes, interrupt what is still
 * running (its askers get `AgentStopped`) and close the scopes.
 *
 * @internal
 */
export const shutdownNode = (
  core: Core,
  node: Node,
  deadline: Duration.DurationInput,
  drainDelegations: boolean
): Effect.Effect<{ readonly drained: boolean }> =>
  Effect.gen(function*() {
    const nodes = nodesOf(node)
    const actors = nodes.flatMap((n) => [...n.actors.values()])
    for (const n of nodes) n.open = false
    const budget = Duration.decode(deadline)
    const drain = Effect.gen(function*() {
      if (drainDelegations) {
        yield* Effect.forEach(actors, (actor) => actor.refuseExternal, { discard: true })
        yield* core.tracker.awaitIdle
      }
      yield* Effect.forEach(actors, (actor) => actor.close, { discard: true })
      for (const n of nodes) {
        for (const [, fiber] of n.fibers) yield* Fiber.await(fiber)
      }
    })
    // Interruptible even inside an uninterruptible shutdown: the deadline must be able to cut it.
    const drained = Option.isSome(yield* Effect.timeout(Effect.interruptible(drain), budget).pipe(Effect.option))
    // Children first: their agents may be asking the parent's.
    for (const n of [...nodes].reverse()) yield* Scope.close(n.scope, Exit.void)
    return { drained }
  })

const makeNode = (
  path: string,
  policy: Policy,
  parent: Node | undefined,
  parentScope: Scope.Scope
): Effect.Effect<Node> =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(parentScope, ExecutionStrategy.sequential)
    const fibers = yield* FiberMap.make<Ids.AgentId>().pipe(Scope.extend(scope))
    const node: Node = { path, policy, scope, fibers, actors: new Map(), children: [], parent, open: true }
    return node
  })

/** @internal */
export const handleOf = (core: Core, node: Node): Supervisor => ({
  path: node.path,
  spawn: spawnIn(core, node),
  supervisor: (name, policy) =>
    Effect.gen(function*() {
      if (!node.open) return yield* new Errors.AgentStopped({ agent: `${node.path}/${name}` })
      const child = yield* makeNode(`${node.path}/${name}`, { ...node.policy, ...policy }, node, node.scope)
      node.children.push(child)
      return handleOf(core, child)
    }),
  agents: Effect.sync(() => [...node.actors.keys()]),
  shutdown: (deadline) =>
    Effect.asVoid(shutdownNode(core, node, deadline, false)).pipe(
      Effect.ensuring(Effect.sync(() => {
        for (const n of nodesOf(node)) {
          for (const id of n.actors.keys()) core.registry.delete(id)
        }
        const siblings = node.parent?.children
        if (siblings !== undefined) siblings.splice(siblings.indexOf(node), 1)
      }))
    )
})

/**
 * The root of a supervision tree, in `scope`.
 *
 * @internal
 */
export const makeRoot = (
  path: string,
  policy: Policy,
  scope: Scope.Scope
): Effect.Effect<{ readonly core: Core; readonly root: Node }, never, Monitor.Monitor> =>
  Effect.gen(function*() {
    const core: Core = {
      registry: new Map(),
      tracker: new Actor.Tracker(),
      // The monitor alone: a context taken whole would also pin the span current now on every report.
      monitor: Context.pick(Monitor.Monitor)(yield* Effect.context<Monitor.Monitor>()),
      escalated: yield* Deferred.make<never, Errors.AgentEscalated>(),
      provide: Context.empty()
    }
    const root = yield* makeNode(path, policy, undefined, scope)
    return { core, root }
  })
