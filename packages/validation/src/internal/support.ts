/**
 * Pure support scoring: how much of a claim's checkable content (entities,
 * numbers, dates, content words) the evidence backs. No I/O; the detector
 * service and the offline `assess` both end here.
 *
 * @internal
 */
import type { Assessment, AssessOptions, ClaimAssessment } from "../HallucinationDetector.js"
import type { Passage } from "../KnowledgeBase.js"
import { splitClaims, splitSentences } from "./claims.js"
import {
  contentTokens,
  DEMONYMS,
  extractNumbers,
  MONTH_NAMES,
  NEGATIONS,
  normaliseDates,
  type NumberMention,
  STOPWORDS,
  type Token,
  tokenize
} from "./supportText.js"

/** The options with every default filled in. */
export interface ResolvedOptions {
  readonly claimThreshold: number
  readonly maxUnsupportedRatio: number
  readonly weights: { readonly entity: number; readonly number: number; readonly word: number }
  readonly negationPenalty: number
  readonly strictNumbers: boolean
  readonly whenUnverifiable: "pass" | "flag"
}

/** Defaults chosen on the training split of the development data (see eval/hallucination.ts). */
export const defaultOptions: ResolvedOptions = {
  claimThreshold: 0.85,
  maxUnsupportedRatio: 0,
  weights: { entity: 3, number: 4, word: 1 },
  negationPenalty: 0.5,
  strictNumbers: true,
  whenUnverifiable: "pass"
}

/** Fills in defaults. */
export const resolveOptions = (options: AssessOptions | undefined): ResolvedOptions => ({
  claimThreshold: options?.claimThreshold ?? defaultOptions.claimThreshold,
  maxUnsupportedRatio: options?.maxUnsupportedRatio ?? defaultOptions.maxUnsupportedRatio,
  weights: { ...defaultOptions.weights, ...options?.weights },
  negationPenalty: options?.negationPenalty ?? defaultOptions.negationPenalty,
  strictNumbers: options?.strictNumbers ?? defaultOptions.strictNumbers,
  whenUnverifiable: options?.whenUnverifiable ?? defaultOptions.whenUnverifiable
})

// ---------------------------------------------------------------------------
// evidence
// ---------------------------------------------------------------------------

interface EvidenceSentence {
  readonly stems: ReadonlySet<string>
  readonly negated: boolean
}

/** Everything a claim is checked against, precomputed once per evidence set. */
export interface EvidenceIndex {
  readonly empty: boolean
  readonly norms: ReadonlySet<string>
  readonly stems: ReadonlySet<string>
  readonly numbers: ReadonlyArray<NumberMention>
  readonly sentences: ReadonlyArray<EvidenceSentence>
}

// "No. 1" is a rank, and quoted titles ("Not Ready for Prime Time Players") assert nothing.
const isNegated = (text: string): boolean =>
  tokenize(text.replace(/"[^"]*"|“[^”]*”|[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)+/gu, " ").replace(/\bno\.?\s*\d/gi, " "))
    .some((t) => NEGATIONS.has(t.norm) || t.norm.endsWith("n't"))

/** Indexes evidence passages for claim checks. */
export const indexEvidence = (texts: ReadonlyArray<string>): EvidenceIndex => {
  const norms = new Set<string>()
  const stems = new Set<string>()
  const numbers: Array<NumberMention> = []
  const sentences: Array<EvidenceSentence> = []
  for (const raw of texts) {
    const text = normaliseDates(raw)
    for (const token of tokenize(text.replace(/-/g, " "))) {
      norms.add(token.norm)
      stems.add(token.stem)
      const alias = DEMONYMS.get(token.norm)
      if (alias !== undefined) norms.add(alias)
    }
    // Hyphenated forms count whole too ("M-15", "well-known").
    for (const token of tokenize(text.replace(/-/g, ""))) norms.add(token.norm)
    numbers.push(...extractNumbers(text))
    for (const sentence of splitSentences(text)) {
      const tokens = tokenize(sentence)
      sentences.push({
        stems: new Set(tokens.filter((t) => !STOPWORDS.has(t.norm)).map((t) => t.stem)),
        negated: isNegated(sentence)
      })
    }
  }
  return { empty: texts.every((t) => t.trim() === ""), norms, stems, numbers, sentences }
}

const wordSupported = (norm: string, wordStem: string, evidence: EvidenceIndex): boolean => {
  if (evidence.norms.has(norm) || evidence.stems.has(wordStem)) return true
  // Derivations the stemmer misses ("India"/"Indian", "Canada"/"Canadian").
  if (wordStem.length < 5) return false
  for (const other of evidence.stems) {
    const n = Math.min(other.length, wordStem.length)
    if (n < 5 || Math.abs(other.length - wordStem.length) > 3) continue
    let shared = 0
    while (shared < n && other[shared] === wordStem[shared]) shared++
    if (shared >= Math.max(5, n - 1)) return true
  }
  return false
}

const numberSupported = (claim: NumberMention, evidence: EvidenceIndex): boolean => {
  const overlaps = (e: NumberMention) => e.low <= claim.high && claim.low <= e.high
  if (evidence.numbers.some(overlaps)) return true
  // Small counts are often derived from the evidence: "8 years older".
  if (Number.isInteger(claim.value) && claim.value > 0 && claim.value < 150) {
    const years = evidence.numbers.filter((n) => n.isYear).map((n) => n.value)
    for (const a of years) for (const b of years) if (a - b === claim.value) return true
  }
  return false
}

// ---------------------------------------------------------------------------
// claims
// ---------------------------------------------------------------------------

interface Entity {
  readonly text: string
  readonly tokens: ReadonlyArray<Token>
}

/** What a claim asserts that can be checked. */
export interface ClaimFeatures {
  readonly entities: ReadonlyArray<Entity>
  readonly numbers: ReadonlyArray<NumberMention>
  readonly words: ReadonlyArray<Token>
  readonly allStems: ReadonlySet<string>
  readonly negated: boolean
}

/** What the question already says: it does not count as support. */
export interface QuestionIndex {
  readonly norms: ReadonlySet<string>
  readonly stems: ReadonlySet<string>
  readonly numbers: ReadonlyArray<NumberMention>
}

/** Indexes the question. */
export const indexQuestion = (question: string | undefined): QuestionIndex => {
  const text = normaliseDates(question ?? "")
  const tokens = tokenize(text.replace(/-/g, " "))
  return {
    norms: new Set(tokens.map((t) => t.norm)),
    stems: new Set(tokens.map((t) => t.stem)),
    numbers: extractNumbers(text)
  }
}

const CONNECTORS = new Set(["of", "the", "de", "del", "della", "da", "di", "van", "von", "der", "den", "du", "la", "le", "y", "and", "&", "for", "on", "in", "al", "bin", "ibn"])

const isCapitalised = (raw: string): boolean => /^\p{Lu}/u.test(raw) || (/\p{L}/u.test(raw) && /\d/.test(raw))

const isNumberToken = (token: Token): boolean => /^\d/.test(token.raw)

/** Extracts entities, numbers, dates and content words from one claim. */
export const claimFeatures = (claimText: string, question: QuestionIndex): ClaimFeatures => {
  const text = normaliseDates(claimText)
  const tokens = tokenize(text.replace(/-/g, " "))
  const inEntity = new Set<number>()
  const entities: Array<Entity> = []
  const gapIsSpace = (a: Token, b: Token) => /^[\s"'“”‘’]*$/.test(text.slice(a.end, b.start)) || /^\.\s?$/.test(text.slice(a.end, b.start)) && a.raw.length === 1

  for (let i = 0; i < tokens.length; i++) {
    const first = tokens[i]!
    if (!isCapitalised(first.raw) || isNumberToken(first)) continue
    let j = i + 1
    let last = i
    while (j < tokens.length) {
      const t = tokens[j]!
      if (!gapIsSpace(tokens[j - 1]!, t)) break
      if (isCapitalised(t.raw) && !isNumberToken(t)) {
        last = j
        j++
      } else if (CONNECTORS.has(t.norm) && j + 1 < tokens.length && isCapitalised(tokens[j + 1]!.raw) && gapIsSpace(t, tokens[j + 1]!)) {
        j++
      } else break
    }
    const span = tokens.slice(i, last + 1)
    const meaningful = span.filter((t) => !STOPWORDS.has(t.norm) && !CONNECTORS.has(t.norm) && !MONTH_NAMES.has(t.norm))
    const sentenceInitial = i === 0 || /[.!?:]\s*["'“]?\s*$/.test(text.slice(0, first.start))
    const months = span.filter((t) => MONTH_NAMES.has(t.norm))
    // A lone capitalised word opening a sentence is usually just a word.
    const isEntity = meaningful.length > 1 || (meaningful.length === 1 && (!sentenceInitial || span.length > 1 || /^\p{Lu}{2,}$/u.test(meaningful[0]!.raw)))
    if (isEntity || months.length > 0) {
      for (let k = i; k <= last; k++) inEntity.add(k)
      const fresh = [...meaningful, ...months].filter((t) => !question.norms.has(t.norm) && !question.stems.has(t.stem))
      if (fresh.length > 0 && (isEntity || months.length > 0)) {
        entities.push({ text: span.map((t) => t.raw).join(" "), tokens: fresh })
      }
    }
    i = last
  }

  const numberTokens = new Set<number>()
  const numbers = extractNumbers(text).filter((n) => {
    tokens.forEach((t, k) => {
      if (t.start >= n.start && t.end <= n.end) numberTokens.add(k)
    })
    return !question.numbers.some((q) => q.low <= n.high && n.low <= q.high)
  })

  const words = tokens.filter((t, k) =>
    !inEntity.has(k) &&
    !numberTokens.has(k) &&
    !isNumberToken(t) &&
    t.norm.length > 1 &&
    !STOPWORDS.has(t.norm) &&
    !NEGATIONS.has(t.norm) &&
    !question.norms.has(t.norm) &&
    !question.stems.has(t.stem)
  )
  const unique = new Map<string, Token>()
  for (const w of words) if (!unique.has(w.stem)) unique.set(w.stem, w)

  return {
    entities,
    numbers,
    words: [...unique.values()],
    allStems: new Set(contentTokens(text).filter((t) => !isNumberToken(t)).map((t) => t.stem)),
    negated: isNegated(text)
  }
}

/** The support score of one claim against one evidence index. */
export interface ClaimScore {
  readonly score: number
  readonly weight: number
  readonly missing: {
    readonly entities: ReadonlyArray<string>
    readonly numbers: ReadonlyArray<string>
    readonly words: ReadonlyArray<string>
  }
  readonly negationMismatch: boolean
  readonly supported: boolean
}

/** Scores one claim: the weighted share of its checkable content the evidence backs. */
export const scoreClaim = (features: ClaimFeatures, evidence: EvidenceIndex, options: ResolvedOptions): ClaimScore => {
  const { weights } = options
  let total = 0
  let backed = 0
  const missingEntities: Array<string> = []
  const missingNumbers: Array<string> = []
  const missingWords: Array<string> = []

  for (const entity of features.entities) {
    const found = entity.tokens.filter((t) => wordSupported(t.norm, t.stem, evidence)).length
    total += weights.entity
    backed += weights.entity * (found / entity.tokens.length)
    if (found < entity.tokens.length) missingEntities.push(entity.text)
  }
  for (const n of features.numbers) {
    total += weights.number
    if (numberSupported(n, evidence)) backed += weights.number
    else missingNumbers.push(n.text)
  }
  for (const w of features.words) {
    total += weights.word
    if (wordSupported(w.norm, w.stem, evidence)) backed += weights.word
    else missingWords.push(w.raw)
  }

  // Negation: compare with the evidence sentence that says most of the same things.
  let negationMismatch = false
  // Too few words to tell which evidence sentence the claim is about.
  if (features.allStems.size >= 3) {
    let best: EvidenceSentence | undefined
    let bestOverlap = 0
    for (const sentence of evidence.sentences) {
      let overlap = 0
      for (const s of features.allStems) if (sentence.stems.has(s)) overlap++
      if (overlap > bestOverlap) {
        bestOverlap = overlap
        best = sentence
      }
    }
    negationMismatch = best !== undefined && bestOverlap / features.allStems.size >= 0.6 && best.negated !== features.negated
  }

  let score = total === 0 ? 1 : backed / total
  if (negationMismatch) score *= 1 - options.negationPenalty
  const supported = score >= options.claimThreshold && !(options.strictNumbers && missingNumbers.length > 0)
  return {
    score,
    weight: total,
    missing: { entities: missingEntities, numbers: missingNumbers, words: missingWords },
    negationMismatch,
    supported
  }
}

// ---------------------------------------------------------------------------
// answers
// ---------------------------------------------------------------------------

// Content words and numbers, single digits included: "3 + 4 = 8" and a tool's "3 + 4 = 7" are about the same sum.
const overlapStems = (text: string): Set<string> =>
  new Set(tokenize(text).filter((t) => (t.norm.length > 1 || /^\d/.test(t.norm)) && !STOPWORDS.has(t.norm)).map((t) => t.stem))

const evidenceOrder = (claim: string, passages: ReadonlyArray<Passage>): Array<Passage> => {
  const claimStems = overlapStems(claim)
  const overlap = (p: Passage) => {
    const stems = overlapStems(p.text)
    let n = 0
    for (const s of claimStems) if (stems.has(s)) n++
    return n
  }
  return passages
    .map((p) => [p, overlap(p)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([p]) => p)
}

/**
 * Scores an answer whose claims have each been given their evidence.
 * `evidenceFor` is called once per claim.
 */
export const assessClaims = (
  input: { readonly question?: string | undefined; readonly claims: ReadonlyArray<string> },
  evidenceFor: (claim: string, index: number) => ReadonlyArray<Passage>,
  options: ResolvedOptions
): Assessment => {
  const question = indexQuestion(input.question)
  const cache = new Map<ReadonlyArray<Passage>, EvidenceIndex>()
  let anyEvidence = false
  const claims: Array<ClaimAssessment> = input.claims.map((claim, index) => {
    const passages = evidenceFor(claim, index)
    let evidence = cache.get(passages)
    if (evidence === undefined) {
      evidence = indexEvidence(passages.map((p) => p.text))
      cache.set(passages, evidence)
    }
    if (!evidence.empty) anyEvidence = true
    const features = claimFeatures(claim, question)
    const scored = scoreClaim(features, evidence, options)
    return {
      claim,
      supported: scored.supported,
      score: scored.score,
      missing: scored.missing,
      negationMismatch: scored.negationMismatch,
      evidence: evidenceOrder(claim, passages)
    }
  })
  const unsupported = claims.filter((c) => !c.supported)
  const score = claims.reduce((min, c) => Math.min(min, c.score), 1)
  // No claims (only boilerplate, or "yes"): nothing to verify, nothing wrong.
  if (!anyEvidence && claims.length > 0) {
    return {
      hallucinated: options.whenUnverifiable === "flag" && claims.length > 0,
      verifiable: false,
      score,
      claims,
      unsupportedClaims: unsupported.map((c) => c.claim)
    }
  }
  const ratio = claims.length === 0 ? 0 : unsupported.length / claims.length
  return {
    hallucinated: unsupported.length > 0 && ratio > options.maxUnsupportedRatio,
    verifiable: true,
    score,
    claims,
    unsupportedClaims: unsupported.map((c) => c.claim)
  }
}

/** Splits and scores an answer against fixed evidence texts. */
export const assessText = (
  input: { readonly question?: string | undefined; readonly answer: string; readonly evidence: ReadonlyArray<string> },
  options: ResolvedOptions
): Assessment => {
  const passages: ReadonlyArray<Passage> = input.evidence.map((text, i) => ({
    docId: `evidence-${i}`,
    passageId: `evidence-${i}#0`,
    text,
    score: 0
  }))
  return assessClaims({ question: input.question, claims: splitClaims(input.answer) }, () => passages, options)
}
