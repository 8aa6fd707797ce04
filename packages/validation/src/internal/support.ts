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
  ACRONYMS,
  DEMONYMS,
  extractNumbers,
  MONTH_NAMES,
  NEGATIONS,
  OPPOSITE_SIDES,
  type Side,
  normaliseDates,
  type NumberMention,
  STOPWORDS,
  stem,
  type Token,
  tokenize
} from "./supportText.js"

/** The options with every default filled in. */
export interface ResolvedOptions {
  readonly claimThreshold: number
  readonly toolClaimThreshold: number
  readonly answerThreshold: number
  readonly alignmentFloor: number
  readonly maxUnsupportedRatio: number
  readonly weights: { readonly entity: number; readonly number: number; readonly word: number }
  readonly negationPenalty: number
  readonly strictNumbers: boolean
  readonly whenUnverifiable: "pass" | "flag"
}

// The knowledge-base threshold is the one every leave-one-source-out fit on the
// development sources chose. Short tool results sit between a QA passage (whose
// own best threshold is higher) and a document; a high one rejects correct short claims.
const CLAIM_THRESHOLD = 0.15
const TOOL_CLAIM_THRESHOLD = 0.5
const ANSWER_THRESHOLD = 0.5
// A claim this light (two names, or a handful of words) beside the question is a short answer.
const SHORT_ANSWER_WEIGHT = 6
const ALIGNMENT_FLOOR = 0.2

/** Defaults chosen on the training split of the development data (see eval/hallucination.ts). */
export const defaultOptions: ResolvedOptions = {
  claimThreshold: CLAIM_THRESHOLD,
  toolClaimThreshold: TOOL_CLAIM_THRESHOLD,
  answerThreshold: ANSWER_THRESHOLD,
  alignmentFloor: ALIGNMENT_FLOOR,
  maxUnsupportedRatio: 0,
  weights: { entity: 3, number: 4, word: 1 },
  negationPenalty: 0.5,
  strictNumbers: true,
  whenUnverifiable: "pass"
}

/**
 * The threshold a claim is held to: the tool threshold when its evidence is
 * the run's tool results; for a short answer to a question, at least the
 * answer threshold; else the claim threshold.
 */
export const thresholdOf = (
  claim: { readonly fromTool: boolean; readonly shortAnswer: boolean },
  options: ResolvedOptions
): number =>
  claim.fromTool
    ? options.toolClaimThreshold
    : claim.shortAnswer
    ? Math.max(options.claimThreshold, options.answerThreshold)
    : options.claimThreshold

/** Fills in defaults. */
export const resolveOptions = (options: AssessOptions | undefined): ResolvedOptions => ({
  claimThreshold: options?.claimThreshold ?? defaultOptions.claimThreshold,
  toolClaimThreshold: options?.toolClaimThreshold ?? options?.claimThreshold ?? defaultOptions.toolClaimThreshold,
  answerThreshold: options?.answerThreshold ?? defaultOptions.answerThreshold,
  alignmentFloor: options?.alignmentFloor ?? defaultOptions.alignmentFloor,
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
  /** Normalised tokens in order, for word-order checks. */
  readonly norms: ReadonlyArray<string>
  readonly negated: boolean
  /** Stems of the content words a negation governs (the next few words after it). */
  readonly negatedHeads: ReadonlySet<string>
  /** Words (not negated) on one side of an opposite pair, with the words around them. */
  readonly opposites: ReadonlyArray<SideMention>
  /** From the run's tool results rather than the knowledge base. */
  readonly tool: boolean
}

/** Everything a claim is checked against, precomputed once per evidence set. */
export interface EvidenceIndex {
  readonly empty: boolean
  readonly norms: ReadonlySet<string>
  readonly stems: ReadonlySet<string>
  readonly numbers: ReadonlyArray<NumberMention>
  /** Stems of the words right after a number: what the evidence counts ("two turbines"). */
  readonly counted: ReadonlySet<string>
  readonly sentences: ReadonlyArray<EvidenceSentence>
  /** The first letter of every word, in order: where an acronym's words are spelled out ("year over year"). */
  readonly initials: string
  /** The acronyms of the names the evidence uses ("us" for "American"). */
  readonly aliases: ReadonlySet<string>
}

// "No. 1" is a rank, and quoted titles ("Not Ready for Prime Time Players") assert nothing.
const isNegated = (text: string): boolean =>
  tokenize(text.replace(/"[^"]*"|“[^”]*”|[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)+/gu, " ").replace(/\bno\.?\s*\d/gi, " "))
    .some((t) => NEGATIONS.has(t.norm) || t.norm.endsWith("n't"))

const NEGATION_SCOPE = 3

// The least share of a claim's topic its sentence must hold for the claim's own "not" to contradict it.
const CLAIM_DENIES_SHARE = 0.4

// A sentence that shares this much of the claim's topic is about the same thing.
const OPPOSITE_SHARE = 0.3

// Claims with at most this many content words may align through the question's words alone.
const FRAGMENT_STEMS = 4

/** The content words right after a negation: what "not" denies ("No. 1" is a rank). */
export const negatedHeads = (tokens: ReadonlyArray<Token>): Set<string> => {
  const heads = new Set<string>()
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (!(NEGATIONS.has(t.norm) || t.norm.endsWith("n't"))) continue
    if (t.norm === "no" && /^\d/.test(tokens[i + 1]?.raw ?? "")) continue
    for (let j = i + 1; j < Math.min(tokens.length, i + 1 + NEGATION_SCOPE); j++) {
      const w = tokens[j]!
      if (w.norm.length > 1 && !STOPWORDS.has(w.norm) && !NEGATIONS.has(w.norm)) heads.add(w.stem)
    }
  }
  return heads
}

/** A word on one side of an opposite pair ("rose" / "fell"), and the content words around it. */
export interface SideMention extends Side {
  readonly stem: string
  /** The word before it, for units: the number they count. */
  readonly before: string
  readonly context: ReadonlySet<string>
}

// Content words on each side of an opposite that say what it is about.
const CONTEXT_WORDS = 3

/**
 * The words of a text that stand on a side of an opposite pair, leaving out
 * negated ones and parts of hyphenated compounds ("drop-through").
 */
const sideMentions = (text: string, tokens: ReadonlyArray<Token>, negated: ReadonlySet<string>): Array<SideMention> => {
  const mentions: Array<SideMention> = []
  tokens.forEach((t, i) => {
    const sides = OPPOSITE_SIDES.get(t.norm)
    if (sides === undefined || negated.has(t.stem) || text[t.start - 1] === "-" || text[t.end] === "-") return
    const context = new Set<string>()
    const isContext = (w: Token) => w.norm.length > 1 && !STOPWORDS.has(w.norm) && !OPPOSITE_SIDES.has(w.norm)
    // The nearest content words on each side, however many function words sit between.
    for (const step of [-1, 1]) {
      let found = 0
      for (let j = i + step; j >= 0 && j < tokens.length && found < CONTEXT_WORDS; j += step) {
        if (isContext(tokens[j]!)) {
          context.add(tokens[j]!.stem)
          found++
        }
      }
    }
    const before = tokens[i - 1]?.norm ?? ""
    for (const side of sides) mentions.push({ ...side, stem: t.stem, before, context })
  })
  return mentions
}

/** Indexes evidence passages for claim checks. */
export const indexEvidence = (texts: ReadonlyArray<string>, isTool: (index: number) => boolean = () => false): EvidenceIndex => {
  const norms = new Set<string>()
  const stems = new Set<string>()
  const numbers: Array<NumberMention> = []
  const counted = new Set<string>()
  const sentences: Array<EvidenceSentence> = []
  const initials: Array<string> = []
  const aliases = new Set<string>()
  for (const [index, raw] of texts.entries()) {
    const text = normaliseDates(raw)
    const tool = isTool(index)
    const tokens = tokenize(text.replace(/-/g, " "))
    const mentions = extractNumbers(text)
    for (const n of mentions) {
      const next = tokens.find((t) => t.start >= n.end)
      if (next !== undefined) counted.add(next.stem)
    }
    for (const token of tokens) {
      norms.add(token.norm)
      stems.add(token.stem)
      const alias = DEMONYMS.get(token.norm)
      if (alias !== undefined) norms.add(alias)
      for (const acronym of ACRONYMS.get(token.norm) ?? []) {
        norms.add(acronym)
        aliases.add(acronym)
      }
    }
    initials.push(tokens.map((t) => t.norm[0] ?? "").join(""))
    // Hyphenated and dotted forms count whole too ("M-15", "well-known", "U.K.").
    for (const token of tokenize(text.replace(/-/g, "").replace(/\b(\p{L})\.(?=\p{L}\b)/gu, "$1"))) norms.add(token.norm)
    numbers.push(...mentions)
    for (const sentence of splitSentences(text)) {
      const tokens = tokenize(sentence)
      const heads = negatedHeads(tokens)
      sentences.push({
        stems: new Set(tokens.filter((t) => !STOPWORDS.has(t.norm)).map((t) => t.stem)),
        norms: tokens.map((t) => t.norm),
        negated: isNegated(sentence),
        negatedHeads: heads,
        opposites: sideMentions(sentence, tokens, heads),
        tool
      })
    }
  }
  return {
    empty: texts.every((t) => t.trim() === ""),
    norms,
    stems,
    numbers,
    counted,
    sentences,
    initials: initials.join(" "),
    aliases
  }
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

/**
 * An acronym ("U.K.", "YoY", "NFL") the evidence writes as itself, as a name
 * it stands for ("British"), or spelled out ("year over year"; three letters
 * at least, fewer match by chance).
 */
const acronymSupported = (entity: Entity, evidence: EvidenceIndex): boolean => {
  const { tokens } = entity
  const letters = tokens.every((t) => t.norm.length === 1)
    ? tokens.map((t) => t.norm).join("")
    : tokens.length === 1 && /^\p{Lu}[\p{L}]{1,5}$/u.test(tokens[0]!.raw) && /\p{Lu}.*\p{Lu}/u.test(tokens[0]!.raw)
    ? tokens[0]!.norm
    : ""
  if (letters.length < 2) {
    // A name spelled out whose acronym the evidence stands for: "United States" for "American".
    const initials = tokens.map((t) => t.norm[0] ?? "").join("")
    return tokens.length >= 2 && evidence.aliases.has(initials)
  }
  return evidence.norms.has(letters) || (letters.length >= 3 && evidence.initials.includes(letters))
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
  /** The stem of the word after each number, if any. */
  readonly countedBy: ReadonlyMap<NumberMention, string>
  readonly words: ReadonlyArray<Token>
  readonly allStems: ReadonlySet<string>
  /** The claim's and the question's content stems: what the claim is about, to find its evidence sentence. */
  readonly topicStems: ReadonlySet<string>
  readonly negated: boolean
  readonly negatedHeads: ReadonlySet<string>
  /** A question was asked: the claim answers it. */
  readonly answersQuestion: boolean
  /** Words (not negated) on one side of an opposite pair, with the words around them. */
  readonly opposites: ReadonlyArray<SideMention>
  readonly stems: ReadonlySet<string>
  readonly norms: ReadonlySet<string>
}

/** What the question already says: it does not count as support. */
export interface QuestionIndex {
  readonly contentStems: ReadonlySet<string>
  readonly norms: ReadonlySet<string>
  readonly stems: ReadonlySet<string>
  readonly numbers: ReadonlyArray<NumberMention>
}

/** Indexes the question. */
export const indexQuestion = (question: string | undefined): QuestionIndex => {
  const text = normaliseDates(question ?? "")
  const tokens = tokenize(text.replace(/-/g, " "))
  return {
    contentStems: new Set(contentTokens(text).filter((t) => !isNumberToken(t)).map((t) => t.stem)),
    norms: new Set(tokens.map((t) => t.norm)),
    stems: new Set(tokens.map((t) => t.stem)),
    numbers: extractNumbers(text)
  }
}

const CONNECTORS = new Set(["of", "the", "de", "del", "della", "da", "di", "van", "von", "der", "den", "du", "la", "le", "y", "and", "&", "for", "on", "in", "al", "bin", "ibn"])

const PRONOUN_START = /^\s*(?:it|its|he|his|she|her|they|their|this|these|those|there)\b/i

// Sentence adverbs that open a sentence before a comma: "Later, ...", "However, ...".
const OPENERS = new Set([
  "later", "then", "however", "meanwhile", "finally", "eventually", "also", "still", "afterwards", "afterward",
  "overall", "additionally", "furthermore", "moreover", "instead", "yesterday", "today", "tomorrow", "first",
  "second", "third", "next", "lastly", "therefore", "thus", "hence", "besides", "otherwise", "nevertheless",
  "nonetheless", "again", "now", "here", "there", "yes", "no", "sure", "ok", "okay", "well", "so", "meanwhile",
  "consequently", "ultimately", "initially", "originally", "previously", "recently", "currently", "again", "indeed"
])

// Names with a capital inside count too: "fMRI", "iPhone", "eBay".
const isCapitalised = (raw: string): boolean =>
  /^\p{Lu}/u.test(raw) || /^\p{Ll}+\p{Lu}/u.test(raw) || (/\p{L}/u.test(raw) && /\d/.test(raw))

const isNumberToken = (token: Token): boolean => /^\d/.test(token.raw)

/** Extracts entities, numbers, dates and content words from one claim. */
export const claimFeatures = (
  claimText: string,
  question: QuestionIndex,
  previous?: ClaimFeatures | undefined
): ClaimFeatures => {
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
    // ... unless it stands alone or before a comma: "Delhi.", "Mumbai, the ...".
    const standsAlone = /^\s*(?:[,.;:!?]|$)/.test(text.slice(tokens[last]!.end)) && !OPENERS.has(first.norm) &&
      !first.norm.endsWith("ly")
    const isEntity = meaningful.length > 1 ||
      (meaningful.length === 1 &&
        (!sentenceInitial || span.length > 1 || standsAlone || /^\p{Lu}{2,}$/u.test(meaningful[0]!.raw)))
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

  const countedBy = new Map<NumberMention, string>()
  for (const n of numbers) {
    const next = tokens.find((t) => t.start >= n.end)
    if (next !== undefined) countedBy.set(n, next.stem)
  }

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

  const heads = negatedHeads(tokenize(text))
  const allStems = new Set(contentTokens(text).filter((t) => !isNumberToken(t)).map((t) => t.stem))
  return {
    entities,
    numbers,
    countedBy,
    words: [...unique.values()],
    allStems,
    // "It was built by ..." is about what the claim before it was about.
    // Numbers align too: "17 + 25 = 42" is about the tool result that holds 17, 25 and 42.
    topicStems: new Set([
      ...allStems,
      ...tokens.filter(isNumberToken).map((t) => t.stem),
      ...question.contentStems,
      ...(previous !== undefined && PRONOUN_START.test(claimText) ? previous.allStems : [])
    ]),
    negated: isNegated(text),
    negatedHeads: heads,
    answersQuestion: question.contentStems.size > 0,
    opposites: sideMentions(text.replace(/-/g, " "), tokens, heads),
    stems: new Set(tokens.map((t) => t.stem)),
    norms: new Set(tokens.map((t) => t.norm))
  }
}

/** What a claim asserts that an aligned evidence sentence contradicts. */
export type Contradiction = "number" | "entity" | "negation" | "swap" | "antonym"

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
  /**
   * Share of the claim's topic the best one or two evidence sentences share,
   * 0..1; for a full sentence at most twice the share of its own words.
   */
  readonly alignment: number
  /** Whether the best-aligned evidence came from the run's tool results. */
  readonly fromTool: boolean
  /** A short answer to the question: what it adds to the question is all it says. */
  readonly shortAnswer: boolean
  readonly contradictions: ReadonlyArray<Contradiction>
  readonly verdict: "supported" | "unsupported" | "contradicted" | "unverifiable"
  readonly supported: boolean
}

const overlapOf = (stems: ReadonlySet<string>, sentence: EvidenceSentence): number => {
  let n = 0
  for (const s of stems) if (sentence.stems.has(s)) n++
  return n
}

/** The evidence sentence sharing most of the claim's topic, and how much the best two share together. */
const align = (
  features: ClaimFeatures,
  evidence: EvidenceIndex
): {
  readonly best: EvidenceSentence | undefined
  readonly bestShare: number
  readonly second: EvidenceSentence | undefined
  readonly secondShare: number
  readonly share: number
  readonly ownShare: number
} => {
  const size = features.topicStems.size
  if (size === 0 || evidence.sentences.length === 0) {
    return { best: undefined, bestShare: 0, second: undefined, secondShare: 0, share: 0, ownShare: 0 }
  }
  let best: EvidenceSentence | undefined
  let second: EvidenceSentence | undefined
  let bestOverlap = 0
  let secondOverlap = 0
  for (const sentence of evidence.sentences) {
    const overlap = overlapOf(features.topicStems, sentence)
    if (overlap > bestOverlap) {
      second = best
      secondOverlap = bestOverlap
      best = sentence
      bestOverlap = overlap
    } else if (overlap > secondOverlap) {
      second = sentence
      secondOverlap = overlap
    }
  }
  // A claim often merges two sentences of its source.
  let union = 0
  let own = 0
  for (const s of features.topicStems) {
    if (best?.stems.has(s) === true || second?.stems.has(s) === true) {
      union++
      if (features.allStems.has(s)) own++
    }
  }
  return { best, bestShare: bestOverlap / size, second, secondShare: secondOverlap / size, share: union / size, ownShare: features.allStems.size === 0 ? 1 : own / features.allStems.size }
}

/**
 * The claim denies a word its evidence sentence asserts, or asserts a word
 * the sentence denies. Local to the negated words, so "X, but not Y" is not
 * read as denying X.
 */
const negationDiffers = (features: ClaimFeatures, sentence: EvidenceSentence): boolean => {
  for (const head of features.negatedHeads) {
    if (sentence.stems.has(head) && !sentence.negatedHeads.has(head)) return true
  }
  for (const head of sentence.negatedHeads) {
    if (features.stems.has(head) && !features.negatedHeads.has(head) && features.allStems.has(head)) return true
  }
  return false
}

/**
 * The claim says one side of an opposite pair ("rose", "approved") where its
 * evidence sentence says the other ("fell", "rejected") about the same thing:
 * a word next to each is shared. A sentence that has both sides ("costs fell
 * while sales rose") decides nothing, nor does a claim that has both.
 */
const oppositeOf = (features: ClaimFeatures, sentence: EvidenceSentence, evidence: EvidenceIndex): boolean => {
  const has = (mentions: ReadonlyArray<SideMention>, side: Side) =>
    mentions.some((m) => m.group === side.group && m.side === side.side)
  for (const mine of features.opposites) {
    if (has(sentence.opposites, mine)) continue
    // A relative or a unit the evidence names somewhere is likely the right one, said of another part.
    if (mine.kind !== "opposite" && evidence.stems.has(mine.stem)) continue
    for (const theirs of sentence.opposites) {
      if (theirs.group !== mine.group || theirs.side === mine.side || has(features.opposites, theirs)) continue
      if (mine.kind === "unit" && (mine.before !== theirs.before || extractNumbers(mine.before).length === 0)) continue
      for (const w of mine.context) if (theirs.context.has(w)) return true
    }
  }
  return false
}

// Prefixes that turn a word into its opposite ("unidentified", "indirect", "illegal"). The rest must be
// five letters at least: "import", "income" and "display" are not the opposites of "port", "come", "play".
const NEGATING_PREFIX = /^(?:un|non|dis|il|ir|im|in)(?=\p{L}{5,}$)/u

/**
 * The claim says a word its evidence sentence has with a negating prefix, or
 * the other way round ("identified" against "unidentified"); the prefixed
 * form is nowhere in the other text.
 */
const prefixFlipped = (features: ClaimFeatures, sentence: EvidenceSentence, evidence: EvidenceIndex): boolean => {
  const flips = (norm: string, other: ReadonlySet<string>, otherHasNorm: (n: string) => boolean): boolean => {
    const prefix = NEGATING_PREFIX.exec(norm)
    if (prefix === null || otherHasNorm(norm)) return false
    return other.has(stem(norm.slice(prefix[0].length)))
  }
  for (const w of features.words) if (flips(w.norm, sentence.stems, (n) => evidence.norms.has(n))) return true
  for (const n of sentence.norms) if (flips(n, features.stems, (m) => features.norms.has(m))) return true
  return false
}

/**
 * Two names of the claim that its evidence sentence also holds, in the
 * other order around the same verb: "A acquired B" against "B acquired A".
 * Passives ("by") are left alone: they reverse the order legitimately.
 */
const roleSwapped = (claimText: string, features: ClaimFeatures, sentence: EvidenceSentence): boolean => {
  if (features.entities.length < 2) return false
  const claimNorms = tokenize(claimText).map((t) => t.norm)
  if (claimNorms.includes("by") || sentence.norms.includes("by")) return false
  // Initials ("U.K.") are not names to order.
  const heads = features.entities.map((e) => e.tokens[0]!.norm).filter((h) => h.length > 1)
  for (let i = 0; i < heads.length; i++) {
    for (let j = i + 1; j < heads.length; j++) {
      const a = heads[i]!, b = heads[j]!
      if (a === b) continue
      const ca = claimNorms.indexOf(a), cb = claimNorms.indexOf(b)
      const sa = sentence.norms.indexOf(a), sb = sentence.norms.indexOf(b)
      if (ca < 0 || cb < 0 || sa < 0 || sb < 0 || ca > cb || sa < sb) continue
      // The same content word between them in both: the relation is the same, its roles reversed.
      const between = new Set(claimNorms.slice(ca + 1, cb).filter((w) => w.length > 2 && !STOPWORDS.has(w)))
      if (sentence.norms.slice(sb + 1, sa).some((w) => between.has(w))) return true
    }
  }
  return false
}

/**
 * Scores one claim: the weighted share of its checkable content the evidence
 * backs, what an aligned evidence sentence contradicts, and the verdict:
 * unverifiable when no evidence sentence speaks to the claim's topic,
 * contradicted on a number, name, negation or role that the aligned evidence
 * does not share, unsupported when too little of it is backed.
 */
export const scoreClaim = (
  features: ClaimFeatures,
  evidence: EvidenceIndex,
  options: ResolvedOptions,
  claimText = ""
): ClaimScore => {
  const { weights } = options
  let total = 0
  let backed = 0
  const missingEntities: Array<string> = []
  const missingNumbers: Array<string> = []
  let missingCounts = 0
  const missingWords: Array<string> = []

  for (const entity of features.entities) {
    const found = acronymSupported(entity, evidence)
      ? entity.tokens.length
      : entity.tokens.filter((t) => wordSupported(t.norm, t.stem, evidence)).length
    total += weights.entity
    backed += weights.entity * (found / entity.tokens.length)
    if (found < entity.tokens.length) missingEntities.push(entity.text)
  }
  for (const n of features.numbers) {
    total += weights.number
    if (numberSupported(n, evidence)) backed += weights.number
    else {
      missingNumbers.push(n.text)
      const noun = features.countedBy.get(n)
      if (n.value <= 12 && !/\d/.test(n.text) && (noun === undefined || !evidence.counted.has(noun))) missingCounts++
    }
  }
  for (const w of features.words) {
    total += weights.word
    if (wordSupported(w.norm, w.stem, evidence)) backed += weights.word
    else missingWords.push(w.raw)
  }

  const { best, bestShare, ownShare, second, secondShare, share } = align(features, evidence)
  // The question's words align any claim with the passages found for it; a full
  // sentence must also align by its own words. A short fragment ("Delhi, in India")
  // only means something with the question.
  const alignment = features.allStems.size <= FRAGMENT_STEMS ? share : Math.min(share, 2 * ownShare)
  const aligned = alignment >= options.alignmentFloor
  // Negation: compare with the evidence sentence that says most of the same things;
  // too few words and it is unclear which sentence the claim is about.
  // A summary rarely adds a "not" its source lacks when paraphrasing, so the claim's own denial needs less alignment.
  const denies = (sentence: EvidenceSentence | undefined, share: number): boolean =>
    sentence !== undefined && (share >= 0.5 || (features.negated && share >= CLAIM_DENIES_SHARE)) &&
    sentence.negated !== features.negated && negationDiffers(features, sentence)
  const negationMismatch = features.allStems.size >= 3 && denies(best, bestShare)
  const contradictions: Array<Contradiction> = []
  // A small count in words ("two friends") is often the summary counting what the evidence lists,
  // unless the evidence counts the same thing ("two turbines").
  if (options.strictNumbers && missingCounts < missingNumbers.length) contradictions.push("number")
  if (missingEntities.length > 0) contradictions.push("entity")
  if (negationMismatch) contradictions.push("negation")
  if (best !== undefined && bestShare >= 0.5 && roleSwapped(claimText, features, best)) contradictions.push("swap")
  if (
    (best !== undefined && bestShare >= OPPOSITE_SHARE && oppositeOf(features, best, evidence)) ||
    (second !== undefined && secondShare >= OPPOSITE_SHARE && oppositeOf(features, second, evidence)) ||
    (best !== undefined && bestShare >= 0.5 && prefixFlipped(features, best, evidence))
  ) contradictions.push("antonym")

  let score = total === 0 ? 1 : backed / total
  if (negationMismatch) score *= 1 - options.negationPenalty
  const fromTool = best?.tool ?? false
  const shortAnswer = features.answersQuestion && total > 0 && total <= SHORT_ANSWER_WEIGHT
  const threshold = thresholdOf({ fromTool, shortAnswer }, options)
  // Nothing to check ("Yes."), or nothing in the evidence about it: no finding either way.
  const verdict = total === 0
    ? "supported"
    : !aligned
    ? "unverifiable"
    : contradictions.length > 0
    ? "contradicted"
    : score < threshold
    ? "unsupported"
    : "supported"
  return {
    score,
    weight: total,
    missing: { entities: missingEntities, numbers: missingNumbers, words: missingWords },
    negationMismatch,
    alignment,
    fromTool,
    shortAnswer,
    contradictions,
    verdict,
    supported: verdict === "supported"
  }
}

// ---------------------------------------------------------------------------
// answers
// ---------------------------------------------------------------------------

// Content words and numbers, single digits included: "3 + 4 = 8" and a tool's "3 + 4 = 7" are about the same sum.
const overlapStems = (text: string): Set<string> =>
  new Set(tokenize(text).filter((t) => (t.norm.length > 1 || /^\d/.test(t.norm)) && !STOPWORDS.has(t.norm)).map((t) => t.stem))

// A passage's stems are computed once per answer, not once per claim: most claims share their passages.
const evidenceOrder = (
  claim: string,
  passages: ReadonlyArray<Passage>,
  stemsOf: Map<string, Set<string>>
): Array<Passage> => {
  const claimStems = overlapStems(claim)
  const overlap = (p: Passage) => {
    let stems = stemsOf.get(p.text)
    if (stems === undefined) {
      stems = overlapStems(p.text)
      stemsOf.set(p.text, stems)
    }
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
  options: ResolvedOptions,
  isTool: (passage: Passage) => boolean = () => false
): Assessment => {
  const question = indexQuestion(input.question)
  const cache = new Map<ReadonlyArray<Passage>, EvidenceIndex>()
  const passageStems = new Map<string, Set<string>>()
  let anyEvidence = false
  let previous: ClaimFeatures | undefined
  const claims: Array<ClaimAssessment> = input.claims.map((claim, index) => {
    const passages = evidenceFor(claim, index)
    let evidence = cache.get(passages)
    if (evidence === undefined) {
      evidence = indexEvidence(passages.map((p) => p.text), (i) => isTool(passages[i]!))
      cache.set(passages, evidence)
    }
    if (!evidence.empty) anyEvidence = true
    const features = claimFeatures(claim, question, previous)
    previous = features
    const scored = scoreClaim(features, evidence, options, claim)
    return {
      claim,
      supported: scored.supported,
      verdict: scored.verdict,
      score: scored.score,
      alignment: scored.alignment,
      fromTool: scored.fromTool,
      shortAnswer: scored.shortAnswer,
      contradictions: scored.contradictions,
      missing: scored.missing,
      negationMismatch: scored.negationMismatch,
      evidence: evidenceOrder(claim, passages, passageStems)
    }
  })
  const unsupported = claims.filter((c) => c.verdict === "unsupported" || c.verdict === "contradicted")
  const unverifiable = claims.filter((c) => c.verdict === "unverifiable")
  const score = claims.reduce((min, c) => Math.min(min, c.score), 1)
  // No claims (only boilerplate, or "yes"): nothing to verify, nothing wrong.
  if (!anyEvidence && claims.length > 0) {
    return {
      hallucinated: options.whenUnverifiable === "flag",
      verifiable: false,
      score,
      claims,
      unsupportedClaims: unsupported.map((c) => c.claim),
      unverifiableClaims: claims.map((c) => c.claim)
    }
  }
  // Claims no evidence speaks to count as unsupported only when asked to.
  const flagged = options.whenUnverifiable === "flag" ? [...unsupported, ...unverifiable] : unsupported
  const ratio = claims.length === 0 ? 0 : flagged.length / claims.length
  return {
    hallucinated: flagged.length > 0 && ratio > options.maxUnsupportedRatio,
    verifiable: true,
    score,
    claims,
    unsupportedClaims: unsupported.map((c) => c.claim),
    unverifiableClaims: unverifiable.map((c) => c.claim)
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
