/**
 * Text normalisation for the prompt guard: folds the many ways an attacker
 * can spell the same instruction (homoglyphs, fullwidth and mathematical
 * letters, invisible characters, spaced-out letters, leetspeak, encodings)
 * into a few plain lowercase ASCII-ish variants that the signatures and the
 * classifier can read.
 *
 * Every step is linear in the (capped) input and never throws: a 1 MB input
 * is scanned on its head and tail only, lone surrogates are dropped, decoding
 * recursion is bounded by depth and by a total byte budget.
 *
 * @internal
 */

/** Inputs longer than this are scanned on a head and a tail window only. */
export const MAX_SCAN = 65_536
const HEAD = 49_152
const TAIL = MAX_SCAN - HEAD
/** Decoded payloads nest at most this deep (base64 of hex of base64 ...). */
export const MAX_DECODE_DEPTH = 3
const MAX_PAYLOADS = 16
const PAYLOAD_BUDGET = 65_536
const MAX_PAYLOAD_CHARS = 8_192

/** Where a decoded payload came from. */
export type PayloadKind = "base64" | "hex" | "url" | "rot13" | "tags"

/** A hidden text recovered from the input, already folded. */
export interface Payload {
  readonly kind: PayloadKind
  readonly depth: number
  readonly text: string
  /** Offsets in the original input, or -1 when the payload is nested. */
  readonly start: number
  readonly end: number
}

/** Counts of the obfuscation tricks seen while folding. */
export interface NormalizationSignals {
  zeroWidth: number
  bidi: number
  control: number
  invalidSurrogates: number
  confusables: number
  compatibility: number
  tagCharacters: number
  spacedLetters: number
  leet: number
  rot13Hint: boolean
  truncated: boolean
}

/** The result of {@link normalize}. */
export interface Normalized {
  /** Lowercased, folded text; horizontal whitespace runs become one space. */
  readonly folded: string
  /** `map[i]` is the index in the original input of `folded[i]`. */
  readonly map: Int32Array
  /** `folded` with spaced/dotted/hyphenated letters joined. */
  readonly collapsed: string
  /** `collapsed` with leetspeak digits read as letters (equal to it when no leet). */
  readonly leet: string
  /** Only the letters and digits of `leet`: defeats any separator trick. */
  readonly squashed: string
  readonly payloads: ReadonlyArray<Payload>
  readonly signals: NormalizationSignals
}

// Letters from other scripts that render like ASCII letters and that NFKD
// leaves alone (the Unicode confusables table, reduced to the common ones).
const CONFUSABLE_PAIRS: ReadonlyArray<readonly [string, string]> = [
  // Cyrillic
  ["а", "a"], ["в", "b"], ["с", "c"], ["ԁ", "d"], ["е", "e"], ["ё", "e"], ["һ", "h"], ["н", "h"], ["і", "i"],
  ["ї", "i"], ["ј", "j"], ["к", "k"], ["ӏ", "l"], ["м", "m"], ["п", "n"], ["о", "o"], ["р", "p"], ["ԛ", "q"],
  ["г", "r"], ["ѕ", "s"], ["т", "t"], ["ц", "u"], ["ѵ", "v"], ["ԝ", "w"], ["х", "x"], ["у", "y"], ["з", "3"],
  ["ь", "b"], ["ы", "bi"], ["л", "n"], ["и", "u"], ["д", "d"], ["ж", "x"], ["я", "r"], ["ф", "o"],
  // Greek
  ["α", "a"], ["β", "b"], ["ϲ", "c"], ["δ", "d"], ["ε", "e"], ["η", "n"], ["ι", "i"], ["κ", "k"], ["ν", "v"],
  ["ο", "o"], ["ρ", "p"], ["τ", "t"], ["υ", "u"], ["χ", "x"], ["γ", "y"], ["ω", "w"], ["μ", "u"], ["ς", "s"],
  ["σ", "o"], ["θ", "o"], ["λ", "a"], ["π", "n"], ["ϳ", "j"],
  // Armenian, Cherokee and Latin extensions that look like ASCII
  ["օ", "o"], ["ս", "u"], ["ց", "g"], ["հ", "h"], ["ո", "n"], ["ք", "p"], ["ɑ", "a"], ["ɡ", "g"], ["ı", "i"],
  ["ȷ", "j"], ["ʟ", "l"], ["ɴ", "n"], ["ʀ", "r"], ["ʏ", "y"], ["ᴀ", "a"], ["ʙ", "b"], ["ᴄ", "c"], ["ᴅ", "d"],
  ["ᴇ", "e"], ["ɢ", "g"], ["ʜ", "h"], ["ɪ", "i"], ["ᴊ", "j"], ["ᴋ", "k"], ["ᴍ", "m"], ["ᴏ", "o"], ["ᴘ", "p"],
  ["ꜱ", "s"], ["ᴛ", "t"], ["ᴜ", "u"], ["ᴠ", "v"], ["ᴡ", "w"], ["ᴢ", "z"], ["ℓ", "l"], ["ø", "o"], ["ð", "d"],
  ["đ", "d"], ["ħ", "h"], ["ł", "l"], ["ŧ", "t"], ["ƀ", "b"], ["ɨ", "i"], ["ʉ", "u"], ["æ", "ae"], ["œ", "oe"],
  ["ß", "ss"], ["þ", "th"], ["ɛ", "e"], ["ɔ", "o"], ["ǝ", "e"], ["ə", "e"],
  // Upside-down and small-caps tricks
  ["ɐ", "a"], ["ɥ", "h"], ["ɯ", "m"], ["ɹ", "r"], ["ʇ", "t"], ["ʌ", "v"], ["ʍ", "w"], ["ʎ", "y"]
]

const CONFUSABLES: ReadonlyMap<number, string> = (() => {
  const m = new Map<number, string>()
  for (const [from, to] of CONFUSABLE_PAIRS) {
    const cp = from.codePointAt(0)
    if (cp !== undefined) m.set(cp, to)
    const upper = from.toUpperCase()
    const ucp = upper.codePointAt(0)
    if (ucp !== undefined && upper.length === from.length && !m.has(ucp)) m.set(ucp, to)
  }
  return m
})()

const isInvisible = (cp: number): boolean =>
  (cp >= 0x200b && cp <= 0x200d) || (cp >= 0x2060 && cp <= 0x2064) || cp === 0xfeff || cp === 0x00ad ||
  cp === 0x180e || cp === 0x034f || cp === 0x115f || cp === 0x1160 || cp === 0x3164 || cp === 0xffa0 ||
  (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef) || cp === 0x2800 || cp === 0x17b4 ||
  cp === 0x17b5 || (cp >= 0xfff0 && cp <= 0xfff8)

const isBidi = (cp: number): boolean =>
  (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp === 0x061c || cp === 0x200e ||
  cp === 0x200f

const COMBINING = /\p{M}/gu
const NON_PRINTING = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u

// Per-code-point fold of everything outside ASCII, cached (bounded).
interface Fold {
  readonly text: string
  readonly confusable: boolean
  readonly compatibility: boolean
}
const foldCache = new Map<number, Fold>()
const FOLD_CACHE_LIMIT = 8_192

const foldOnce = (s: string): string => {
  let out = ""
  const decomposed = s.normalize("NFKD").replace(COMBINING, "").toLowerCase()
  for (const ch of decomposed) {
    const cp = ch.codePointAt(0) ?? 0
    const conf = CONFUSABLES.get(cp)
    if (conf !== undefined) out += conf
    else if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) continue
    else if (/\s/u.test(ch)) out += " "
    else if (isInvisible(cp) || isBidi(cp) || NON_PRINTING.test(ch)) continue
    else out += ch
  }
  return out
}

const foldCodePoint = (cp: number): Fold => {
  const cached = foldCache.get(cp)
  if (cached !== undefined) return cached
  const original = String.fromCodePoint(cp)
  let text = foldOnce(original)
  // Iterate to a fixed point so that folding the folded text changes nothing.
  for (let i = 0; i < 3; i++) {
    const next = foldOnce(text)
    if (next === text) break
    text = next
  }
  const lower = original.toLowerCase()
  const confusable = CONFUSABLES.has(cp) ||
    (CONFUSABLES.has(lower.codePointAt(0) ?? -1))
  const compatibility = !confusable && original.normalize("NFKC") !== original && /^[a-z0-9]+$/.test(text)
  const fold: Fold = { text, confusable, compatibility }
  if (foldCache.size < FOLD_CACHE_LIMIT) foldCache.set(cp, fold)
  return fold
}

const emptySignals = (): NormalizationSignals => ({
  zeroWidth: 0,
  bidi: 0,
  control: 0,
  invalidSurrogates: 0,
  confusables: 0,
  compatibility: 0,
  tagCharacters: 0,
  spacedLetters: 0,
  leet: 0,
  rot13Hint: false,
  truncated: false
})

interface FoldResult {
  readonly text: string
  readonly map: Int32Array
  readonly tagText: string
  readonly tagStart: number
  readonly tagEnd: number
}

/**
 * Folds the windows `[start, end)` of `input` into lowercase text, dropping
 * invisible and control characters, and records for every output character
 * the index of the input character it came from.
 */
const foldText = (
  input: string,
  windows: ReadonlyArray<readonly [number, number]>,
  signals: NormalizationSignals
): FoldResult => {
  let capacity = 0
  for (const [s, e] of windows) capacity += e - s
  let codes = new Uint16Array(Math.max(16, capacity + 16))
  let map = new Int32Array(codes.length)
  let n = 0
  let lastSpace = true
  let tagText = ""
  let tagStart = -1
  let tagEnd = -1
  const grow = (extra: number) => {
    if (n + extra <= codes.length) return
    const size = Math.max(codes.length * 2, n + extra + 16)
    const c2 = new Uint16Array(size)
    c2.set(codes)
    codes = c2
    const m2 = new Int32Array(size)
    m2.set(map)
    map = m2
  }
  const push = (code: number, at: number) => {
    if (code === 0x20) {
      if (lastSpace) return
      lastSpace = true
    } else {
      lastSpace = code === 0x0a
      if (code === 0x0a && n > 0 && codes[n - 1] === 0x20) {
        // a newline absorbs the space before it
        n--
      }
    }
    grow(1)
    codes[n] = code
    map[n] = at
    n++
  }
  for (let w = 0; w < windows.length; w++) {
    const win = windows[w]
    if (win === undefined) continue
    const [start, end] = win
    if (w > 0) push(0x0a, start)
    for (let i = start; i < end; i++) {
      const c = input.charCodeAt(i)
      if (c < 0x80) {
        if (c >= 0x41 && c <= 0x5a) push(c + 32, i)
        else if (c >= 0x20 && c < 0x7f) push(c, i)
        else if (c === 0x09) push(0x20, i)
        else if (c === 0x0a || c === 0x0d) push(0x0a, i)
        else signals.control++
        continue
      }
      let cp = c
      let width = 1
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = i + 1 < end ? input.charCodeAt(i + 1) : 0
        if (d >= 0xdc00 && d <= 0xdfff) {
          cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000
          width = 2
        } else {
          signals.invalidSurrogates++
          continue
        }
      } else if (c >= 0xdc00 && c <= 0xdfff) {
        signals.invalidSurrogates++
        continue
      }
      const at = i
      i += width - 1
      if (isInvisible(cp)) {
        signals.zeroWidth++
        continue
      }
      if (isBidi(cp)) {
        signals.bidi++
        continue
      }
      if (cp >= 0xe0000 && cp <= 0xe007f) {
        // Unicode tag characters: invisible ASCII ("ASCII smuggling").
        signals.tagCharacters++
        const ascii = cp - 0xe0000
        if (ascii >= 0x20 && ascii < 0x7f && tagText.length < MAX_PAYLOAD_CHARS) {
          tagText += String.fromCharCode(ascii)
          if (tagStart < 0) tagStart = at
          tagEnd = at + width
        }
        continue
      }
      if (cp < 0xa0) {
        if (cp === 0x85) push(0x0a, at)
        else signals.control++
        continue
      }
      if (cp === 0x2028 || cp === 0x2029) {
        push(0x0a, at)
        continue
      }
      // Regional indicator symbols spell letters too.
      if (cp >= 0x1f1e6 && cp <= 0x1f1ff) {
        signals.compatibility++
        push(0x61 + cp - 0x1f1e6, at)
        continue
      }
      const fold = foldCodePoint(cp)
      if (fold.confusable) signals.confusables++
      else if (fold.compatibility) signals.compatibility++
      const t = fold.text
      for (let k = 0; k < t.length; k++) push(t.charCodeAt(k), at)
    }
  }
  while (n > 0 && (codes[n - 1] === 0x20 || codes[n - 1] === 0x0a)) n--
  let text = ""
  const CHUNK = 8_192
  for (let k = 0; k < n; k += CHUNK) {
    text += String.fromCharCode(...codes.subarray(k, Math.min(n, k + CHUNK)))
  }
  return { text, map: map.slice(0, n), tagText, tagStart, tagEnd }
}

// Three or more single letters separated by one or two separator characters:
// "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e". Linear: each repetition
// consumes a letter followed by separators, so there is nothing to backtrack.
const SPACED = /(?<![a-z0-9])[a-z](?:[ .\-_*+|/\\~,·:]{1,2}[a-z](?![a-z0-9])){2,}/g
const SEPARATORS = /[^a-z]/g
// A single separator inside a word: "ig-nore", "in.structions", "pre_vious".
const INNER = /([a-z])[-_.*|~·](?=[a-z])/g

const collapseSpacing = (s: string, signals: NormalizationSignals): string => {
  let out = s.replace(SPACED, (m) => {
    signals.spacedLetters++
    return m.replace(SEPARATORS, "")
  })
  out = out.replace(INNER, "$1")
  return out
}

const LEET: Readonly<Record<string, string>> = {
  "0": "o",
  "1": "i",
  "3": "e",
  "4": "a",
  "5": "s",
  "7": "t",
  "8": "b",
  "9": "g",
  "@": "a",
  "$": "s",
  "!": "i",
  "|": "l",
  "€": "e"
}
const LEET_TOKEN = /[a-z0-9@$!|€]+/g
const HAS_LETTER = /[a-z]/
const HAS_LEET = /[0-9@$!|€]/
const ALL_DIGITS_OR_UNITS = /^(?:\d+(?:st|nd|rd|th|s|k|m|px|am|pm|gb|mb|kb|x|d)?|[a-z]+\d+)$/

const foldLeet = (s: string, signals: NormalizationSignals): string =>
  s.replace(LEET_TOKEN, (tok) => {
    if (!HAS_LETTER.test(tok) || !HAS_LEET.test(tok) || tok.length < 3) return tok
    // "mp3", "h264", "2nd", "10k" are ordinary words, not leetspeak.
    if (ALL_DIGITS_OR_UNITS.test(tok) && !/[a-z][0-9@$!|€][a-z]/.test(tok)) return tok
    signals.leet++
    let out = ""
    for (const ch of tok) out += LEET[ch] ?? ch
    return out
  })

const NON_ALNUM = /[^a-z0-9]+/g

const rot13 = (s: string): string =>
  s.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 13) % 26) + 97))

/** Fraction of printable characters in a decoded string. */
const printableRatio = (s: string): number => {
  if (s.length === 0) return 0
  let ok = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if ((c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x0d || c === 0x09) ok++
  }
  return ok / s.length
}

const looksLikeText = (s: string): boolean => {
  if (s.length < 6 || printableRatio(s) < 0.9) return false
  let letters = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20
    if (c >= 0x61 && c <= 0x7a) letters++
  }
  return letters / s.length >= 0.5 && /[a-z]{2,}[^a-z]+[a-z]{2,}/i.test(s)
}

const BASE64_RUN = /[A-Za-z0-9+/_-]{16,}={0,2}/g
const HEX_RUN = /(?:\\x|0x)?[0-9a-fA-F]{2}(?:[ :,]?(?:\\x|0x)?[0-9a-fA-F]{2}){7,}/g
const URL_RUN = /(?:%[0-9a-fA-F]{2}[^%\s]{0,3}){3,}/g

const decodeBase64 = (run: string): string | undefined => {
  const clean = run.replace(/=+$/, "")
  if (clean.length % 4 === 1) return undefined
  // Plain words and identifiers are valid base64 too; real payloads mix cases or digits.
  if (/^[a-z]+$/.test(clean) || /^[A-Z]+$/.test(clean)) return undefined
  try {
    const text = Buffer.from(clean.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("latin1")
    return looksLikeText(text) ? text : undefined
  } catch {
    return undefined
  }
}

const decodeHex = (run: string): string | undefined => {
  const digits = run.replace(/\\x|0x|[ :,]/gi, "")
  if (digits.length % 2 !== 0) return undefined
  let out = ""
  for (let i = 0; i < digits.length; i += 2) out += String.fromCharCode(parseInt(digits.slice(i, i + 2), 16))
  return looksLikeText(out) ? out : undefined
}

const decodeUrl = (run: string): string | undefined => {
  const out = run.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
  return looksLikeText(out) ? out : undefined
}

const ROT13_HINT = /\brot[ -]?13\b|\bcaesar\b|\bcipher\b|\brotate (?:each|every|the) letters?\b/

interface DecodeState {
  budget: number
  readonly payloads: Array<Payload>
}

const scanPayloads = (
  raw: string,
  depth: number,
  offset: boolean,
  state: DecodeState,
  signals: NormalizationSignals
): void => {
  if (depth > MAX_DECODE_DEPTH || state.budget <= 0) return
  const found: Array<{ kind: PayloadKind; text: string; start: number; end: number }> = []
  const collect = (re: RegExp, kind: PayloadKind, decode: (run: string) => string | undefined) => {
    re.lastIndex = 0
    let m: RegExpExecArray | null
    let guard = 0
    while ((m = re.exec(raw)) !== null && guard++ < 256) {
      if (state.payloads.length + found.length >= MAX_PAYLOADS || state.budget <= 0) return
      const run = m[0].slice(0, MAX_PAYLOAD_CHARS * 2)
      const text = decode(run)
      if (text === undefined) continue
      state.budget -= text.length
      found.push({ kind, text, start: m.index, end: m.index + m[0].length })
    }
  }
  collect(BASE64_RUN, "base64", decodeBase64)
  collect(HEX_RUN, "hex", decodeHex)
  if (raw.includes("%")) collect(URL_RUN, "url", decodeUrl)
  for (const f of found) {
    const folded = foldText(f.text, [[0, f.text.length]], emptySignals()).text
    state.payloads.push({
      kind: f.kind,
      depth,
      text: folded,
      start: offset ? f.start : -1,
      end: offset ? f.end : -1
    })
    if (ROT13_HINT.test(folded)) signals.rot13Hint = true
    scanPayloads(f.text, depth + 1, false, state, signals)
  }
}

/**
 * Normalises `input` for detection. Pure, total and bounded: never throws,
 * work and output are linear in `min(input.length, MAX_SCAN)`.
 */
export const normalize = (input: string): Normalized => {
  const signals = emptySignals()
  const s = typeof input === "string" ? input : ""
  const windows: Array<readonly [number, number]> = s.length > MAX_SCAN
    ? [[0, HEAD], [s.length - TAIL, s.length]]
    : [[0, s.length]]
  if (s.length > MAX_SCAN) signals.truncated = true
  const folded = foldText(s, windows, signals)
  const collapsed = collapseSpacing(folded.text, signals)
  const leet = foldLeet(collapsed, signals)
  const squashed = leet.replace(NON_ALNUM, "")
  if (ROT13_HINT.test(folded.text)) signals.rot13Hint = true

  const state: DecodeState = { budget: PAYLOAD_BUDGET, payloads: [] }
  if (folded.tagText.length > 0) {
    const t = foldText(folded.tagText, [[0, folded.tagText.length]], emptySignals()).text
    state.payloads.push({ kind: "tags", depth: 1, text: t, start: folded.tagStart, end: folded.tagEnd })
  }
  for (const [start, end] of windows) {
    // Encodings are case sensitive: scan the raw windows, not the folded text.
    const raw = s.slice(start, end)
    const before = state.payloads.length
    scanPayloads(raw, 1, true, state, signals)
    for (let k = before; k < state.payloads.length; k++) {
      const p = state.payloads[k]
      if (p !== undefined && p.start >= 0 && start > 0) {
        state.payloads[k] = { ...p, start: p.start + start, end: p.end + start }
      }
    }
  }
  if (signals.rot13Hint) {
    state.payloads.push({ kind: "rot13", depth: 1, text: rot13(collapsed), start: -1, end: -1 })
    for (const p of [...state.payloads]) {
      if (p.kind !== "rot13" && state.payloads.length < MAX_PAYLOADS + 4) {
        state.payloads.push({ kind: "rot13", depth: p.depth + 1, text: rot13(p.text), start: p.start, end: p.end })
      }
    }
  }
  return {
    folded: folded.text,
    map: folded.map,
    collapsed,
    leet,
    squashed,
    payloads: state.payloads,
    signals
  }
}

/** Rot13 of folded text (exported for the detector's blind rot13 pass). */
export const rot13Folded = rot13

/** The text the classifier reads: the de-obfuscated input and its decoded payloads. */
export const classifierText = (n: Normalized): string => {
  let text = n.leet
  for (const p of n.payloads) if (text.length < 200_000) text += `\n${p.text}`
  return text
}
