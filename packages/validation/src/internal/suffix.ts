/**
 * Optimised adversarial suffix detection: automated attacks append a string
 * found by search (gradient or random) that reads as token soup: symbols
 * glued to words, case changes inside words, scripts mixed, few real words.
 * This scores the tail of a text on those statistics, against its head, and
 * never looks at any particular string.
 *
 * @internal
 */

/** How the tail of a text looks. */
export interface TailStats {
  /** Share of non-space characters that are neither letters nor digits. */
  readonly symbolDensity: number
  /** Share of tokens that do not look like words (glued symbols, inner capitals, mixed scripts). */
  readonly oddTokens: number
  /** Share of letters outside ASCII mixed into an otherwise Latin tail. */
  readonly mixedScript: number
  /** Shannon entropy of the tail's characters, in bits. */
  readonly entropy: number
  /** Share of tokens that are English function words (prose has many, token soup almost none). */
  readonly functionWords: number
  /** Share of word tokens that do not look like words: very long, or without a vowel. */
  readonly nonWords: number
  /** Share of tokens that are words glued to symbols, or stray brackets and marks (not arithmetic). */
  readonly glued: number
  /** Share of tokens that are arithmetic: numbers, one-letter variables, operators. */
  readonly arithmetic: number
  /** Number of tokens. */
  readonly tokens: number
}

const FUNCTION_WORDS = new Set([
  "the", "a", "an", "to", "of", "and", "or", "in", "on", "for", "with", "how", "what", "is", "are", "be", "it", "that",
  "this", "as", "at", "by", "from", "you", "your", "i", "me", "my", "we", "not", "can", "will", "would", "should",
  "do", "does", "if", "so", "but", "about", "into", "some", "any", "all", "their", "they", "them", "which", "who"
])

const TAIL = 240

// A number, a one-letter variable or a power of it, or an operator, with brackets and punctuation around.
const ARITHMETIC = /^[(\[|]*(?:[-+*/=^<>%]{1,2}|[-+]?\d+(?:[.,]\d+)*[a-z]?(?:\^\d+)?|\d*[a-z](?:\^\d+)?)[)\]|,.;:?!]*$/i

// Lone brackets and marks that neither prose nor arithmetic leaves between words.
const STRAY = /[\[\]{}<>|`~\\^_@#$%!]/

const LETTER = /\p{L}/u
const isLetterCode = (c: number, ch: string) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c > 127 && LETTER.test(ch))
const isDigitCode = (c: number) => c >= 48 && c <= 57
const isSpaceCode = (c: number) => c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 11

const oddToken = (t: string): boolean => {
  // A lone bracket or symbol between words: token soup, not punctuation.
  if (t.length === 1) return /[\[\]{}()<>|`$#%^~\\_=+*@]/.test(t)
  let letters = 0
  let symbols = 0
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i)
    if (isLetterCode(c, t.charAt(i))) letters++
    else if (!isDigitCode(c)) symbols++
  }
  // Ordinary punctuation: a word followed or preceded by one or two marks.
  const trimmed = t.replace(/^["'(\[]+|[.,;:!?"')\]]+$/g, "")
  if (letters > 0 && /[^\p{L}\p{N}'-]/u.test(trimmed) && symbols >= 2) return true
  if (/\p{Ll}\p{Lu}/u.test(trimmed) && trimmed.length > 3) return true
  if (/[A-Za-z]/.test(trimmed) && /[^\x00-\x7f]/.test(trimmed) && /\p{L}/u.test(trimmed.replace(/[A-Za-z]/g, ""))) return true
  if (letters === 0 && symbols >= 3) return true
  return false
}

/** The statistics of a piece of text. */
export const stats = (text: string): TailStats => {
  // Encoded payloads (base64, hex) are their own signal, not token soup.
  const tokens = text.split(/\s+/).filter((t) => t.length > 0 && !(t.length >= 12 && /^[A-Za-z0-9+/=_-]+$/.test(t)))
  const counts = new Map<number, number>()
  let chars = 0
  let symbols = 0
  let ascii = 0
  let nonAscii = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (isSpaceCode(c)) continue
    chars++
    counts.set(c, (counts.get(c) ?? 0) + 1)
    if (c < 128) {
      if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) ascii++
      else if (!isDigitCode(c)) symbols++
    } else if (LETTER.test(text.charAt(i))) nonAscii++
    else if (c < 0xd800 || c > 0xdfff) symbols++
  }
  let entropy = 0
  for (const k of counts.values()) {
    const p = k / Math.max(1, chars)
    entropy -= p * Math.log2(p)
  }
  const letters = ascii + nonAscii
  let odd = 0
  let glued = 0
  let arithmetic = 0
  let fw = 0
  let wordTokens = 0
  let nonWords = 0
  for (const t of tokens) {
    if (oddToken(t)) {
      odd++
      if ((t.match(/\p{L}/gu)?.length ?? 0) >= 2) glued++
    }
    if (t.length === 1 && STRAY.test(t)) glued++
    if (ARITHMETIC.test(t)) arithmetic++
    const w = t.toLowerCase().replace(/^[^a-z]+|[^a-z]+$/g, "")
    if (FUNCTION_WORDS.has(w)) fw++
    if (/^[a-z]+$/.test(w)) {
      wordTokens++
      if (w.length >= 13 || (w.length >= 4 && !/[aeiouy]/.test(w))) nonWords++
    }
  }
  return {
    functionWords: tokens.length === 0 ? 0 : fw / tokens.length,
    nonWords: wordTokens === 0 ? 0 : nonWords / wordTokens,
    glued: tokens.length === 0 ? 0 : glued / tokens.length,
    arithmetic: tokens.length === 0 ? 0 : arithmetic / tokens.length,
    tokens: tokens.length,
    symbolDensity: chars === 0 ? 0 : symbols / chars,
    oddTokens: tokens.length === 0 ? 0 : odd / tokens.length,
    // Only a mixture counts: a tail entirely in another script is just another language.
    mixedScript: letters === 0 || ascii === 0 || nonAscii === 0 ? 0 : Math.min(nonAscii, ascii) / letters,
    entropy
  }
}

const lineBreaks = (t: string, from: number): number => {
  let n = 0
  for (let i = t.indexOf("\n", from); i >= 0 && n < 2; i = t.indexOf("\n", i + 1)) n++
  return n
}

const squash = (x: number) => Math.max(0, Math.min(1, x))

/**
 * A score in [0, 1] that the end of `text` is an optimised suffix: how odd its
 * tail is, and how much odder than its head (text that is odd throughout,
 * like code or a table, is not a suffix attack).
 */
export const suffixScore = (text: string): number => {
  const t = text.trim()
  if (t.length < 40) return 0
  const cut = Math.max(t.length - TAIL, Math.floor(t.length / 2))
  // A searched suffix is one run appended to the request: a tail of several lines is a code block, a table or a list.
  if (lineBreaks(t, cut) >= 2) return 0
  return scoreSplit(() => stats(t.slice(Math.max(0, cut - 1_500), cut)), stats(t.slice(cut)))
}

const scoreSplit = (head: () => TailStats, s: TailStats): number => {
  const odd = squash((s.oddTokens - 0.06) * 3) * 0.6 + squash((s.symbolDensity - 0.1) * 4) * 0.25 +
    squash(s.mixedScript * 4) * 0.15
  // Equations are symbol-heavy the way suffixes are, but they are numbers, variables and operators.
  const arithmetic = s.arithmetic >= 0.4 ? 0.5 : 1
  const entropy = s.entropy > 4.6 ? 0.05 : 0
  // A plain tail scores the same whatever the head is: most texts stop here.
  if (odd === 0 && s.glued === 0 && s.nonWords === 0) return squash(entropy * arithmetic)
  const h = head()
  // Odd throughout (code, tables, another notation) is not a suffix: the tail must be odder than the head.
  const contrast = squash((s.oddTokens - h.oddTokens) * 4) * 0.7 + squash((s.symbolDensity - h.symbolDensity) * 5) * 0.3
  // Prose keeps its function words; a searched suffix drops them while the request before it has them,
  // and glues words to symbols or makes up words instead. Arithmetic drops them too, but glues no words.
  const proseBreak = s.tokens >= 8 && h.tokens >= 4
    ? squash((h.functionWords - s.functionWords - 0.1) * 3) * squash(s.glued * 4 + s.nonWords * 2)
    : 0
  return squash((odd * (0.3 + 0.7 * contrast) + entropy + 0.5 * proseBreak) * arithmetic)
}
