import type { ValidationPipeline } from "@patinox/core"
import { Predicate } from "effect"
import type * as Validator from "../Validator.js"

/** @internal */
export const StateId: unique symbol = Symbol.for("@patinox/validation/Pipeline/State")

/** @internal */
export interface ResolvedOptions {
  readonly maxRetries: number
  readonly maxTotalDelayMs: number
}

/**
 * What a pipeline built by this package carries across layers, so that a
 * validator layer on top can rebuild the pipeline with the full list and
 * sort it globally by priority.
 *
 * @internal
 */
export interface State {
  /** In the order they were added (bottom of the stack first). */
  readonly validators: ReadonlyArray<Validator.Any>
  readonly options: ResolvedOptions
  /** A pipeline beneath that was not built here: run last, as an opaque step. */
  readonly foreign: ValidationPipeline.Service | undefined
}

/** @internal */
export interface StatefulService extends ValidationPipeline.Service {
  readonly [StateId]: State
}

/** @internal */
export const stateOf = (service: ValidationPipeline.Service): State | undefined => {
  if (!Predicate.hasProperty(service, StateId)) return undefined
  const state: unknown = service[StateId]
  return isState(state) ? state : undefined
}

const isState = (u: unknown): u is State =>
  Predicate.hasProperty(u, "validators") && Array.isArray(u.validators) &&
  Predicate.hasProperty(u, "options") && Predicate.isObject(u.options) &&
  Predicate.hasProperty(u, "foreign")

/** Stable sort by priority (Array.prototype.sort is stable since ES2019). @internal */
export const byPriority = (validators: ReadonlyArray<Validator.Any>): ReadonlyArray<Validator.Any> =>
  validators
    .map((validator, index) => ({ validator, index }))
    .sort((a, b) => a.validator.priority - b.validator.priority || a.index - b.index)
    .map(({ validator }) => validator)
