/**
 * Builds the core `ValidationPipeline` out of validators, as a stack of
 * layers: each validator layer takes the pipeline beneath it and provides one
 * with itself added.
 *
 * ```ts
 * const validation = Pipeline.stack(Pipeline.empty, PiiFilter.layer, RateLimiter.layer(config))
 * // same as
 * RateLimiter.layer(config).pipe(Layer.provide(PiiFilter.layer), Layer.provide(Pipeline.empty))
 * ```
 *
 * Order is explicit priority, not layer order: every pipeline built here
 * carries its validator list (under a private symbol), so the layer on top
 * rebuilds the pipeline from the whole list, sorted by priority (stable for
 * ties: the order they were added). A pipeline beneath that was not built
 * here (e.g. `ValidationPipeline.passThrough` or a test double) is kept as an
 * opaque last step, run on the action the validators let through; options
 * then are the defaults (set them with `Pipeline.layer(options)` at the
 * bottom of a stack built here).
 *
 * How each decision is honoured, for the validators that apply to the
 * action's stage:
 * - `Approved`: the next validator runs.
 * - `Modified(action)`: only from a validator with `mayModify`, and only
 *   into an action of the same kind (`_tag`); later validators see the new
 *   action. Otherwise the check fails with `ModificationNotAllowed` (never
 *   silently ignored).
 * - `Rejected(reason)`: fails with `ValidationRejected` naming the validator
 *   (and carrying the decision's `retryAfterMs`, if any).
 *   A validator whose own `validate` fails is treated the same way (fail
 *   closed), with reason `validator failed: ...`.
 * - `Retry(delayMs, feedback)`: the revise-or-wait rule. At a stage where the
 *   model can act on feedback (`tool_call`, `tool_result`, `final_answer`),
 *   a `Retry` with `delayMs <= 0` and non-empty feedback ends the check with
 *   `Revise({ validator, feedback })`: the agent gives the feedback to the
 *   model. Every other `Retry` is a wait: the pipeline sleeps `delayMs`
 *   (`Effect.sleep`, so `TestClock` drives it) and asks the same validator
 *   again. Each validator gets at most `1 + maxRetries` attempts per check,
 *   and the waits of one check add up to at most `maxTotalDelay` (a wait that
 *   would overrun it is not started). Beyond either bound the check fails
 *   with `ValidationRetriesExhausted`.
 *
 * Every decision (every attempt) is reported to `Monitor` as a
 * `validation.decision` event carrying one `DecisionRecord`, and every
 * validator run is a span `validate {name}`.
 *
 * @since 0.1.0
 */
import type { AgentAction } from "@patinox/core"
import { Decision, Errors, Monitor, ValidationPipeline } from "@patinox/core"
import { Clock, Duration, Effect, Either, Layer } from "effect"
import * as internal from "./internal/pipeline.js"
import * as Validator from "./Validator.js"

/** @since 0.1.0 @category models */
export interface Options {
  /** Retries of one validator within one check, after its first attempt. Default 2. */
  readonly maxRetries?: number | undefined
  /** Total time one check may spend waiting on `Retry` delays. Default 5 seconds. */
  readonly maxTotalDelay?: Duration.DurationInput | undefined
}

/** @since 0.1.0 @category defaults */
export const defaultOptions = {
  maxRetries: 2,
  maxTotalDelay: "5 seconds"
} as const satisfies Options

/**
 * Stages at which a zero-delay `Retry` with feedback becomes `Revise`: the
 * action there is the model's own output (or what it is about to read), so
 * the model can act on the feedback.
 *
 * @since 0.1.0 @category constants
 */
export const revisableStages: ReadonlySet<Validator.Stage> = new Set<Validator.Stage>([
  "tool_call",
  "tool_result",
  "final_answer"
])

/**
 * The revise-or-wait rule: whether a `Retry` at `stage` is handed back to
 * the model as `Revise` rather than waited on.
 *
 * @since 0.1.0 @category predicates
 */
export const isRevise = (decision: Decision.Decision, stage: Validator.Stage): boolean =>
  decision._tag === "Retry" && !(decision.delayMs > 0) && decision.feedback.trim() !== "" &&
  revisableStages.has(stage)

const resolveOptions = (options: Options | undefined): Effect.Effect<internal.ResolvedOptions> => {
  const maxRetries = options?.maxRetries ?? defaultOptions.maxRetries
  const maxTotalDelayMs = Duration.toMillis(options?.maxTotalDelay ?? defaultOptions.maxTotalDelay)
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    return Effect.dieMessage(`Pipeline maxRetries must be a non-negative integer, got ${maxRetries}`)
  }
  if (!(maxTotalDelayMs >= 0)) {
    return Effect.dieMessage(`Pipeline maxTotalDelay must be a non-negative duration, got ${maxTotalDelayMs} ms`)
  }
  return Effect.succeed({ maxRetries, maxTotalDelayMs })
}

type Step =
  | { readonly _tag: "Continue"; readonly action: AgentAction.AgentAction; readonly delayLeftMs: number }
  | { readonly _tag: "Revise"; readonly verdict: ValidationPipeline.Verdict }

const build = (state: internal.State, monitor: Monitor.Service): internal.StatefulService => {
  const ordered = internal.byPriority(state.validators)
  const { maxRetries, maxTotalDelayMs } = state.options

  const report = (
    validator: Validator.Any,
    action: AgentAction.AgentAction,
    context: Validator.ValidationContext,
    attempt: number,
    record: Decision.DecisionRecord
  ) =>
    Monitor.report({
      type: "validation.decision",
      agentId: context.agentId,
      runId: context.runId,
      action,
      metrics: { latencyMs: record.latencyMs, decisions: [record] },
      context: { validator: validator.name, stage: context.stage, decision: record.decision, attempt }
    }).pipe(Effect.provideService(Monitor.Monitor, monitor))

  const runValidator = Effect.fnUntraced(function*(
    validator: Validator.Any,
    action: AgentAction.AgentAction,
    context: Validator.ValidationContext,
    delayLeftMs: number
  ) {
    const stage = context.stage
    let lastFeedback = ""
    // Bounded: at most 1 + maxRetries attempts; every path out of an
    // iteration returns, fails, or moves on to the next attempt.
    for (let attempt = 1; attempt <= maxRetries + 1; attempt++) {
      const started = yield* Clock.currentTimeNanos
      const outcome = yield* Effect.either(validator.validate(action, context))
      const latencyMs = Number((yield* Clock.currentTimeNanos) - started) / 1e6
      const decision: Decision.Decision = Either.isRight(outcome)
        ? outcome.right
        : Decision.Rejected({ reason: Validator.failureReason(outcome.left) })
      const tagChanged = decision._tag === "Modified" && decision.action._tag !== action._tag
      const reason = decision._tag === "Rejected" || decision._tag === "Modified"
        ? tagChanged && decision._tag === "Modified"
          ? `changed a ${action._tag} into a ${decision.action._tag}: a modification must keep the action's kind`
          : decision.reason
        : decision._tag === "Retry"
        ? decision.feedback
        : undefined
      const kind = Decision.kindOf(decision)
      // The stage's span says what each validator decided, so a trace shows it without a span per validator.
      yield* Effect.annotateCurrentSpan(`patinox.decision.${validator.name}`, kind)
      yield* report(
        validator,
        action,
        context,
        attempt,
        // Built from checked values: skipping the constructor's re-validation saves its cost on every decision.
        new Decision.DecisionRecord({
          validator: validator.name,
          stage,
          decision: kind,
          reason,
          score: decision._tag === "Rejected" ? decision.score : undefined,
          latencyMs
        }, true)
      )
      switch (decision._tag) {
        case "Approved":
          return { _tag: "Continue", action, delayLeftMs } satisfies Step
        case "Modified": {
          if (!validator.mayModify || tagChanged) {
            return yield* new Errors.ModificationNotAllowed({ validator: validator.name, stage })
          }
          return { _tag: "Continue", action: decision.action, delayLeftMs } satisfies Step
        }
        case "Rejected":
          return yield* new Errors.ValidationRejected({
            validator: validator.name,
            stage,
            reason: decision.reason,
            score: decision.score,
            retryAfterMs: decision.retryAfterMs
          })
        case "Retry": {
          if (isRevise(decision, stage)) {
            return {
              _tag: "Revise",
              verdict: ValidationPipeline.Revise({ validator: validator.name, feedback: decision.feedback })
            } satisfies Step
          }
          lastFeedback = decision.feedback
          const delayMs = decision.delayMs > 0 ? decision.delayMs : 0
          if (attempt > maxRetries || delayMs > delayLeftMs) {
            return yield* new Errors.ValidationRetriesExhausted({
              validator: validator.name,
              stage,
              attempts: attempt,
              feedback: lastFeedback
            })
          }
          if (delayMs > 0) yield* Effect.sleep(Duration.millis(delayMs))
          delayLeftMs -= delayMs
        }
      }
    }
    // Not reached: the last attempt's Retry fails above. Kept so the loop
    // bound alone guarantees termination.
    return yield* new Errors.ValidationRetriesExhausted({
      validator: validator.name,
      stage,
      attempts: maxRetries + 1,
      feedback: lastFeedback
    })
  })

  const runStage = Effect.fnUntraced(function*(
    applicable: ReadonlyArray<Validator.Any>,
    action: AgentAction.AgentAction,
    context: Validator.ValidationContext
  ) {
    let current = action
    let delayLeftMs = maxTotalDelayMs
    for (const validator of applicable) {
      const step: Step = yield* runValidator(validator, current, context, delayLeftMs)
      if (step._tag === "Revise") return step.verdict
      current = step.action
      delayLeftMs = step.delayLeftMs
    }
    if (state.foreign !== undefined) return yield* state.foreign.check(current, context)
    return ValidationPipeline.Proceed({ action: current })
  })

  // Which validators apply to each stage, computed once: the check runs for every action of every run.
  const byStage = new Map(Validator.allStages.map((stage) => {
    const validators = ordered.filter((validator) => Validator.appliesTo(validator, stage))
    return [stage, { validators, names: validators.map((validator) => validator.name).join(",") }] as const
  }))

  // One span per stage checked (not per validator, nor a stack trace per
  // call): spans were a visible share of a run's CPU in profiles.
  const check = (action: AgentAction.AgentAction, context: Validator.ValidationContext) => {
    const { names, validators } = byStage.get(context.stage) ?? { names: "", validators: [] }
    if (validators.length === 0) return runStage(validators, action, context)
    return runStage(validators, action, context).pipe(
      Effect.withSpan(`validate ${context.stage}`, {
        captureStackTrace: false,
        attributes: { "patinox.stage": context.stage, "patinox.validators": names }
      })
    )
  }

  return {
    validators: [...ordered.map((validator) => validator.name), ...(state.foreign?.validators ?? [])],
    check,
    [internal.StateId]: state
  }
}

/**
 * A pipeline running `validators` (in priority order), reporting to the
 * `Monitor` in context.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  validators: ReadonlyArray<Validator.Any>,
  options?: Options
): Effect.Effect<ValidationPipeline.Service, never, Monitor.Monitor> =>
  Effect.gen(function*() {
    const monitor = yield* Monitor.Monitor
    const resolved = yield* resolveOptions(options)
    return build({ validators, options: resolved, foreign: undefined }, monitor)
  })

/**
 * The bottom of a stack: a pipeline with no validators and these options
 * (which every validator layer above keeps).
 *
 * @since 0.1.0 @category layers
 */
export const layer = (options?: Options): Layer.Layer<ValidationPipeline.ValidationPipeline, never, Monitor.Monitor> =>
  Layer.effect(ValidationPipeline.ValidationPipeline, make([], options))

/**
 * The bottom of a stack with the default options.
 *
 * @since 0.1.0 @category layers
 */
export const empty: Layer.Layer<ValidationPipeline.ValidationPipeline, never, Monitor.Monitor> = layer()

/**
 * A layer that takes the pipeline beneath it and provides one with
 * `validator` added. The validator can be built by an effect (taking its own
 * dependencies); its failure fails the layer.
 *
 * @since 0.1.0 @category layers
 */
export function withValidator<VE>(
  validator: Validator.Validator<VE>
): Layer.Layer<ValidationPipeline.ValidationPipeline, never, ValidationPipeline.ValidationPipeline | Monitor.Monitor>
export function withValidator<VE, E, R>(
  validator: Effect.Effect<Validator.Validator<VE>, E, R>
): Layer.Layer<ValidationPipeline.ValidationPipeline, E, ValidationPipeline.ValidationPipeline | Monitor.Monitor | R>
export function withValidator<VE, E, R>(
  validator: Validator.Validator<VE> | Effect.Effect<Validator.Validator<VE>, E, R>
): Layer.Layer<ValidationPipeline.ValidationPipeline, E, ValidationPipeline.ValidationPipeline | Monitor.Monitor | R> {
  return Layer.effect(
    ValidationPipeline.ValidationPipeline,
    Effect.gen(function*() {
      const beneath = yield* ValidationPipeline.ValidationPipeline
      const monitor = yield* Monitor.Monitor
      const added: Validator.Any = Effect.isEffect(validator) ? yield* validator : validator
      const state = internal.stateOf(beneath)
      if (state !== undefined) {
        return build({ ...state, validators: [...state.validators, added] }, monitor)
      }
      const options = yield* resolveOptions(undefined)
      return build({ validators: [added], options, foreign: beneath }, monitor)
    })
  )
}

/**
 * `base` with each validator layer stacked on top:
 * `stack(base, a, b)` is `b.pipe(Layer.provide(a), Layer.provide(base))`.
 *
 * @since 0.1.0 @category layers
 */
export const stack = <
  E0,
  R0,
  const Layers extends ReadonlyArray<Layer.Layer<ValidationPipeline.ValidationPipeline, unknown, unknown>>
>(
  base: Layer.Layer<ValidationPipeline.ValidationPipeline, E0, R0>,
  ...layers: Layers
): Layer.Layer<
  ValidationPipeline.ValidationPipeline,
  E0 | Layer.Layer.Error<Layers[number]>,
  R0 | Exclude<Layer.Layer.Context<Layers[number]>, ValidationPipeline.ValidationPipeline>
> => {
  let acc: Layer.Layer<ValidationPipeline.ValidationPipeline, unknown, unknown> = base
  for (const layer of layers) acc = Layer.provide(layer, acc)
  // The loop loses the element types; the signature above is what the chain provides.
  return acc as Layer.Layer<
    ValidationPipeline.ValidationPipeline,
    E0 | Layer.Layer.Error<Layers[number]>,
    R0 | Exclude<Layer.Layer.Context<Layers[number]>, ValidationPipeline.ValidationPipeline>
  >
}
