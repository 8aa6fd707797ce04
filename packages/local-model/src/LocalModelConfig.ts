/**
 * The `localModel` config section: an optional prompt-injection classifier
 * and an optional grounding (NLI / cross-encoder) model, each loaded from a
 * local directory. Both are off unless their section is present.
 *
 * ```yaml
 * localModel:
 *   injection:
 *     path: ./models/prompt-guard-2-86m
 *     threshold: 0.5
 *     attackLabels: [MALICIOUS]
 *   grounding:
 *     path: ./models/hhem-2.1-open
 *     threshold: 0.5
 * ```
 *
 * @since 0.1.0
 */
import { AgentAction } from "@patinox/core"
import { Effect, ParseResult, Schema } from "effect"
import { LocalModelConfigError } from "./Errors.js"

const Score = Schema.Number.pipe(Schema.between(0, 1))
const PositiveInt = Schema.Int.pipe(Schema.positive())

/**
 * The prompt-injection classifier (e.g. Prompt Guard 2). Defaults:
 * `threshold: 0.5`, `attackLabels: ["MALICIOUS", "INJECTION", "JAILBREAK"]`,
 * `stages: ["user_input", "tool_result"]`, `name: "local-injection"`,
 * `priority: 35` (after the built-in jailbreak validator, 30), texts cut into
 * windows of 2000 characters, at most 8 per text.
 *
 * @since 0.1.0 @category config
 */
export const InjectionConfig = Schema.Struct({
  /** The model directory: `config.json`, `tokenizer.json`, `onnx/model.onnx`. */
  path: Schema.NonEmptyTrimmedString,
  /** The attack probability at or above which the action is rejected. */
  threshold: Schema.optionalWith(Score, { default: () => 0.5 }),
  /** Which of the model's labels mean "attack": their probabilities add up to the score. */
  attackLabels: Schema.optionalWith(Schema.NonEmptyArray(Schema.NonEmptyString), {
    default: () => ["MALICIOUS", "INJECTION", "JAILBREAK"] as const
  }),
  stages: Schema.optionalWith(Schema.Array(AgentAction.Stage), { default: () => ["user_input", "tool_result"] as const }),
  name: Schema.optionalWith(Schema.NonEmptyString, { default: () => "local-injection" }),
  priority: Schema.optionalWith(Schema.Number, { default: () => 35 }),
  /**
   * Classifiers see a few hundred tokens (Prompt Guard 2: 512); a longer text
   * is cut into windows of this many characters, each scored, the highest
   * counting, so an injection at the end of a long tool result is still seen.
   */
  windowChars: Schema.optionalWith(PositiveInt, { default: () => 2_000 }),
  /** Windows scored per text at most (the first ones); bounds the cost of a huge text. */
  maxWindows: Schema.optionalWith(PositiveInt, { default: () => 8 }),
  /**
   * `worker` (default): inference on a thread of its own, since ONNX Runtime's run holds the thread
   * it is called on; `main`: on the agents' thread (tests, or a model too small to matter).
   */
  thread: Schema.optionalWith(Schema.Literal("worker", "main"), { default: () => "worker" as const }),
})

/** @since 0.1.0 @category config */
export type InjectionConfig = typeof InjectionConfig.Type

/**
 * The grounding model (e.g. HHEM-2.1 or an NLI cross-encoder): scores
 * (premise = evidence, hypothesis = answer). Defaults: `threshold: 0.5`,
 * `supportLabels: ["consistent", "entailment", "supported"]` (a one-logit
 * model's sigmoid is the score), `stages: ["final_answer"]`,
 * `name: "local-grounding"`, `priority: 45`, `whenNoEvidence: "pass"`,
 * `maxPassages: 4`.
 *
 * @since 0.1.0 @category config
 */
export const GroundingConfig = Schema.Struct({
  path: Schema.NonEmptyTrimmedString,
  /** The support probability below which the answer is rejected. */
  threshold: Schema.optionalWith(Score, { default: () => 0.5 }),
  /** Which of the model's labels mean "the evidence supports the answer". */
  supportLabels: Schema.optionalWith(Schema.NonEmptyArray(Schema.NonEmptyString), {
    default: () => ["consistent", "entailment", "supported"] as const
  }),
  stages: Schema.optionalWith(Schema.Array(AgentAction.Stage), { default: () => ["final_answer"] as const }),
  name: Schema.optionalWith(Schema.NonEmptyString, { default: () => "local-grounding" }),
  priority: Schema.optionalWith(Schema.Number, { default: () => 45 }),
  /**
   * No knowledge-base passage and no tool result to check against: `pass`
   * approves (the answer is unverifiable, not wrong), `reject` rejects.
   */
  whenNoEvidence: Schema.optionalWith(Schema.Literal("pass", "reject"), { default: () => "pass" as const }),
  /** Knowledge-base passages retrieved for the question, each scored against the answer. */
  maxPassages: Schema.optionalWith(PositiveInt, { default: () => 4 }),
  /**
   * `worker` (default): inference on a thread of its own, since ONNX Runtime's run holds the thread
   * it is called on; `main`: on the agents' thread (tests, or a model too small to matter).
   */
  thread: Schema.optionalWith(Schema.Literal("worker", "main"), { default: () => "worker" as const }),
})

/** @since 0.1.0 @category config */
export type GroundingConfig = typeof GroundingConfig.Type

/** @since 0.1.0 @category config */
export const LocalModelConfig = Schema.Struct({
  injection: Schema.optional(InjectionConfig),
  grounding: Schema.optional(GroundingConfig)
})

/** @since 0.1.0 @category config */
export type LocalModelConfig = typeof LocalModelConfig.Type

/** What `decode` and `LocalModel.layer` accept. @since 0.1.0 @category config */
export type LocalModelConfigInput = typeof LocalModelConfig.Encoded

/** Nothing configured: no local model is loaded. @since 0.1.0 @category defaults */
export const disabled: LocalModelConfig = {}

/**
 * Decodes the section; a bad value fails with `LocalModelConfigError`
 * naming the key (`localModel.injection.threshold`, ...).
 *
 * @since 0.1.0 @category decoding
 */
export const decode = (input: unknown): Effect.Effect<LocalModelConfig, LocalModelConfigError> =>
  Schema.decodeUnknown(LocalModelConfig, { errors: "all", onExcessProperty: "error" })(input).pipe(
    Effect.mapError((error) => {
      const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
        .filter((issue) => !issue.message.startsWith("Expected undefined"))
      const first = issues[0]
      return new LocalModelConfigError({
        key: ["localModel", ...(first?.path ?? [])].join("."),
        reason: issues.map((issue) => `${["localModel", ...issue.path].join(".")}: ${issue.message}`).join("; ")
      })
    })
  )
