/**
 * Offline jailbreak / prompt-injection detector: normalisation (homoglyphs,
 * invisible characters, spacing and leetspeak tricks, encoded payloads), a
 * catalogue of named signatures, structural signals that do not depend on
 * seen strings, and a hashed n-gram logistic regression, combined into one
 * calibrated score. Pure and synchronous at its core; the Effect
 * constructors only load the committed model file.
 *
 * @since 0.1.0
 */
import type { AgentAction } from "@patinox/core"
import { Context, Effect, Either, Layer, Schema } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { classifierScale, featuresOf } from "./internal/features.js"
import type { Structure } from "./internal/features.js"
import * as Linear from "./internal/linear.js"
import { normalize, rot13Folded } from "./internal/normalize.js"
import type { Normalized } from "./internal/normalize.js"
import { signatures as catalogue } from "./internal/signatures.js"
import type { Signature, SignatureCategory } from "./internal/signatures.js"

/**
 * Attack family.
 *
 * @since 0.1.0
 * @category models
 */
export type Category = SignatureCategory

/**
 * One piece of evidence behind a score.
 *
 * @since 0.1.0
 * @category models
 */
export interface Signal {
  readonly id: string
  readonly kind: "normalization" | "signature" | "structure" | "classifier"
  readonly weight: number
  readonly detail?: string
}

/**
 * A located span of the original text (UTF-16 offsets, `end` exclusive).
 *
 * @since 0.1.0
 * @category models
 */
export interface Span {
  readonly start: number
  readonly end: number
  readonly signature: string
}

/**
 * The verdict on one text.
 *
 * @since 0.1.0
 * @category models
 */
export interface Analysis {
  /** Combined attack score in [0, 1]. */
  readonly score: number
  readonly verdict: "benign" | "suspicious" | "attack"
  readonly category?: Category
  readonly signals: ReadonlyArray<Signal>
  /** Spans of the original text that matched, when they can be located. */
  readonly spans: ReadonlyArray<Span>
}

/**
 * Text with the injected spans cut out.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sanitized {
  readonly text: string
  readonly removed: ReadonlyArray<Span>
}

/**
 * Detector settings. Defaults were tuned on the validation split of the
 * development set for a benign false-positive rate of at most 2 %.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Score at or above which the verdict is "attack". */
  readonly attackThreshold: number
  /** Score at or above which the verdict is at least "suspicious". */
  readonly suspiciousThreshold: number
  /** Scale of the classifier's probability in the noisy-OR (0 disables it). */
  readonly classifierWeight: number
  /** Extra weight when a signature only matched after de-obfuscation. */
  readonly obfuscationWeight: number
  /** Multiplier applied to every signature weight. */
  readonly signatureScale: number
}

/**
 * @since 0.1.0
 * @category models
 */
export const defaultOptions: Options = {
  attackThreshold: 0.65,
  suspiciousThreshold: 0.4,
  classifierWeight: 0.75,
  obfuscationWeight: 0.35,
  signatureScale: 1
}

/**
 * The detector.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly options: Options
  /** Whether a trained classifier is part of the score. */
  readonly hasClassifier: boolean
  /**
   * Scores `text`. `stage` says what the text is: at `tool_result` it is data
   * the agent reads (tool output, a retrieved document), where instructions
   * addressed to the assistant are the attack; elsewhere it is a prompt.
   */
  readonly analyze: (text: string, stage?: AgentAction.Stage) => Analysis
  /**
   * Cuts the offending sentence(s) out of `text`. Returns the text unchanged
   * with nothing removed when it is benign, and `undefined` when the attack
   * cannot be isolated (the rest would still score as an attack, or nothing
   * could be located). `removed` holds the widened spans (whole sentences or
   * lines); those of a first pass index the input, those of a further pass
   * (rare: an attack hidden behind another) index the text after the first cut.
   */
  readonly sanitize: (text: string, stage?: AgentAction.Stage) => Sanitized | undefined
}

/**
 * The stage an evaluation row's `meta.kind` stands for: data an agent reads
 * (tool output, documents, tables, code) is a tool result, the rest user input.
 *
 * @since 0.1.0
 * @category models
 */
export const stageOfKind = (kind: string | undefined): AgentAction.Stage =>
  kind === "tool_output" || kind === "document" || kind === "table" || kind === "table_task" || kind === "code"
    ? "tool_result"
    : "user_input"

/**
 * The model file could not be read or is not a prompt classifier.
 *
 * @since 0.1.0
 * @category errors
 */
export class PromptGuardModelError extends Schema.TaggedError<PromptGuardModelError>(
  "@patinox/validation/PromptGuardModelError"
)("PromptGuardModelError", {
  reason: Schema.String,
  path: Schema.optional(Schema.String)
}) {}

/**
 * The documented signature catalogue (id, description, category, weight).
 *
 * @since 0.1.0
 * @category signatures
 */
export const signatures: ReadonlyArray<{
  readonly id: string
  readonly description: string
  readonly category: Category
  readonly weight: number
}> = catalogue.map(({ category, description, id, weight }) => ({ id, description, category, weight }))

/**
 * Where the committed model lives.
 *
 * @since 0.1.0
 * @category model
 */
export const defaultModelUrl: URL = new URL("../models/prompt-classifier.bin", import.meta.url)

// ---------------------------------------------------------------------------
// matching

const MAX_MATCHES = 8
const SPAN_MAX = 512

interface Hit {
  readonly signature: Signature
  readonly where: string
  readonly spans: Array<readonly [number, number]>
}

const matchPatterns = (sig: Signature, text: string): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  for (const p of sig.patterns) {
    p.lastIndex = 0
    let m: RegExpExecArray | null
    let count = 0
    while ((m = p.exec(text)) !== null && count++ < MAX_MATCHES) {
      out.push([m.index, m.index + m[0].length])
      if (m[0].length === 0) p.lastIndex++
    }
  }
  if (sig.match !== undefined) out.push(...sig.match(text))
  return out
}

const keyphraseHit = (sig: Signature, squashed: string, rot: boolean): boolean => {
  if (sig.keyphrases === undefined) return false
  for (const k of sig.keyphrases) if (squashed.includes(rot ? rot13Folded(k) : k)) return true
  return false
}

/** Maps a `[start, end)` range of the folded text to the original text. */
const toOriginal = (n: Normalized, original: string, start: number, end: number): readonly [number, number] | undefined => {
  if (end <= start) return undefined
  const s = n.map[start]
  const e = n.map[end - 1]
  if (s === undefined || e === undefined) return undefined
  const c = original.charCodeAt(e)
  const endOrig = c >= 0xd800 && c <= 0xdbff ? e + 2 : e + 1
  return [s, Math.min(original.length, endOrig)]
}

const findHits = (n: Normalized): Array<Hit> => {
  const hits: Array<Hit> = []
  const variants: Array<readonly [string, string]> = []
  if (n.collapsed !== n.folded) variants.push(["spacing", n.collapsed])
  if (n.leet !== n.collapsed) variants.push(["leetspeak", n.leet])
  for (const p of n.payloads) variants.push([`${p.kind} payload`, p.text])
  const squashedRot = n.squashed.length <= 16_384
  for (const sig of catalogue) {
    const spans = matchPatterns(sig, n.folded)
    if (spans.length > 0) {
      hits.push({ signature: sig, where: "text", spans })
      continue
    }
    let where: string | undefined
    for (const [name, text] of variants) {
      if (matchPatterns(sig, text).length > 0) {
        where = name
        break
      }
    }
    if (where === undefined && keyphraseHit(sig, n.squashed, false)) where = "separators"
    if (where === undefined && squashedRot && keyphraseHit(sig, n.squashed, true)) where = "rot13"
    if (where !== undefined) hits.push({ signature: sig, where, spans: [] })
  }
  return hits
}

// ---------------------------------------------------------------------------
// scoring

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : Number.isFinite(x) ? x : 0)

const normalizationSignals = (n: Normalized): Array<Signal> => {
  const s = n.signals
  const out: Array<Signal> = []
  const add = (id: string, count: number, weight: number, detail: string) => {
    if (count > 0) out.push({ id, kind: "normalization", weight, detail: `${count} ${detail}` })
  }
  add("tag-characters", s.tagCharacters, 0.5, "invisible Unicode tag characters (hidden ASCII)")
  add("zero-width", s.zeroWidth, s.zeroWidth >= 3 ? 0.05 : 0, "zero-width/invisible characters removed")
  add("bidi-controls", s.bidi, 0.1, "bidirectional control characters removed")
  add("control-characters", s.control, 0, "control characters removed")
  add("invalid-surrogates", s.invalidSurrogates, 0, "lone UTF-16 surrogates dropped")
  add("confusables", s.confusables, 0, "homoglyphs folded to ASCII")
  add("compatibility-forms", s.compatibility, 0, "fullwidth/mathematical/enclosed letters folded")
  add("spaced-letters", s.spacedLetters, 0, "spaced-out letter runs joined")
  add("leetspeak", s.leet, 0, "leetspeak words folded")
  const encoded = n.payloads.filter((p) => p.kind !== "rot13" && p.kind !== "tags").length
  add("encoded-payload", encoded, 0.1, "encoded payload(s) decoded")
  if (s.truncated) out.push({ id: "truncated", kind: "normalization", weight: 0, detail: "only head and tail were scanned" })
  return out
}

const mergeSpans = (spans: ReadonlyArray<Span>): Array<Span> => {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end)
  const out: Array<Span> = []
  for (const s of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && s.start <= last.end) {
      if (s.end > last.end) out[out.length - 1] = { start: last.start, end: s.end, signature: last.signature }
    } else out.push(s)
  }
  return out
}

/** The attack family each structural signal stands for. */
const structureCategory: Readonly<Record<string, Category>> = {
  "adversarial-suffix": "jailbreak",
  "persona-framing": "jailbreak",
  "hidden-harmful-request": "jailbreak",
  "wrapped-harmful-request": "jailbreak",
  "instruction-in-data": "injection",
  "hidden-instruction": "injection",
  "wrapped-instruction": "injection",
  "instruction-after-table": "injection"
}

/**
 * Rule evidence from the structural reading: each fires on the shape of the
 * text, not on any string seen in training.
 */
const structureSignals = (s: Structure): Array<Signal> => {
  const out: Array<Signal> = []
  // Optimised suffixes are appended to prompts; data (code, tables) has its own odd tails.
  if (!s.data && !s.encoded && s.suffix >= 0.5) {
    out.push({
      id: "adversarial-suffix",
      kind: "structure",
      weight: s.suffix >= 0.7 || s.harm > 0 ? 0.7 : 0.45,
      detail: `token-soup tail (score ${s.suffix.toFixed(2)})${s.harm > 0 ? " after a harmful request" : ""}`
    })
  }
  const ev = s.instructions
  const strong = ev.addressed + ev.taskSwitch + ev.forgery + ev.fakeCompletion
  // One phrase addressed to the assistant scores 0.45 (up to rounding) and is enough evidence.
  if (s.data && strong > 0 && ev.score >= 0.45 - 1e-9 && s.code < 0.5) {
    // Fields and cells hold values: one that addresses the reader of the record was written for the model.
    const structured = s.table >= 0.5 || s.record >= 0.5
    out.push({
      id: "instruction-in-data",
      kind: "structure",
      weight: structured ? 0.7 : Math.min(0.55, 0.55 * ev.score),
      detail: `data addresses the assistant (addressed ${ev.addressed}, task switches ${ev.taskSwitch}, forged roles ${ev.forgery}, fake completions ${ev.fakeCompletion})`
    })
  }
  if (s.data && s.table >= 0.5 && s.trailingOrders > 0 && s.code < 0.5) {
    out.push({
      id: "instruction-after-table",
      kind: "structure",
      weight: s.trailingOrders >= 2 ? 0.7 : 0.55,
      detail: `${s.trailingOrders} order(s) to the reader in the tail of a table`
    })
  }
  if (!s.data && s.persona > 0) {
    out.push({
      id: "persona-framing",
      kind: "structure",
      weight: s.personaDetail ? 0.72 : 0.6 * s.persona,
      detail: s.personaDetail
        ? "role-play or hypothetical framing around a sensitive request, with a demand for exhaustive detail"
        : "role-play or hypothetical framing around a sensitive request"
    })
  }
  // An encoded or disguised harmful request is the technique; the same request in plain text is a moderation matter.
  if (!s.data && s.hiddenHarm > 0) {
    out.push({ id: "hidden-harmful-request", kind: "structure", weight: 0.7, detail: "a harmful request that only reads after decoding" })
  }
  if (s.hiddenOrders > 0) {
    out.push({
      id: "hidden-instruction",
      kind: "structure",
      weight: s.hiddenOrders >= 2 ? 0.7 : 0.55,
      detail: "an order that overrides instructions or acts on the user's assets, readable only after decoding"
    })
  }
  if (s.wrapped.embedded > 0 && s.wrapped.harm > 0) {
    out.push({ id: "wrapped-harmful-request", kind: "structure", weight: 0.7, detail: "a text-editing task whose text asks for harmful content" })
  } else if (s.wrapped.embedded > 0 && s.wrapped.orders > 0) {
    out.push({ id: "wrapped-instruction", kind: "structure", weight: 0.55, detail: "a text-editing task whose text is an order to the model" })
  }
  if (s.decoded.length > 0) {
    out.push({ id: "decoded-text", kind: "normalization", weight: 0.1, detail: `${s.decoded.length} encoded passage(s) decoded` })
  }
  return out
}

const AIMED = /\b(?:instructions?|prompts?|assistant|ai|model|chatbot|llm|guidelines|directives|rules|system message)\b/

const makeAnalyzer = (classifier: Linear.Model | undefined, options: Options) => (input: string, stage: AgentAction.Stage = "user_input"): Analysis => {
  const text = typeof input === "string" ? input : ""
  const n = normalize(text)
  const hits = findHits(n)
  const signals: Array<Signal> = normalizationSignals(n)
  const spans: Array<Span> = []
  const catWeight = { jailbreak: 0, injection: 0 }
  const features = featuresOf(text, n, stage)
  signals.push(...structureSignals(features.structure))
  let keep = 1
  let obfuscated = false
  for (const s of signals) {
    keep *= 1 - clamp01(s.weight)
    const c = structureCategory[s.id]
    if (c !== undefined) catWeight[c] += clamp01(s.weight)
  }
  const code = features.structure.data && features.structure.code >= 0.5
  for (const h of hits) {
    // Source code resets commands and removes settings; there a match counts fully only when it names
    // what an injection targets (instructions, prompts, the assistant).
    const damped = code && !h.spans.some(([s, e]) => AIMED.test(n.folded.slice(s, e)))
    const w = clamp01(h.signature.weight * options.signatureScale * (damped ? 0.4 : 1))
    keep *= 1 - w
    catWeight[h.signature.category] += w
    if (h.where !== "text") obfuscated = true
    signals.push({
      id: h.signature.id,
      kind: "signature",
      weight: w,
      detail: h.where === "text" ? h.signature.description : `${h.signature.description} (after ${h.where})`
    })
    for (const [s, e] of h.spans) {
      const o = toOriginal(n, text, s, e)
      if (o !== undefined && o[1] - o[0] <= SPAN_MAX * 4) spans.push({ start: o[0], end: o[1], signature: h.signature.id })
    }
    if (h.where.endsWith("payload")) {
      for (const p of n.payloads) {
        if (p.start >= 0 && h.where.startsWith(p.kind)) spans.push({ start: p.start, end: p.end, signature: h.signature.id })
      }
    }
  }
  if (obfuscated && options.obfuscationWeight > 0) {
    const w = clamp01(options.obfuscationWeight)
    keep *= 1 - w
    signals.push({ id: "obfuscated-attack", kind: "normalization", weight: w, detail: "a signature matched only after de-obfuscation" })
  }
  let classifierCategory: Category | undefined
  let classifierPart = 0
  if (classifier !== undefined && options.classifierWeight > 0) {
    const r = Linear.score(classifier, features.text, features.dense)
    classifierPart = clamp01(options.classifierWeight * classifierScale(features.structure) * r.probability)
    classifierCategory = r.category
    keep *= 1 - classifierPart
    signals.push({ id: "ngram-classifier", kind: "classifier", weight: classifierPart, detail: `p=${r.probability.toFixed(3)}` })
  }
  const score = clamp01(1 - keep)
  const verdict = score >= options.attackThreshold ? "attack" : score >= options.suspiciousThreshold ? "suspicious" : "benign"
  const sigSum = catWeight.jailbreak + catWeight.injection
  const category: Category | undefined = verdict === "benign"
    ? undefined
    : sigSum > 0 && (sigSum >= classifierPart || classifierCategory === undefined)
    ? catWeight.jailbreak >= catWeight.injection ? "jailbreak" : "injection"
    : classifierCategory
  return {
    score,
    verdict,
    ...(category === undefined ? {} : { category }),
    signals,
    spans: mergeSpans(spans)
  }
}

// ---------------------------------------------------------------------------
// sanitising

const BOUNDARY = /[.!?\n]/
const SEARCH = 600

/** Widens a span to the sentence (or line) around it. */
const sentenceOf = (text: string, span: Span): Span => {
  let start = span.start
  const lo = Math.max(0, span.start - SEARCH)
  while (start > lo && !BOUNDARY.test(text.charAt(start - 1))) start--
  if (start === lo && lo > 0) start = span.start
  let end = span.end
  const hi = Math.min(text.length, span.end + SEARCH)
  while (end < hi && !BOUNDARY.test(text.charAt(end))) end++
  if (end === hi && hi < text.length) end = span.end
  else if (end < text.length) end++
  // Take the surrounding quote/bracket characters of a quoted injection too.
  while (end < text.length && /["'”’)\]]/.test(text.charAt(end))) end++
  return { start, end, signature: span.signature }
}

const cut = (text: string, spans: ReadonlyArray<Span>): string => {
  let out = ""
  let at = 0
  for (const s of spans) {
    out += text.slice(at, s.start)
    at = s.end
  }
  out += text.slice(at)
  return out.replace(/[ \t]{2,}/g, " ").replace(/\n{3,}/g, "\n\n").trim()
}

const makeSanitizer = (analyze: (text: string, stage?: AgentAction.Stage) => Analysis, options: Options) => (input: string, stage?: AgentAction.Stage): Sanitized | undefined => {
  const text = typeof input === "string" ? input : ""
  let current = text
  const removed: Array<Span> = []
  for (let round = 0; round < 3; round++) {
    const a = analyze(current, stage)
    if (a.verdict === "benign" || (round > 0 && a.score < options.attackThreshold && a.spans.length === 0)) {
      return round === 0 ? { text, removed: [] } : { text: current, removed }
    }
    if (a.spans.length === 0) return undefined
    const widened = mergeSpans(a.spans.map((s) => sentenceOf(current, s)))
    for (const w of widened) removed.push(w)
    current = cut(current, widened)
  }
  const last = analyze(current, stage)
  return last.verdict === "attack" ? undefined : { text: current, removed }
}

// ---------------------------------------------------------------------------
// constructors

const build = (classifier: Linear.Model | undefined, options?: Partial<Options>): Service => {
  const opts: Options = { ...defaultOptions, ...options }
  const analyze = makeAnalyzer(classifier, opts)
  return { options: opts, hasClassifier: classifier !== undefined, analyze, sanitize: makeSanitizer(analyze, opts) }
}

/**
 * A detector from an already parsed model JSON value (the version-1 format,
 * weights in base64; the committed model is binary, see {@link fromBytes}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromModel = (
  json: unknown,
  options?: Partial<Options>
): Either.Either<Service, PromptGuardModelError> => {
  const model = Linear.fromJson(json)
  if (typeof model === "string") return Either.left(new PromptGuardModelError({ reason: model }))
  return Either.right(build(model, options))
}

/**
 * A detector from the bytes of a model file: the binary format the trainer
 * writes (`prompt-classifier.bin`), or a version-1 JSON model.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromBytes = (
  bytes: Uint8Array,
  options?: Partial<Options>
): Either.Either<Service, PromptGuardModelError> => {
  if (!Linear.isBinary(bytes)) {
    let json: unknown
    try {
      json = JSON.parse(new TextDecoder().decode(bytes))
    } catch {
      return Either.left(new PromptGuardModelError({ reason: "not a model file (neither the binary format nor JSON)" }))
    }
    return fromModel(json, options)
  }
  const model = Linear.fromBytes(bytes)
  if (typeof model === "string") return Either.left(new PromptGuardModelError({ reason: model }))
  return Either.right(build(model, options))
}

/**
 * A detector that uses the signatures and normalisation only (no model).
 *
 * @since 0.1.0
 * @category constructors
 */
export const signaturesOnly = (options?: Partial<Options>): Service => build(undefined, options)

/**
 * Synchronous loader for entry points (scripts, benchmarks): reads and
 * validates the model file (the committed one by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadSync = (
  options?: Partial<Options> & { readonly modelPath?: string | URL }
): Either.Either<Service, PromptGuardModelError> => {
  const where = options?.modelPath ?? defaultModelUrl
  const path = typeof where === "string" ? where : fileURLToPath(where)
  let bytes: Uint8Array
  try {
    bytes = readFileSync(path)
  } catch (cause) {
    return Either.left(new PromptGuardModelError({ reason: cause instanceof Error ? cause.message : String(cause), path }))
  }
  const { modelPath: _ignored, ...rest } = options ?? {}
  return Either.mapLeft(fromBytes(bytes, rest), (e) => new PromptGuardModelError({ reason: e.reason, path }))
}

/**
 * Loads the model file and builds the detector.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Partial<Options> & { readonly modelPath?: string | URL }
): Effect.Effect<Service, PromptGuardModelError> => Effect.suspend(() => loadSync(options))

/**
 * `make()` with the committed model and default options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load: Effect.Effect<Service, PromptGuardModelError> = make()

/**
 * The detector as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class PromptGuard extends Context.Tag("@patinox/validation/PromptGuard")<PromptGuard, Service>() {}

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Partial<Options> & { readonly modelPath?: string | URL }
): Layer.Layer<PromptGuard, PromptGuardModelError> => Layer.effect(PromptGuard, make(options))

/**
 * A model-free detector for tests.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<PromptGuard> = Layer.sync(PromptGuard, () => signaturesOnly())
