/**
 * The local-model validators, on the models of the `localModel` section:
 *
 * - `injection` (default stages `user_input`, `tool_result`): the text (in
 *   windows, see `InjectionConfig.windowChars`) is classified; the attack
 *   score is the probability of the `attackLabels`, the highest over the
 *   windows. At or above `threshold`: `Rejected({ reason, score })`, like the
 *   built-in jailbreak validator, the reason naming the model, its score and
 *   label, e.g. `prompt injection (local model score 0.99 >= 0.50, MALICIOUS)`.
 *   Otherwise `Approved`.
 * - `grounding` (default stage `final_answer`): the answer is scored as the
 *   hypothesis against each piece of evidence as the premise (knowledge-base
 *   passages found for the run's input, when a `KnowledgeBase` is in context,
 *   and this run's tool results); the support score is the best one. Below
 *   `threshold`: `Rejected`. No evidence at all: `Approved` under
 *   `whenNoEvidence: "pass"` (unverifiable is not wrong), else `Rejected`.
 *
 * A model failing on an input is the validator's typed failure
 * (`LocalModelInferenceError`): the pipeline fails closed on it.
 *
 * @since 0.1.0
 */
import type { Monitor } from "@patinox/core"
import { AgentAction, Decision, ValidationPipeline } from "@patinox/core"
import { KnowledgeBase, Pipeline, Validator } from "@patinox/validation"
import { Context, Effect, Layer, Option, type Scope } from "effect"
import * as Classifier from "./Classifier.js"
import { LocalModelConfigError, type LocalModelInferenceError } from "./Errors.js"
import type { GroundingConfig, InjectionConfig, LocalModelConfig } from "./LocalModelConfig.js"

const { textOf } = AgentAction

const format = (x: number): string => x.toFixed(2)

/** The label indices in `wanted`; a config naming none of the model's labels is an error at start. */
const labelIndices = (
  classifier: Classifier.Classifier,
  key: string,
  wanted: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<number>, LocalModelConfigError> => {
  const lower = new Set(wanted.map((label) => label.toLowerCase()))
  const indices = classifier.labels.flatMap((label, i) => (lower.has(label.toLowerCase()) ? [i] : []))
  return indices.length > 0 ? Effect.succeed(indices) : Effect.fail(
    new LocalModelConfigError({
      key,
      path: classifier.path,
      reason: `none of [${wanted.join(", ")}] is a label of this model; its labels are [${classifier.labels.join(", ")}]`
    })
  )
}

const sumAt = (probabilities: ReadonlyArray<number>, indices: ReadonlyArray<number>): number =>
  indices.reduce((sum, i) => sum + (probabilities[i] ?? 0), 0)

/** `text` in windows of `size` characters, at most `max` of them. */
export const windows = (text: string, size: number, max: number): ReadonlyArray<string> => {
  if (text.length <= size) return [text]
  const out: Array<string> = []
  for (let at = 0; at < text.length && out.length < max; at += size) out.push(text.slice(at, at + size))
  return out
}

/**
 * The injection validator on a loaded classifier. Fails when `attackLabels`
 * names none of the model's labels.
 *
 * @since 0.1.0 @category constructors
 */
export const injectionValidator = (
  classifier: Classifier.Classifier,
  config: InjectionConfig
): Effect.Effect<Validator.Validator<LocalModelInferenceError>, LocalModelConfigError> =>
  Effect.gen(function*() {
    const attack = yield* labelIndices(classifier, "localModel.injection.attackLabels", config.attackLabels)
    const validate = (action: AgentAction.AgentAction): Effect.Effect<Decision.Decision, LocalModelInferenceError> => {
      const text = textOf(action)
      if (text === undefined || text.trim() === "") return Effect.succeed(Decision.Approved())
      const parts = windows(text, config.windowChars, config.maxWindows)
      return Effect.map(classifier.classify(parts.map((part) => ({ text: part }))), (rows) => {
        let score = 0
        let top = rows[0] ?? []
        for (const row of rows) {
          const s = sumAt(row, attack)
          if (s > score) {
            score = s
            top = row
          }
        }
        if (score < config.threshold) return Decision.Approved()
        const label = attack.reduce((best, i) => ((top[i] ?? 0) > (top[best] ?? 0) ? i : best), attack[0] ?? 0)
        return Decision.Rejected({
          reason: `prompt injection (local model score ${format(score)} >= ${format(config.threshold)}, ${
            classifier.labels[label] ?? "attack"
          })`,
          score
        })
      })
    }
    return Validator.make({ name: config.name, priority: config.priority, stages: config.stages, validate })
  })

/** @since 0.1.0 @category models */
export interface GroundingDependencies {
  /** Where evidence passages come from, besides the run's tool results. */
  readonly knowledgeBase?: KnowledgeBase.Service | undefined
}

/**
 * The grounding validator on a loaded cross-encoder. Fails when
 * `supportLabels` names none of the model's labels (a one-output model needs
 * none: its sigmoid is the score).
 *
 * @since 0.1.0 @category constructors
 */
export const groundingValidator = (
  classifier: Classifier.Classifier,
  config: GroundingConfig,
  dependencies: GroundingDependencies = {}
): Effect.Effect<
  Validator.Validator<LocalModelInferenceError | KnowledgeBase.KnowledgeBaseError>,
  LocalModelConfigError
> =>
  Effect.gen(function*() {
    const support = classifier.labels.length === 1
      ? [0]
      : yield* labelIndices(classifier, "localModel.grounding.supportLabels", config.supportLabels)
    const kb = dependencies.knowledgeBase
    const validate = (
      action: AgentAction.AgentAction,
      context: Validator.ValidationContext
    ): Effect.Effect<Decision.Decision, LocalModelInferenceError | KnowledgeBase.KnowledgeBaseError> =>
      Effect.gen(function*() {
        const answer = textOf(action)
        if (answer === undefined || answer.trim() === "") return Decision.Approved()
        const passages = kb === undefined
          ? []
          : (yield* kb.search(context.input ?? answer, { limit: config.maxPassages })).map((p) => p.text)
        const evidence = [...passages, ...(context.toolResults ?? [])].filter((text) => text.trim() !== "")
        if (evidence.length === 0) {
          return config.whenNoEvidence === "pass"
            ? Decision.Approved()
            : Decision.Rejected({ reason: "answer not verifiable: no evidence to check it against (local model)" })
        }
        const rows = yield* classifier.classify(evidence.map((premise) => ({ text: premise, pair: answer })))
        const score = Math.max(...rows.map((row) => sumAt(row, support)))
        if (score >= config.threshold) return Decision.Approved()
        return Decision.Rejected({
          reason: `answer not supported by the evidence (local model score ${format(score)} < ${
            format(config.threshold)
          }, ${evidence.length} passage(s))`,
          score: 1 - score
        })
      })
    return Validator.make({ name: config.name, priority: config.priority, stages: config.stages, validate })
  })

/**
 * The configured validators, their models loaded (released with the scope).
 * Empty when the section configures none.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  config: LocalModelConfig,
  dependencies: GroundingDependencies = {}
): Effect.Effect<ReadonlyArray<Validator.Any>, LocalModelConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const validators: Array<Validator.Any> = []
    if (config.injection !== undefined) {
      const classifier = yield* Classifier.load("localModel.injection.path", config.injection.path, { thread: config.injection.thread })
      validators.push(yield* injectionValidator(classifier, config.injection))
    }
    if (config.grounding !== undefined) {
      const classifier = yield* Classifier.load("localModel.grounding.path", config.grounding.path, { thread: config.grounding.thread })
      validators.push(yield* groundingValidator(classifier, config.grounding, dependencies))
    }
    return validators
  })

/**
 * The loaded local-model validators, shared by every pipeline that adds them
 * (the service's and each agent's own), so each model is loaded once.
 *
 * @since 0.1.0 @category tags
 */
export class LoadedValidators extends Context.Tag("@patinox/local-model/LoadedValidators")<
  LoadedValidators,
  ReadonlyArray<Validator.Any>
>() {}

/**
 * Loads the configured models (none when nothing is configured); the
 * `KnowledgeBase` in context, if any, is the grounding evidence.
 *
 * @since 0.1.0 @category layers
 */
export const loadedLayer = (config: LocalModelConfig): Layer.Layer<LoadedValidators, LocalModelConfigError> =>
  config.injection === undefined && config.grounding === undefined
    ? Layer.succeed(LoadedValidators, [])
    : Layer.scoped(
      LoadedValidators,
      Effect.flatMap(
        Effect.serviceOption(KnowledgeBase.KnowledgeBase),
        (knowledgeBase) => make(config, { knowledgeBase: Option.getOrUndefined(knowledgeBase) })
      )
    )

/**
 * `validators` added to the pipeline beneath (passed through when there are none).
 *
 * @since 0.1.0 @category layers
 */
export const withValidators = (
  validators: ReadonlyArray<Validator.Any>
): Layer.Layer<
  ValidationPipeline.ValidationPipeline,
  never,
  ValidationPipeline.ValidationPipeline | Monitor.Monitor
> => {
  const beneath: Layer.Layer<
    ValidationPipeline.ValidationPipeline,
    never,
    ValidationPipeline.ValidationPipeline | Monitor.Monitor
  > = Layer.effect(ValidationPipeline.ValidationPipeline, ValidationPipeline.ValidationPipeline)
  return validators.reduce((stack, validator) => Layer.provide(Pipeline.withValidator(validator), stack), beneath)
}

/**
 * The configured validators as a layer on the pipeline beneath, which also
 * provides them as `LoadedValidators` for other pipelines to add. Nothing
 * configured: the pipeline beneath is passed through and nothing is loaded.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  config: LocalModelConfig
): Layer.Layer<
  ValidationPipeline.ValidationPipeline | LoadedValidators,
  LocalModelConfigError,
  ValidationPipeline.ValidationPipeline | Monitor.Monitor
> =>
  Layer.unwrapEffect(Effect.map(LoadedValidators, withValidators)).pipe(
    Layer.provideMerge(loadedLayer(config))
  )
