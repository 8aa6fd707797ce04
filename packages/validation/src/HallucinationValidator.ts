/**
 * A validator that checks a final answer against the knowledge base with
 * `HallucinationDetector.check({ question: context.input, answer })`.
 *
 * - Every claim supported: `Approved`.
 * - Some claims supported, the rest unverifiable (no evidence sentence speaks
 *   to them), none contradicted or unsupported: `Modified` with the answer
 *   plus an "unverifiable" note naming them, the reason saying so: a correct
 *   answer is never blocked for going beyond the sources.
 * - Nothing relevant in the knowledge base (the answer is unverifiable):
 *   `Approved` under the default `whenUnverifiable: "pass"`: not being able
 *   to check an answer is not evidence that it is wrong, and an agent that
 *   answers outside its knowledge base would otherwise never finish. Set
 *   `whenUnverifiable: "flag"` to treat it as unsupported.
 * - Evidence is the knowledge base and this run's tool results
 *   (`context.toolResults`, a delegated agent's answer included): an answer
 *   that repeats what a tool returned is sourced.
 * - Unsupported claims, none of which any retrieved passage speaks to (no
 *   shared word or number: the sources were found for the question, not for
 *   the claim),
 *   under `whenUnverifiable: "pass"`: the validator cannot decide, so it
 *   approves with a low-confidence note: `Modified` with the answer plus the
 *   note, the reason saying so. Asking for revisions it cannot judge would
 *   only spend the run's steps.
 * - Unsupported claims, `mode: "retry"` (default): `Retry({ delayMs: 0,
 *   feedback })`, which the pipeline turns into `Revise`: the agent hands the
 *   feedback (naming each unsupported claim and what the sources lack) back to
 *   the model to revise its answer, at most `maxRevisions` times a run
 *   (default 1, counted from `context.revisions`); an answer still
 *   unsupported after that is `Rejected` (the run fails with
 *   `ValidationRejected`, never by running out of steps).
 * - Unsupported claims, `mode: "annotate"`: `Modified` with the answer plus a
 *   note naming the unsupported claims.
 *
 * Optional model judge (`judge.enabled` and a `LanguageModel` given): a
 * verifiable answer the rules are unsure of (its margin,
 * `HallucinationDetector.margin`, inside `judge.band`, default
 * `[-0.1, 0.25)`) is also put to `HallucinationDetector.judge` with the
 * passages the rules retrieved, and the judge's NLI verdict decides
 * (`entailed` passes, `contradicted`/`neutral` is unsupported). Confident
 * verdicts (a contradiction, clear support) never call the model. A judge
 * failure falls back to the rule verdict (`onError: "fallback"`, default) or
 * fails the validator (`"reject"`: the pipeline fails closed).
 *
 * Only the first `maxAnswerChars` (default 20 000) characters of an answer
 * are checked, cut at a sentence end: every claim costs a knowledge-base
 * search, and a 1 MB answer (~10 000 claims) would otherwise hold the run for
 * tens of seconds. The rest of such an answer goes unchecked.
 *
 * A knowledge-base failure is the validator's typed failure
 * (`KnowledgeBaseError`): the pipeline fails closed on it.
 *
 * @since 0.1.0
 */
import type { Monitor } from "@patinox/core"
import { AgentAction, Decision, Errors, LanguageModel, ValidationPipeline } from "@patinox/core"
import { Duration, Effect, Layer, Option, ParseResult, Schema } from "effect"
import * as HallucinationDetector from "./HallucinationDetector.js"
import type { KnowledgeBase, KnowledgeBaseError } from "./KnowledgeBase.js"
import * as Pipeline from "./Pipeline.js"
import * as Validator from "./Validator.js"

// ---------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------

const Share = Schema.Number.pipe(Schema.between(0, 1))

/**
 * The judge's default band on an answer's margin (`HallucinationDetector.margin`):
 * the rules' close calls; outside it their verdict stands.
 *
 * @since 0.1.0 @category defaults
 */
export const defaultJudgeBand: readonly [number, number] = [-0.1, 0.25]

/**
 * The model judge's settings. `band` is `[low, high)` on the answer's margin
 * (`HallucinationDetector.margin`: its closest claim's score minus that
 * claim's threshold): only answers inside it go to the judge. A contradicted
 * claim (margin `-Infinity`) and a claim well above its threshold are
 * confident verdicts the model is not asked about; `[-1, 1]` asks it about
 * every checkable answer short of a contradiction or full support.
 *
 * @since 0.1.0 @category config
 */
export const JudgeConfig = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  band: Schema.optionalWith(
    Schema.Tuple(Schema.Number.pipe(Schema.between(-1, 0)), Schema.Number.pipe(Schema.between(0, 1))),
    { default: () => defaultJudgeBand }
  ),
  onError: Schema.optionalWith(Schema.Literal("fallback", "reject"), { default: () => "fallback" as const }),
  timeoutMs: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 30_000 })
})

/** @since 0.1.0 @category config */
export type JudgeConfig = typeof JudgeConfig.Type

/**
 * The validator's configuration, decodable from a config file. Defaults:
 * `enabled: true`, `name: "hallucination"`, `priority: 40`, `mode: "retry"`,
 * detector options as in `HallucinationDetector` (claimThreshold 0.15,
 * toolClaimThreshold 0.5, answerThreshold 0.5, alignmentFloor 0.2,
 * maxUnsupportedRatio 0, negationPenalty 0.5, strictNumbers true,
 * whenUnverifiable "pass", retrievalLimit 5), `maxAnswerChars: 20000`, `maxRevisions: 1`,
 * `maxToolEvidenceChars: 16000`, `judge: { enabled: false, band: [-0.1, 0.25],
 * onError: "fallback", timeoutMs: 30000 }`.
 *
 * @since 0.1.0 @category config
 */
export const Config = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  name: Schema.optionalWith(Schema.NonEmptyString, { default: () => "hallucination" }),
  priority: Schema.optionalWith(Schema.Number, { default: () => defaultPriority }),
  mode: Schema.optionalWith(Schema.Literal("retry", "annotate"), { default: () => "retry" as const }),
  claimThreshold: Schema.optional(Share),
  /** The claim threshold when a claim's evidence is this run's tool results. */
  toolClaimThreshold: Schema.optional(Share),
  /** The least a short answer to the question (a name, a few words) is held to. */
  answerThreshold: Schema.optional(Share),
  /** Under this alignment with any evidence sentence a claim is unverifiable: no finding. */
  alignmentFloor: Schema.optional(Share),
  maxUnsupportedRatio: Schema.optional(Share),
  negationPenalty: Schema.optional(Share),
  strictNumbers: Schema.optional(Schema.Boolean),
  whenUnverifiable: Schema.optional(Schema.Literal("pass", "flag")),
  retrievalLimit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100))),
  /** Longer answers are checked on their head only. */
  maxAnswerChars: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 20_000 }),
  /** Revisions asked for per run in retry mode; an answer still unsupported after them is rejected. */
  maxRevisions: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 1 }),
  /** Characters of this run's tool results used as evidence, the latest first. */
  maxToolEvidenceChars: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 16_000 }),
  judge: Schema.optionalWith(JudgeConfig, { default: () => JudgeConfig.make({}) })
})

/** @since 0.1.0 @category config */
export type Config = typeof Config.Type

/** What `make` and `layer` accept: the encoded config, every field optional. @since 0.1.0 @category config */
export type ConfigInput = typeof Config.Encoded

/** Last of the built-in validators: the most expensive check. @since 0.1.0 @category defaults */
export const defaultPriority = 40

/** The validator's failures: the knowledge base, or a judge that must not be ignored. @since 0.1.0 @category errors */
export type Error = KnowledgeBaseError | Errors.ModelError | HallucinationDetector.JudgeReplyInvalid

/** @since 0.1.0 @category models */
export interface Dependencies {
  /** Enables the judge (with `judge.enabled`). */
  readonly model?: LanguageModel.Service | undefined
}

const resolveConfig = (input: ConfigInput): Effect.Effect<Config> =>
  Schema.decode(Config)(input).pipe(
    Effect.catchTag("ParseError", (error) =>
      Effect.dieMessage(
        `HallucinationValidator: invalid configuration: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
      ))
  )

const detectorOptions = (config: Config): HallucinationDetector.Options => ({
  claimThreshold: config.claimThreshold,
  toolClaimThreshold: config.toolClaimThreshold,
  answerThreshold: config.answerThreshold,
  alignmentFloor: config.alignmentFloor,
  maxUnsupportedRatio: config.maxUnsupportedRatio,
  negationPenalty: config.negationPenalty,
  strictNumbers: config.strictNumbers,
  whenUnverifiable: config.whenUnverifiable,
  retrievalLimit: config.retrievalLimit
})

const evidenceOf = (assessment: HallucinationDetector.Assessment): ReadonlyArray<string> => {
  const seen = new Map<string, string>()
  for (const claim of assessment.claims) {
    for (const passage of claim.evidence) if (!seen.has(passage.passageId)) seen.set(passage.passageId, passage.text)
  }
  return [...seen.values()].slice(0, 12)
}

/** The head of a long answer, cut at the last sentence end in its final fifth when there is one. */
const headOf = (text: string, max: number): string => {
  if (text.length <= max) return text
  const head = text.slice(0, max)
  const end = Math.max(head.lastIndexOf(". "), head.lastIndexOf("\n"), head.lastIndexOf("! "), head.lastIndexOf("? "))
  return end >= max * 0.8 ? head.slice(0, end + 1) : head
}

/**
 * The tool results to check an answer against, the latest first, within
 * `max` characters. A delegated agent's answer comes as a JSON string: it is
 * unquoted so its words and numbers read as in the answer.
 */
const toolEvidence = (results: ReadonlyArray<string> | undefined, max: number): ReadonlyArray<string> => {
  const out: Array<string> = []
  let left = max
  for (const raw of [...(results ?? [])].reverse()) {
    if (left <= 0) break
    let text = raw
    try {
      const parsed: unknown = JSON.parse(raw)
      if (typeof parsed === "string") text = parsed
    } catch {
      // not JSON: used as it is
    }
    out.push(text.slice(0, left))
    left -= text.length
  }
  return out
}

/**
 * Unsupported claims that no retrieved passage shares a word or number with: the
 * evidence neither backs nor contradicts them, so the rules cannot decide.
 */
const undecidable = (assessment: HallucinationDetector.Assessment): boolean => {
  const unsupported = assessment.claims.filter((claim) => !claim.supported)
  return unsupported.length > 0 && unsupported.every((claim) => claim.evidence.length === 0)
}

/** The rule assessment restated with the judge's verdict. */
const withJudgement = (
  assessment: HallucinationDetector.Assessment,
  judged: HallucinationDetector.JudgeVerdict
): { readonly assessment: HallucinationDetector.Assessment; readonly feedback: string } => {
  if (judged.verdict === "entailed") {
    return { assessment: { ...assessment, hallucinated: false, unsupportedClaims: [] }, feedback: "" }
  }
  const unsupported = judged.unsupportedClaims.length > 0
    ? judged.unsupportedClaims
    : assessment.unsupportedClaims.length > 0
    ? assessment.unsupportedClaims
    : assessment.claims.map((c) => c.claim)
  const relation = judged.verdict === "contradicted" ? "contradict" : "do not support"
  return {
    assessment: { ...assessment, hallucinated: true, unsupportedClaims: unsupported },
    feedback: [
      `The knowledge base sources ${relation} these statements:`,
      ...unsupported.map((claim) => `- "${claim}"`),
      "Revise the answer to state only what the sources support, or say that you are not sure."
    ].join("\n")
  }
}

/**
 * Builds the validator on the `KnowledgeBase` in context. Dies on an invalid
 * configuration. With `enabled: false` it applies to no stage.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  input: ConfigInput = {},
  dependencies: Dependencies = {}
): Effect.Effect<Validator.Validator<Error>, never, KnowledgeBase> =>
  Effect.gen(function*() {
    const config = yield* resolveConfig(input)
    const options = detectorOptions(config)
    const detector = yield* HallucinationDetector.make(options)
    const model = config.judge.enabled ? dependencies.model : undefined
    if (config.judge.enabled && model === undefined) {
      yield* Effect.logWarning("HallucinationValidator: judge enabled but no LanguageModel given; rules decide alone")
    }

    const [bandLow, bandHigh] = config.judge.band
    // Only a close call is worth a model call: contradictions and clear support stand.
    const inBand = (assessment: HallucinationDetector.Assessment): boolean => {
      const margin = HallucinationDetector.margin(assessment, options)
      return margin >= bandLow && margin < bandHigh
    }

    const decide = (
      action: AgentAction.FinalAnswer,
      assessment: HallucinationDetector.Assessment,
      feedback: string,
      revisions: number
    ): Decision.Decision => {
      if (!assessment.hallucinated) {
        // Some claims no source speaks to, none contradicted: pass, and say so in the answer and the record.
        const unverifiable = assessment.verifiable ? assessment.unverifiableClaims : []
        if (unverifiable.length === 0 || config.whenUnverifiable === "flag") return Decision.Approved()
        return Decision.Modified({
          action: new AgentAction.FinalAnswer({
            step: action.step,
            content: HallucinationDetector.annotate(action.content, assessment)
          }),
          reason: `low confidence: no source speaks to ${unverifiable.length} claim(s) (${
            unverifiable.map((claim) => `"${claim.slice(0, 80)}"`).join("; ")
          }); approved with an "unverifiable" note`
        })
      }
      // Only the rules' own verdict (no judge feedback) can be undecidable: a judge that read the passages decided.
      if (config.whenUnverifiable !== "flag" && feedback === "" && undecidable(assessment)) {
        const count = assessment.unsupportedClaims.length
        return Decision.Modified({
          action: new AgentAction.FinalAnswer({
            step: action.step,
            content: HallucinationDetector.annotate(action.content, assessment)
          }),
          reason: `low confidence: no source speaks to ${count} claim(s) (${
            assessment.unsupportedClaims.map((claim) => `"${claim.slice(0, 80)}"`).join("; ")
          }); approved with a note`
        })
      }
      if (config.mode === "annotate") {
        return Decision.Modified({
          action: new AgentAction.FinalAnswer({
            step: action.step,
            content: HallucinationDetector.annotate(action.content, assessment)
          }),
          reason: `annotated ${assessment.unsupportedClaims.length} unsupported claim(s)`
        })
      }
      if (revisions >= config.maxRevisions) {
        return Decision.Rejected({
          reason: `the answer is still not supported by the sources after ${revisions} revision(s): ${
            assessment.unsupportedClaims.map((claim) => `"${claim.slice(0, 120)}"`).join("; ")
          }`,
          score: assessment.score
        })
      }
      // Unverifiable answers flagged by `whenUnverifiable: "flag"` still get feedback from `feedbackFor`.
      return Decision.Retry({ delayMs: 0, feedback: feedback === "" ? HallucinationDetector.feedbackFor(assessment) : feedback })
    }

    const judged = (
      model: LanguageModel.Service,
      action: AgentAction.FinalAnswer,
      question: string | undefined,
      assessment: HallucinationDetector.Assessment,
      revisions: number
    ): Effect.Effect<Decision.Decision, Errors.ModelError | HallucinationDetector.JudgeReplyInvalid> =>
      HallucinationDetector.judge(model, {
        question,
        answer: headOf(action.content, config.maxAnswerChars),
        evidence: evidenceOf(assessment)
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(config.judge.timeoutMs),
          onTimeout: () => new Errors.ModelTimeout({ model: model.model, timeoutMs: config.judge.timeoutMs })
        }),
        Effect.map((verdict) => {
          const restated = withJudgement(assessment, verdict)
          return decide(action, restated.assessment, restated.feedback, revisions)
        }),
        Effect.catchAll((error) =>
          config.judge.onError === "reject"
            ? Effect.fail(error)
            : Effect.as(
              Effect.logWarning("HallucinationValidator: judge failed, falling back to the rule verdict").pipe(
                Effect.annotateLogs({ error: error.message })
              ),
              decide(action, assessment, "", revisions)
            )
        )
      )

    const validate = (
      action: AgentAction.AgentAction,
      context: Validator.ValidationContext
    ): Effect.Effect<Decision.Decision, Error> => {
      if (action._tag !== "FinalAnswer") return Effect.succeed(Decision.Approved())
      const question = context.input
      const revisions = context.revisions ?? 0
      return detector.check({
        question,
        answer: headOf(action.content, config.maxAnswerChars),
        evidence: toolEvidence(context.toolResults, config.maxToolEvidenceChars)
      }).pipe(
        Effect.flatMap((assessment) =>
          model !== undefined && assessment.verifiable && assessment.claims.length > 0 && inBand(assessment)
            ? judged(model, action, question, assessment, revisions)
            : Effect.succeed(decide(action, assessment, "", revisions))
        )
      )
    }

    return Validator.make({
      name: config.name,
      priority: config.priority,
      stages: config.enabled ? ["final_answer"] : [],
      // Modifies in retry mode too: an answer it cannot decide on passes with a note.
      mayModify: true,
      validate
    })
  })

/**
 * The validator as a layer on the pipeline beneath, on the `KnowledgeBase`
 * in context; the `LanguageModel` in context, if any, is its judge. With
 * `enabled: false` the pipeline beneath is passed through untouched.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  config: ConfigInput = {}
): Layer.Layer<
  ValidationPipeline.ValidationPipeline,
  never,
  ValidationPipeline.ValidationPipeline | Monitor.Monitor | KnowledgeBase
> =>
  config.enabled === false
    ? Layer.effect(ValidationPipeline.ValidationPipeline, ValidationPipeline.ValidationPipeline)
    : Pipeline.withValidator(
      Effect.flatMap(Effect.serviceOption(LanguageModel.LanguageModel), (model) =>
        make(config, { model: Option.getOrUndefined(model) }))
    )
