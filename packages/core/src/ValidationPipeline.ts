/**
 * The service every agent action passes through before it is carried out.
 * The agent loop requires it in its context, so an agent cannot run without
 * one. `@patinox/validation` builds real pipelines out of validator layers;
 * `passThrough` approves everything and is what a test or a trusted batch job
 * asks for explicitly.
 *
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer } from "effect"
import type { AgentAction, Stage } from "./AgentAction.js"
import { stageOf } from "./AgentAction.js"
import type { ValidationError } from "./Errors.js"
import type { AgentId, RunId } from "./Ids.js"

/** Where an action comes from. @since 0.1.0 @category models */
export interface ValidationContext {
  readonly agentId: AgentId
  readonly runId: RunId
  readonly stage: Stage
  /** The run's user input (after its own validation): what a final answer is checked against. */
  readonly input?: string | undefined
  /** The model the run calls. */
  readonly model?: string | undefined
  /** The end user the run is for, when the caller says (rate limits per user). */
  readonly userId?: string | undefined
  /**
   * At the final answer: what this run's tools returned without error (a
   * delegated agent's answer included), in order. A claim taken from them is
   * sourced, so answer validators count them as evidence.
   */
  readonly toolResults?: ReadonlyArray<string> | undefined
  /**
   * At the final answer: how many earlier answers of this run were sent back
   * for revision, so a validator can bound its own requests.
   */
  readonly revisions?: number | undefined
}

/**
 * The pipeline's overall verdict on an action:
 * - `Proceed`: carry out `action` (the original, or a validator's modification);
 * - `Revise`: do not carry it out; give `feedback` to the model and let it try again.
 * A rejection is the typed failure `ValidationRejected`.
 *
 * @since 0.1.0 @category models
 */
export type Verdict = Data.TaggedEnum<{
  Proceed: { readonly action: AgentAction }
  Revise: { readonly validator: string; readonly feedback: string }
}>

/** @since 0.1.0 @category constructors */
export const { Proceed, Revise } = Data.taggedEnum<Verdict>()

/** @since 0.1.0 @category models */
export interface Service {
  /** Names of the validators in the order they run (for health and docs). */
  readonly validators: ReadonlyArray<string>
  readonly check: (action: AgentAction, context: ValidationContext) => Effect.Effect<Verdict, ValidationError>
}

/** @since 0.1.0 @category tags */
export class ValidationPipeline extends Context.Tag("@patinox/core/ValidationPipeline")<ValidationPipeline, Service>() {}

/** @since 0.1.0 @category constructors */
export const passThroughService: Service = {
  validators: [],
  check: (action) => Effect.succeed(Proceed({ action }))
}

/**
 * A pipeline with no validators: every action proceeds unchanged.
 *
 * @since 0.1.0 @category layers
 */
export const passThrough: Layer.Layer<ValidationPipeline> = Layer.succeed(ValidationPipeline, passThroughService)

/** Runs the pipeline in context on an action, deriving its stage. @since 0.1.0 @category accessors */
export const check = (
  action: AgentAction,
  context: Omit<ValidationContext, "stage">
): Effect.Effect<Verdict, ValidationError, ValidationPipeline> =>
  Effect.flatMap(ValidationPipeline, (pipeline) => pipeline.check(action, { ...context, stage: stageOf(action) }))
