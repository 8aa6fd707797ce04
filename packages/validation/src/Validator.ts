/**
 * A validator looks at one agent action and decides what happens to it:
 * `Approved`, `Modified`, `Rejected` or `Retry`. Validators are assembled into
 * a `ValidationPipeline` by `Pipeline.withValidator`, which runs them in
 * priority order at the stages they declare.
 *
 * Errors: `validate` may fail with a typed error `E` (the validator's own
 * infrastructure failing, e.g. a classifier that cannot be reached). The
 * pipeline fails closed on it: the action is rejected with
 * `ValidationRejected({ reason: "validator failed: ..." })` and the decision
 * is recorded as `rejected`. Defects are not caught: they stop the run, which
 * is also closed.
 *
 * @since 0.1.0
 */
import type { Decision } from "@patinox/core"
import { AgentAction, ValidationPipeline } from "@patinox/core"
import type { Effect } from "effect"

/** @since 0.1.0 @category models */
export type Stage = AgentAction.Stage

/** Where an action comes from (agent, run, stage). @since 0.1.0 @category models */
export type ValidationContext = ValidationPipeline.ValidationContext

/** @since 0.1.0 @category models */
export interface Validator<E = never> {
  /** Unique, human-readable; recorded with every decision. */
  readonly name: string
  /** Lower runs first; validators with equal priority keep the order they were added in. */
  readonly priority: number
  /** The stages this validator looks at; it is not run at any other. */
  readonly stages: ReadonlySet<Stage> | ReadonlyArray<Stage>
  /** Whether a `Modified` decision from it is honoured (otherwise it is `ModificationNotAllowed`). */
  readonly mayModify: boolean
  /** Must not require services: dependencies are taken when the validator is built. */
  readonly validate: (action: AgentAction.AgentAction, context: ValidationContext) => Effect.Effect<Decision.Decision, E>
}

/** Any validator, whatever its error type. @since 0.1.0 @category models */
export type Any = Validator<unknown>

/** The stages an action can be validated at, in run order. @since 0.1.0 @category constants */
export const allStages: ReadonlyArray<Stage> = AgentAction.Stage.literals

/** @since 0.1.0 @category defaults */
export const defaultPriority = 100

/**
 * Builds a validator. `priority` defaults to 100, `mayModify` to `false`,
 * `stages` to every stage.
 *
 * @since 0.1.0 @category constructors
 */
export const make = <E = never>(options: {
  readonly name: string
  readonly priority?: number | undefined
  readonly stages?: ReadonlySet<Stage> | ReadonlyArray<Stage> | undefined
  readonly mayModify?: boolean | undefined
  readonly validate: (action: AgentAction.AgentAction, context: ValidationContext) => Effect.Effect<Decision.Decision, E>
}): Validator<E> => ({
  name: options.name,
  priority: options.priority ?? defaultPriority,
  stages: new Set(options.stages ?? allStages),
  mayModify: options.mayModify ?? false,
  validate: options.validate
})

/** Whether the validator runs at `stage`. @since 0.1.0 @category predicates */
export const appliesTo = (validator: Validator<unknown>, stage: Stage): boolean =>
  isSet(validator.stages) ? validator.stages.has(stage) : validator.stages.includes(stage)

const isSet = (stages: ReadonlySet<Stage> | ReadonlyArray<Stage>): stages is ReadonlySet<Stage> =>
  stages instanceof Set

/**
 * The reason recorded when a validator's own `validate` fails: its tag and
 * message when it has them.
 *
 * @since 0.1.0 @category errors
 */
export const failureReason = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : undefined
    const message = "message" in error && typeof error.message === "string" && error.message !== ""
      ? error.message
      : undefined
    if (tag !== undefined && message !== undefined) return `validator failed: ${tag}: ${message}`
    if (message !== undefined) return `validator failed: ${message}`
    if (tag !== undefined) return `validator failed: ${tag}`
  }
  return `validator failed: ${String(error)}`
}
