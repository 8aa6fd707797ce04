/**
 * Splitting text into sentences and an answer into atomic-ish claims.
 * Heuristic and dependency-free on purpose: it runs on every checked answer.
 *
 * @internal
 */

// Abbreviations whose trailing period does not end a sentence.
const ABBREVIATIONS = new Set([
  "sr", "jr", "ft", "etc", "inc", "ltd", "co", "corp", "no", "vol", "fig", "approx", "dept", "est", "gov",
  "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "a.m",
  "p.m", "al"
])

// Abbreviations that are always followed by more of the same sentence.
const TITLES = new Set(["mr", "mrs", "ms", "dr", "prof", "st", "mt", "gen", "lt", "col", "capt", "sgt", "rev", "hon", "vs", "e.g", "i.e"])

/**
 * Splits text into sentences. Handles abbreviations, initials ("J. R. R."),
 * decimals ("3.5"), and passages glued without a space ("century.First"),
 * which scraped corpora are full of.
 */
export const splitSentences = (text: string): Array<string> => {
  // A period glued between a lowercase word and a capitalised word is a lost space.
  const spaced = text.replace(/([a-z\u00df-\u00ff)"”’]{2,}[.!?])(?=[A-Z\u00c0-\u00de][a-z])/g, "$1 ")
  const sentences: Array<string> = []
  let start = 0
  const re = /[.!?]+["'”’)\]]*(?=\s+|$)|\n+/g
  let match: RegExpExecArray | null
  while ((match = re.exec(spaced)) !== null) {
    const end = match.index + match[0].length
    if (match[0][0] === ".") {
      const before = spaced.slice(start, match.index)
      const lastWord = /([A-Za-z.]+)$/.exec(before)?.[1]?.toLowerCase() ?? ""
      const next = spaced.slice(end).trimStart()
      // Initials ("J. R. R.", "J.D.") and abbreviations keep the sentence going.
      if (lastWord.length === 1 && /^[A-Z]/.test(next)) continue
      const abbreviation = lastWord.replace(/^\./, "")
      if (TITLES.has(abbreviation)) continue
      if (ABBREVIATIONS.has(abbreviation) && /^[a-z0-9,(]/.test(next)) continue
      if (/^(?:[a-z]\.)+[a-z]$/.test(lastWord) && !ABBREVIATIONS.has(lastWord)) continue
    }
    const sentence = spaced.slice(start, end).trim()
    if (sentence !== "") sentences.push(sentence)
    start = end
  }
  const rest = spaced.slice(start).trim()
  if (rest !== "") sentences.push(rest)
  return sentences
}

// Whole sentences that carry no factual content.
const BOILERPLATE = [
  /^(sure|certainly|of course|absolutely|okay|ok|yes, of course|great question|good question|happy to help|no problem)[!.,]*$/i,
  /^(i hope (this|that) helps|let me know if|feel free to|hope this helps|please let me know|i'd be happy to|i would be happy to)/i,
  /^(here is|here are|here's) (the|an?|my|some)\b[^.]*:$/i,
  /^(in summary|in conclusion|to summarize|overall)[,:]?$/i
]

// The answerer saying what it cannot do or did not find: nothing a source could back or contradict.
// Only without digits, so "I can't say, but it opened in 1871" is still checked.
const ABOUT_ITSELF =
  /^(?:i\s+(?:cannot|can't|can\s+not|could\s*not|couldn't|can\s+only|do\s+not|don't|did\s+not|didn't|am\s+not|am\s+unable|have\s+no|found\s+no(?:thing)?)|i'm\s+(?:not|unable))\b[^\d]*$/i

// Hedges and filler at the start of a claim: stripped, the rest is still a claim.
const HEDGE_PREFIX =
  /^(?:(?:sure|certainly|of course|absolutely|well|so|okay|ok|yes|indeed)[!,.]\s*|(?:i think|i believe|i guess|i suppose|i'm (?:pretty |fairly )?sure|i am (?:pretty |fairly )?sure|in my opinion|it seems(?: that)?|it appears(?: that)?|it is (?:likely|possible|believed) that|as far as i know|to my knowledge|to the best of my knowledge|probably|perhaps|maybe|i would say|honestly|actually|basically|note that|in fact)\b,?\s*(?:that\s+)?)/i

// Independent clauses: after ";", or a conjunction that introduces a new
// pronoun subject ("..., and she moved to Paris"). Names after "and" are
// usually coordinated ("both X and Y", "Rock and Roll") and are not split.
const CLAUSE_SPLIT =
  /\s*;\s*|,\s+(?:whereas|while|although)\s+|,?\s+(?:and|but)\s+(?=(?:he|she|it|they|we|this|these|those|his|her|its|their)\s+\w+)/gi

const wordCount = (text: string): number => text.split(/\s+/).filter((w) => /\w/.test(w)).length

/**
 * Splits an answer into claims: sentences, then independent clauses joined
 * by `;` or a conjunction followed by a new subject. Boilerplate sentences
 * are dropped and hedges stripped. Short fragments are kept whole: "Delhi"
 * is a claim too.
 */
export const splitClaims = (answer: string): Array<string> => {
  const claims: Array<string> = []
  for (const sentence of splitSentences(answer.replace(/^\s*(?:[-*•]|\d+[.)])\s+/gm, ""))) {
    if (BOILERPLATE.some((re) => re.test(sentence.trim()))) continue
    let text = sentence.trim()
    for (let i = 0; i < 3; i++) {
      const stripped = text.replace(HEDGE_PREFIX, "")
      if (stripped === text) break
      text = stripped
    }
    if (!/[\p{L}\p{N}]/u.test(text) || ABOUT_ITSELF.test(text)) continue
    const parts = text.split(CLAUSE_SPLIT).map((p) => p.trim()).filter((p) => p !== "")
    // Only split when every part can stand as a clause; otherwise "salt and pepper" breaks.
    if (parts.length > 1 && parts.every((p) => wordCount(p) >= 3)) claims.push(...parts)
    else claims.push(text)
  }
  return claims
}
