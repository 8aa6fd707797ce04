/**
 * A circuit breaker per dependency (the model provider, each tool).
 *
 * - **closed**: calls go through; each outcome enters a count-based sliding
 *   window of the last `windowSize` calls. Once the window holds at least
 *   `minimumCalls` outcomes and the share of failures in it reaches
 *   `failureRateThreshold`, the circuit opens.
 * - **open**: calls fail fast with `CircuitOpen({ dependency, retryAfterMs })`
 *   for `openDuration`.
 * - **half-open**: after `openDuration` (checked on the next use: there is
 *   no timer fiber), up to `halfOpenProbes` calls are let through as probes;
 *   when that many have succeeded the circuit closes with an empty window,
 *   and the first probe failure opens it again. Calls beyond the free probe
 *   slots fail fast with `retryAfterMs: 0`.
 *
 * What counts: a typed failure counts as a failure when `isFailure` says so
 * (default: its `category` is `network` or `execution`, except `CircuitOpen`
 * from a nested breaker); a defect counts as a failure; any other typed
 * failure (configuration, validation: the dependency answered, the request
 * was wrong) counts as a success; an interrupted call is not counted.
 *
 * The breaker is also a validator (`validator`, `layerValidator`): at
 * `model_request` and `tool_call` it rejects the action while the
 * dependency's circuit would refuse it, so the pipeline refuses before the
 * call is made. Every state change is reported to `Monitor` as a
 * `state.change` event with context `{ dependency, from, to }`.
 *
 * State is one entry per dependency name that went through `protect`
 * (the validator only reads), so its size is the number of dependencies.
 *
 * @since 0.1.0
 */
import { Decision, DependencyGuard, Errors, Ids, Monitor } from "@patinox/core"
import type { AgentAction, ValidationPipeline } from "@patinox/core"
import { Cause, Clock, Context, Duration, Effect, Exit, HashMap, Layer, Option, Predicate, Ref } from "effect"
import * as internal from "./internal/breaker.js"
import * as Pipeline from "./Pipeline.js"
import * as Validator from "./Validator.js"

/** @since 0.1.0 @category models */
export type State = internal.CircuitState

/** @since 0.1.0 @category models */
export interface Config {
  /** Size of the count-based sliding window (last N calls). Default 20. */
  readonly windowSize?: number | undefined
  /** Calls the window must hold before the failure rate can open the circuit. Default 10. */
  readonly minimumCalls?: number | undefined
  /** Failure share (0, 1] at or above which the circuit opens. Default 0.5. */
  readonly failureRateThreshold?: number | undefined
  /** How long the circuit stays open before probing. Default 30 seconds. */
  readonly openDuration?: Duration.DurationInput | undefined
  /** Concurrent probes in half-open; that many successes close the circuit. Default 1. */
  readonly halfOpenProbes?: number | undefined
  /** Which typed failures count against the dependency. Default `countsAsFailure`. */
  readonly isFailure?: ((error: unknown) => boolean) | undefined
  /** The agent id stamped on `state.change` events (a breaker is shared by agents). Default `circuit-breaker`. */
  readonly reporterId?: Ids.AgentId | undefined
}

/** @since 0.1.0 @category models */
export interface Service {
  /** Runs `effect` if the circuit admits it, recording its outcome; fails fast with `CircuitOpen` otherwise. */
  readonly protect: <A, E, R>(
    dependency: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | Errors.CircuitOpen, R>
  /** The dependency's state now (`closed` for one never seen). */
  readonly state: (dependency: string) => Effect.Effect<State>
  /** Every known dependency's state now. */
  readonly states: Effect.Effect<ReadonlyMap<string, State>>
  /** `Some(CircuitOpen)` when a call now would be refused, without taking a probe slot. */
  readonly refusal: (dependency: string) => Effect.Effect<Option.Option<Errors.CircuitOpen>>
}

/** @since 0.1.0 @category tags */
export class CircuitBreaker extends Context.Tag("@patinox/validation/CircuitBreaker")<CircuitBreaker, Service>() {}

/** @since 0.1.0 @category defaults */
export const defaults = {
  windowSize: 20,
  minimumCalls: 10,
  failureRateThreshold: 0.5,
  openDuration: "30 seconds",
  halfOpenProbes: 1
} as const

/** The dependency name of the model provider. @since 0.1.0 @category dependencies */
export const modelDependency = DependencyGuard.model

/** The dependency name of a tool. @since 0.1.0 @category dependencies */
export const toolDependency = DependencyGuard.tool

/**
 * The dependency an action is about to call: the model for a `ModelCall`,
 * the tool for a `ToolCallAction`, none otherwise.
 *
 * @since 0.1.0 @category dependencies
 */
export const dependencyOf = (action: AgentAction.AgentAction): string | undefined => {
  switch (action._tag) {
    case "ModelCall":
      return modelDependency
    case "ToolCallAction":
      return toolDependency(action.toolCall.name)
    default:
      return undefined
  }
}

/**
 * Default failure test: the error's `category` is `network` or `execution`
 * (timeouts, 5xx, broken connections, failing tools), but not `CircuitOpen`.
 *
 * @since 0.1.0 @category predicates
 */
export const countsAsFailure = (error: unknown): boolean =>
  Predicate.hasProperty(error, "category") &&
  (error.category === "network" || error.category === "execution") &&
  !(error instanceof Errors.CircuitOpen)

/**
 * Builds a breaker reporting state changes to the `Monitor` in context; dies
 * on an invalid configuration.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (config: Config = {}): Effect.Effect<Service, never, Monitor.Monitor> =>
  Effect.gen(function*() {
    const monitor = yield* Monitor.Monitor
    const settings: internal.Settings = {
      windowSize: config.windowSize ?? defaults.windowSize,
      minimumCalls: config.minimumCalls ?? Math.min(defaults.minimumCalls, config.windowSize ?? defaults.windowSize),
      failureRateThreshold: config.failureRateThreshold ?? defaults.failureRateThreshold,
      openDurationMs: Duration.toMillis(config.openDuration ?? defaults.openDuration),
      halfOpenProbes: config.halfOpenProbes ?? defaults.halfOpenProbes
    }
    const problem = internal.validate(settings)
    if (problem !== undefined) return yield* Effect.dieMessage(`CircuitBreaker: ${problem}`)
    const isFailure = config.isFailure ?? countsAsFailure
    const reporterId = config.reporterId ?? Ids.AgentId.make("circuit-breaker")
    const circuits = yield* Ref.make(HashMap.empty<string, internal.Circuit>())

    const report = (dependency: string, transitions: ReadonlyArray<internal.Transition>) =>
      Effect.forEach(transitions, (transition) =>
        Monitor.report({
          type: "state.change",
          agentId: reporterId,
          context: {
            dependency,
            from: transition.from,
            to: transition.to,
            ...(transition.failureRate === undefined ? {} : { failureRate: transition.failureRate }),
            ...(transition.calls === undefined ? {} : { calls: transition.calls })
          }
        }), { discard: true }).pipe(Effect.provideService(Monitor.Monitor, monitor))

    const circuitOf = (map: HashMap.HashMap<string, internal.Circuit>, dependency: string) =>
      Option.getOrElse(HashMap.get(map, dependency), () => internal.initial)

    /** Reads a dependency's circuit, applying a due open → half-open move. */
    const current = (dependency: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const [circuit, transitions] = yield* Ref.modify(circuits, (map) => {
          const before = circuitOf(map, dependency)
          const [after, transitions] = internal.advance(before, now)
          const result = [after, transitions] as const
          return [result, transitions.length === 0 ? map : HashMap.set(map, dependency, after)]
        })
        yield* report(dependency, transitions)
        return { circuit, now }
      })

    const state = Effect.fn("CircuitBreaker.state")(function*(dependency: string) {
      const { circuit } = yield* current(dependency)
      return internal.stateOf(circuit)
    })

    const states: Effect.Effect<ReadonlyMap<string, State>> = Effect.gen(function*() {
      const names = Array.from(HashMap.keys(yield* Ref.get(circuits)))
      const out = new Map<string, State>()
      for (const name of names) out.set(name, yield* state(name))
      return out
    }).pipe(Effect.withSpan("CircuitBreaker.states"))

    const refusal = Effect.fnUntraced(function*(dependency: string) {
      const { circuit, now } = yield* current(dependency)
      const retryAfterMs = internal.refusal(circuit, now, settings)
      return retryAfterMs === undefined
        ? Option.none()
        : Option.some(new Errors.CircuitOpen({ dependency, retryAfterMs }))
    })

    const settle = (dependency: string, generation: number, outcome: internal.Outcome) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const transitions = yield* Ref.modify(circuits, (map) => {
          const [after, transitions] = internal.record(circuitOf(map, dependency), generation, outcome, now, settings)
          return [transitions, HashMap.set(map, dependency, after)]
        })
        yield* report(dependency, transitions)
      })

    const outcomeOf = <A, E>(exit: Exit.Exit<A, E>): internal.Outcome => {
      if (Exit.isSuccess(exit)) return "success"
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) return isFailure(failure.value) ? "failure" : "success"
      if (Cause.isDie(exit.cause)) return "failure"
      return "cancelled"
    }

    const protect = <A, E, R>(
      dependency: string,
      effect: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | Errors.CircuitOpen, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const [admission, transitions] = yield* Ref.modify(circuits, (map) => {
            const [admission, after, transitions] = internal.admit(circuitOf(map, dependency), now, settings)
            return [[admission, transitions] as const, HashMap.set(map, dependency, after)]
          })
          yield* report(dependency, transitions)
          if (admission._tag === "Refused") {
            return yield* new Errors.CircuitOpen({ dependency, retryAfterMs: admission.retryAfterMs })
          }
          const exit = yield* Effect.exit(restore(effect))
          yield* settle(dependency, admission.generation, outcomeOf(exit))
          return yield* exit
        })
      )

    return { protect, state, states, refusal } satisfies Service
  })

/**
 * @since 0.1.0 @category layers
 */
export const layer = (config: Config = {}): Layer.Layer<CircuitBreaker, never, Monitor.Monitor> =>
  Layer.effect(CircuitBreaker, make(config))

/**
 * The breaker as core's `DependencyGuard`, so the agent loop runs every model
 * and tool call through `protect` (the names match `modelDependency` and
 * `toolDependency`).
 *
 * @since 0.1.0 @category layers
 */
export const layerGuard: Layer.Layer<DependencyGuard.DependencyGuard, never, CircuitBreaker> = Layer.effect(
  DependencyGuard.DependencyGuard,
  Effect.map(CircuitBreaker, (breaker) => ({ protect: breaker.protect }))
)

/** Runs after nothing: an open circuit should refuse before any other work. @since 0.1.0 @category defaults */
export const defaultPriority = 10

/**
 * The breaker as a validator: rejects an action whose dependency's circuit
 * would refuse it now. Stages default to `model_request` and `tool_call`.
 *
 * @since 0.1.0 @category validators
 */
export const validator = (options: {
  readonly name?: string | undefined
  readonly priority?: number | undefined
  readonly stages?: ReadonlyArray<Validator.Stage> | undefined
  readonly dependencyOf?: ((action: AgentAction.AgentAction) => string | undefined) | undefined
} = {}): Effect.Effect<Validator.Validator<never>, never, CircuitBreaker> =>
  Effect.map(CircuitBreaker, (breaker) => {
    const dependencyFor = options.dependencyOf ?? dependencyOf
    return Validator.make({
      name: options.name ?? "circuit-breaker",
      priority: options.priority ?? defaultPriority,
      stages: options.stages ?? ["model_request", "tool_call"],
      mayModify: false,
      validate: (action) => {
        const dependency = dependencyFor(action)
        if (dependency === undefined) return Effect.succeed(Decision.Approved())
        return Effect.map(breaker.refusal(dependency), (refused) =>
          Option.match(refused, {
            onNone: () => Decision.Approved(),
            onSome: (open) =>
              Decision.Rejected({
                reason: `circuit for "${dependency}" is open; retry in ${open.retryAfterMs} ms`
              })
          }))
      }
    })
  })

/**
 * The breaker's validator as a layer on the pipeline beneath. Provide the
 * breaker with `Layer.provideMerge(CircuitBreaker.layer(config))` so the
 * agent loop gets the same breaker for `protect`.
 *
 * @since 0.1.0 @category layers
 */
export const layerValidator: Layer.Layer<
  ValidationPipeline.ValidationPipeline,
  never,
  ValidationPipeline.ValidationPipeline | Monitor.Monitor | CircuitBreaker
> = Pipeline.withValidator(validator())
