/**
 * Wraps every call the agent loop makes to a dependency — the model
 * (`"model"`) and each tool (`"tool:<name>"`) — so that something like a
 * circuit breaker can record outcomes and refuse calls fast. It is optional:
 * without one in context the loop calls dependencies directly.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { CircuitOpen, DependencyDisabled } from "./Errors.js"

/** @since 0.1.0 @category models */
export interface Service {
  readonly protect: <A, E, R>(
    dependency: string,
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | CircuitOpen | DependencyDisabled, R>
}

/** @since 0.1.0 @category tags */
export class DependencyGuard extends Context.Tag("@patinox/core/DependencyGuard")<DependencyGuard, Service>() {}

/** The dependency name of the model. @since 0.1.0 @category names */
export const model = "model"

/** The dependency name of a tool. @since 0.1.0 @category names */
export const tool = (name: string): string => `tool:${name}`
