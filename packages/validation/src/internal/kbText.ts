/**
 * Passage chunking and safe FTS5 query building for the knowledge base.
 *
 * @internal
 */
import { splitSentences } from "./claims.js"
import { STOPWORDS } from "./supportText.js"

/** How documents are cut into passages. */
export interface ChunkOptions {
  readonly sentencesPerPassage: number
  readonly overlap: number
  readonly maxPassageChars: number
}

/**
 * Cuts a document into passages of a few sentences, consecutive passages
 * sharing `overlap` sentences so a fact split across a boundary is still
 * found whole. Very long sentences are cut by characters.
 */
export const chunk = (text: string, options: ChunkOptions): Array<string> => {
  const sentences = splitSentences(text).flatMap((s) => {
    if (s.length <= options.maxPassageChars) return [s]
    const pieces: Array<string> = []
    for (let i = 0; i < s.length; i += options.maxPassageChars) pieces.push(s.slice(i, i + options.maxPassageChars))
    return pieces
  })
  if (sentences.length === 0) return []
  const size = Math.max(1, options.sentencesPerPassage)
  const step = Math.max(1, size - Math.max(0, Math.min(options.overlap, size - 1)))
  const passages: Array<string> = []
  for (let start = 0; start < sentences.length; start += step) {
    let passage = ""
    for (let i = start; i < Math.min(start + size, sentences.length); i++) {
      const next = passage === "" ? sentences[i]! : `${passage} ${sentences[i]!}`
      if (passage !== "" && next.length > options.maxPassageChars) break
      passage = next
    }
    passages.push(passage)
    if (start + size >= sentences.length) break
  }
  return passages
}

const MAX_TERMS = 64

/**
 * Builds an FTS5 MATCH expression from arbitrary text: letters and digits
 * only, stopwords dropped, each term double-quoted (so `AND`, `NEAR(`, `*`
 * are plain words), OR-ed for BM25 ranking. `undefined` when nothing is
 * left to search for.
 */
export const matchExpression = (query: string): string | undefined => {
  const terms = new Set<string>()
  for (const m of query.slice(0, 20_000).normalize("NFKC").matchAll(/[\p{L}\p{N}]+/gu)) {
    const term = m[0].toLowerCase()
    if (STOPWORDS.has(term) || term.length > 64) continue
    terms.add(term)
    if (terms.size >= MAX_TERMS) break
  }
  if (terms.size === 0) return undefined
  return [...terms].map((t) => `"${t.replace(/"/g, "\"\"")}"`).join(" OR ")
}
