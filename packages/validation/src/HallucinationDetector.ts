/**
 * Cross-references an answer with the knowledge base. The answer is split
 * into claims; each claim is aligned with the one or two evidence sentences
 * that share most of its (and the question's) content words, stemmed so
 * inflections match. A claim is contradicted when that evidence lacks one of
 * its numbers, dates or names, denies what it asserts (or the reverse), says
 * the opposite of one of its words about the same thing ("fell" for "rose",
 * "unknown" for "known", another unit after the same number), or has two of
 * its names in the other roles around the same verb; it is
 * unsupported when too little of its content is backed (a reworded common
 * word costs little, a name or number much more; words the question already
 * contains prove nothing). A claim no evidence sentence speaks to is
 * unverifiable: no finding either way.
 *
 * Without evidence nothing can be verified: such answers are reported as
 * `verifiable: false` and by default not flagged.
 *
 * An optional model judge (`judge`) asks a language model for an NLI-style
 * verdict as JSON; `margin` says how close the rules' verdict is, so a caller
 * can keep the judge for close calls.
 *
 * @since 0.1.0
 */
import { Errors, LanguageModel, Message } from "@patinox/core"
import { Context, Effect, Layer, ParseResult, Schema } from "effect"
import { splitClaims } from "./internal/claims.js"
import { assessClaims, assessText, resolveOptions, thresholdOf } from "./internal/support.js"
import { KnowledgeBase, type KnowledgeBaseError, type Passage } from "./KnowledgeBase.js"

/** @since 0.1.0 @category models */
export interface ClaimAssessment {
  readonly claim: string
  /** `verdict === "supported"`. */
  readonly supported: boolean
  /**
   * - `supported`: backed by the evidence;
   * - `contradicted`: an evidence sentence about the same thing disagrees on a
   *   number, a name, a negation, a word's opposite ("rose" for "fell") or who
   *   did what to whom (`contradictions`);
   * - `unsupported`: too little of what it says is in the evidence (`score`
   *   under the threshold);
   * - `unverifiable`: no evidence sentence is about it (`alignment` under the
   *   floor): no finding either way.
   */
  readonly verdict: "supported" | "unsupported" | "contradicted" | "unverifiable"
  /**
   * Share of the claim's (and question's) content words the best one or two
   * evidence sentences hold, 0..1; for a claim of more than a few words, at
   * most twice the share of its own words (the question's alone do not align it).
   */
  readonly alignment: number
  /** Whether that evidence came from the run's tool results (the tool threshold applied). */
  readonly fromTool: boolean
  /**
   * A short answer to the question (little checkable content beside the
   * question's own words): held to at least `answerThreshold`, since what it
   * adds to the question is all it says.
   */
  readonly shortAnswer: boolean
  readonly contradictions: ReadonlyArray<"number" | "entity" | "negation" | "swap" | "antonym">
  /** Weighted share of the claim's checkable content the evidence backs, 0..1. */
  readonly score: number
  /** What the evidence does not back (question words excluded). */
  readonly missing: {
    readonly entities: ReadonlyArray<string>
    readonly numbers: ReadonlyArray<string>
    readonly words: ReadonlyArray<string>
  }
  /** The claim negates what its closest evidence sentence asserts, or the reverse. */
  readonly negationMismatch: boolean
  /** The passages the claim was checked against that share words or numbers with it, best first. */
  readonly evidence: ReadonlyArray<Passage>
}

/** @since 0.1.0 @category models */
export interface Assessment {
  readonly hallucinated: boolean
  /** False when no evidence at all was found: the answer could not be checked. */
  readonly verifiable: boolean
  /** The lowest claim score, 1 when there are no claims. */
  readonly score: number
  readonly claims: ReadonlyArray<ClaimAssessment>
  /** Claims contradicted or unsupported. */
  readonly unsupportedClaims: ReadonlyArray<string>
  /** Claims no evidence speaks to (every claim when there is no evidence at all). */
  readonly unverifiableClaims: ReadonlyArray<string>
}

/** Thresholds and weights. Defaults were chosen on a training split only. @since 0.1.0 @category models */
export interface AssessOptions {
  /** A claim checked against the knowledge base is supported when its score reaches this (default 0.15). */
  readonly claimThreshold?: number | undefined
  /** The same for a claim whose evidence is the run's tool results (default: `claimThreshold` when given, else 0.5). */
  readonly toolClaimThreshold?: number | undefined
  /**
   * The least a short answer to a question (a name or a few words beside the
   * question's own) is held to: what it adds to the question is all it says
   * (default 0.5).
   */
  readonly answerThreshold?: number | undefined
  /**
   * A claim is unverifiable (no finding) when the best one or two evidence
   * sentences share less than this part of its and the question's content
   * words (default 0.2).
   */
  readonly alignmentFloor?: number | undefined
  /** The answer is flagged when more than this share of claims is unsupported (default 0: any). */
  readonly maxUnsupportedRatio?: number | undefined
  /** Weights of a checkable item (defaults: entity 3, number/date 4, word 1). */
  readonly weights?: { readonly entity?: number; readonly number?: number; readonly word?: number } | undefined
  /** Score multiplier lost on a negation mismatch (default 0.5); the mismatch itself is a contradiction. */
  readonly negationPenalty?: number | undefined
  /** A number or date the evidence lacks contradicts the claim whatever its score (default true). */
  readonly strictNumbers?: boolean | undefined
  /** What to answer for claims no evidence speaks to (default "pass": cannot verify is not a finding). */
  readonly whenUnverifiable?: "pass" | "flag" | undefined
}

/** @since 0.1.0 @category models */
export interface Options extends AssessOptions {
  /** Passages retrieved per claim (default 5). */
  readonly retrievalLimit?: number | undefined
}

/**
 * Scores an answer against evidence texts directly, without a knowledge
 * base. Pure.
 *
 * @since 0.1.0 @category scoring
 */
export const assess = (
  input: { readonly question?: string | undefined; readonly answer: string; readonly evidence: ReadonlyArray<string> },
  options?: AssessOptions
): Assessment => assessText(input, resolveOptions(options))

// Claims without checkable content ("Yes.") or fully backed are supported whatever the thresholds.
const settled = (c: ClaimAssessment): boolean =>
  c.verdict === "supported" && c.score === 1 && c.contradictions.length === 0

/**
 * Whether an assessment is flagged under other thresholds (`claimThreshold`,
 * `toolClaimThreshold`, `alignmentFloor`, `whenUnverifiable`,
 * `maxUnsupportedRatio`), from its claims alone: what a threshold sweep needs
 * without re-scoring.
 *
 * @since 0.1.0 @category scoring
 */
export const flaggedAt = (assessment: Assessment, options?: AssessOptions): boolean => {
  const resolved = resolveOptions(options)
  if (!assessment.verifiable) return resolved.whenUnverifiable === "flag" && assessment.claims.length > 0
  const unsupported = assessment.claims.filter((c) => {
    if (settled(c)) return false
    if (c.alignment < resolved.alignmentFloor) return resolved.whenUnverifiable === "flag"
    return c.contradictions.length > 0 || c.score < thresholdOf(c, resolved)
  }).length
  return unsupported > 0 && unsupported / assessment.claims.length > resolved.maxUnsupportedRatio
}

/**
 * How far the rules' verdict is from tipping: the lowest signed distance
 * between a claim's score and its threshold, over the claims the verdict
 * rests on (aligned with evidence, with checkable content). Negative when
 * the answer is flagged: every failing claim would have to pass for it to
 * tip. A claim the evidence contradicts (a number, name, negation or role it
 * lacks) is positive evidence, not a close call: `-Infinity`. `Infinity`
 * when no claim can tip (nothing checkable, or no evidence at all). A model
 * judge is worth asking only inside a small margin.
 *
 * @since 0.1.0 @category scoring
 */
export const margin = (assessment: Assessment, options?: AssessOptions): number => {
  const resolved = resolveOptions(options)
  if (!assessment.verifiable) return Infinity
  let lowest = Infinity
  for (const c of assessment.claims) {
    if (settled(c) || c.alignment < resolved.alignmentFloor) continue
    if (c.contradictions.length > 0) return -Infinity
    lowest = Math.min(lowest, c.score - thresholdOf(c, resolved))
  }
  return lowest
}

/** @since 0.1.0 @category models */
export interface CheckInput {
  readonly question?: string | undefined
  readonly answer: string
  /** Restrict evidence to these knowledge-base documents. */
  readonly scope?: ReadonlyArray<string> | undefined
  /**
   * Sources beside the knowledge base, checked with every claim: e.g. what
   * the run's tools returned, so an answer that repeats a tool's result is
   * supported by it.
   */
  readonly evidence?: ReadonlyArray<string> | undefined
}

/** @since 0.1.0 @category models */
export interface Service {
  /** Retrieves evidence for each claim of the answer and scores it. */
  readonly check: (input: CheckInput) => Effect.Effect<Assessment, KnowledgeBaseError>
}

/** @since 0.1.0 @category tags */
export class HallucinationDetector
  extends Context.Tag("@patinox/validation/HallucinationDetector")<HallucinationDetector, Service>()
{}

/** @since 0.1.0 @category constructors */
export const make = (options?: Options): Effect.Effect<Service, never, KnowledgeBase> =>
  Effect.gen(function*() {
    const kb = yield* KnowledgeBase
    const resolved = resolveOptions(options)
    const limit = options?.retrievalLimit ?? 5

    const check = Effect.fnUntraced(function*(input: CheckInput) {
      const claims = splitClaims(input.answer)
      const evidence = yield* Effect.forEach(claims, (claim) =>
        kb.search(input.question === undefined ? claim : `${claim} ${input.question}`, {
          limit,
          scope: input.scope
        }))
      const extra: ReadonlyArray<Passage> = (input.evidence ?? []).map((text, i) => ({
        docId: `evidence-${i}`,
        passageId: `evidence-${i}#0`,
        text,
        score: 0
      }))
      const fromTools = new Set(extra)
      return assessClaims(
        { question: input.question, claims },
        (_, index) => extra.length === 0 ? evidence[index] ?? [] : [...(evidence[index] ?? []), ...extra],
        resolved,
        // Tool results are judged with their own threshold.
        (passage) => fromTools.has(passage)
      )
    }, Effect.withSpan("HallucinationDetector.check", { captureStackTrace: false }))

    return HallucinationDetector.of({ check })
  })

/** @since 0.1.0 @category layers */
export const layer: Layer.Layer<HallucinationDetector, never, KnowledgeBase> = Layer.effect(HallucinationDetector, make())

/** @since 0.1.0 @category layers */
export const layerWith = (options: Options): Layer.Layer<HallucinationDetector, never, KnowledgeBase> =>
  Layer.effect(HallucinationDetector, make(options))

// ---------------------------------------------------------------------------
// messages for validators
// ---------------------------------------------------------------------------

const describeMissing = (claim: ClaimAssessment): string => {
  const parts: Array<string> = []
  if (claim.missing.numbers.length > 0) parts.push(`numbers/dates ${claim.missing.numbers.join(", ")}`)
  if (claim.missing.entities.length > 0) parts.push(`names ${claim.missing.entities.join(", ")}`)
  if (claim.missing.words.length > 0) parts.push(`terms ${claim.missing.words.slice(0, 6).join(", ")}`)
  if (claim.negationMismatch || claim.contradictions.includes("antonym")) parts.push("the sources say the opposite")
  if (claim.contradictions.includes("swap")) parts.push("the sources give these names the other roles")
  return parts.length === 0 ? "" : ` (not in the sources: ${parts.join("; ")})`
}

/**
 * Feedback for a retry: names each unsupported claim and what the sources
 * lack. Empty when the assessment found nothing to fix.
 *
 * @since 0.1.0 @category messages
 */
export const feedbackFor = (assessment: Assessment): string => {
  if (!assessment.hallucinated) return ""
  if (!assessment.verifiable) {
    return "No sources were found to support this answer. Answer only from the provided sources, or say that you do not know."
  }
  const lines = assessment.claims.filter((c) => !c.supported).map((c) => `- "${c.claim}"${describeMissing(c)}`)
  return [
    "These statements are not supported by the knowledge base:",
    ...lines,
    "Revise the answer to state only what the sources support, or say that you are not sure."
  ].join("\n")
}

/**
 * The answer with an uncertainty note appended naming the unsupported
 * claims, or the unverifiable ones (no source speaks to them), or saying
 * that nothing could be verified; unchanged when every claim is supported.
 *
 * @since 0.1.0 @category messages
 */
export const annotate = (answer: string, assessment: Assessment): string => {
  if (!assessment.verifiable && assessment.claims.length > 0) {
    return `${answer}\n\nNote: this answer could not be verified against the knowledge base.`
  }
  if (!assessment.hallucinated) {
    if (assessment.unverifiableClaims.length === 0) return answer
    const unverifiable = assessment.unverifiableClaims.map((c) => `"${c}"`).join("; ")
    return `${answer}\n\nNote: the sources do not speak to the following, so it could not be verified: ${unverifiable}`
  }
  const listed = assessment.unsupportedClaims.map((c) => `"${c}"`).join("; ")
  return `${answer}\n\nNote: the following could not be verified against the knowledge base and may be inaccurate: ${listed}`
}

// ---------------------------------------------------------------------------
// model judge
// ---------------------------------------------------------------------------

/**
 * The judge's verdict: NLI-style relation of the answer to the evidence.
 *
 * @since 0.1.0 @category schemas
 */
export const JudgeVerdict = Schema.Struct({
  verdict: Schema.Literal("entailed", "contradicted", "neutral"),
  unsupportedClaims: Schema.Array(Schema.String)
})

/** @since 0.1.0 @category models */
export type JudgeVerdict = typeof JudgeVerdict.Type

/** The judge model's reply is not the JSON object asked for. @since 0.1.0 @category errors */
export class JudgeReplyInvalid extends Schema.TaggedError<JudgeReplyInvalid>(
  "@patinox/validation/JudgeReplyInvalid"
)("JudgeReplyInvalid", {
  model: Schema.String,
  reason: Schema.String,
  reply: Schema.String
}) {
  override get message(): string {
    return `The judge model ${this.model} replied with something that is not a verdict: ${this.reason}`
  }
}

const JUDGE_SCHEMA = JSON.stringify({
  type: "object",
  additionalProperties: false,
  required: ["verdict", "unsupportedClaims"],
  properties: {
    verdict: { type: "string", enum: ["entailed", "contradicted", "neutral"] },
    unsupportedClaims: { type: "array", items: { type: "string" } }
  }
})

const JUDGE_INSTRUCTIONS = [
  "You check whether an answer is supported by evidence passages (natural language inference).",
  "verdict: \"entailed\" if every claim in the answer follows from the evidence; \"contradicted\" if any claim",
  "conflicts with the evidence; \"neutral\" if some claim is neither supported nor contradicted.",
  "unsupportedClaims: the claims of the answer, quoted verbatim, that the evidence does not entail.",
  "Use only the evidence, not your own knowledge. Reply with one JSON object and nothing else, matching this JSON schema:",
  JUDGE_SCHEMA
].join("\n")

const decodeVerdict = Schema.decodeUnknown(Schema.parseJson(JudgeVerdict))

// Models like to wrap JSON in a Markdown fence even when told not to.
const unfence = (text: string): string => {
  const fenced = /^\s*```(?:json)?\s*\n?([\s\S]*?)\n?```\s*$/i.exec(text)
  return fenced?.[1] ?? text.trim()
}

/**
 * Asks a model whether the evidence entails the answer. Tools-free; the
 * reply must decode as a `JudgeVerdict`, otherwise `JudgeReplyInvalid`.
 *
 * @since 0.1.0 @category judge
 */
export const judge: (
  model: LanguageModel.Service,
  input: { readonly question?: string | undefined; readonly answer: string; readonly evidence: ReadonlyArray<string> }
) => Effect.Effect<JudgeVerdict, Errors.ModelError | JudgeReplyInvalid> = Effect.fn("HallucinationDetector.judge")(
  function*(model, input) {
    const evidence = input.evidence.length === 0
      ? "(no evidence)"
      : input.evidence.map((text, i) => `[${i + 1}] ${text}`).join("\n")
    const prompt = [
      `Evidence:\n${evidence}`,
      input.question === undefined ? "" : `Question:\n${input.question}`,
      `Answer:\n${input.answer}`
    ].filter((s) => s !== "").join("\n\n")
    const response = yield* model.chat({
      messages: [Message.system(JUDGE_INSTRUCTIONS), Message.user(prompt)],
      tools: [],
      options: { temperature: 0 }
    })
    const reply = response.message.content ?? ""
    return yield* decodeVerdict(unfence(reply)).pipe(
      Effect.mapError((error) =>
        new JudgeReplyInvalid({
          model: response.model,
          reason: ParseResult.TreeFormatter.formatErrorSync(error),
          reply: reply.slice(0, 2_000)
        })
      )
    )
  }
)
