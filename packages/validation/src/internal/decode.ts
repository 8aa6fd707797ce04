/**
 * Decodings the normaliser does not try: Morse code, the NATO spelling
 * alphabet, letters marked one per line, reversed text, letter substitutions (rot13 without a hint,
 * Atbash), and the binary-to-text encodings base32, ASCII85 / base85 and
 * uuencode. Each is only accepted when the decoded text reads as language
 * (enough common words), or for the spelling alphabet when a long run of its
 * code words leaves no doubt, so ordinary text is never "decoded" into noise.
 *
 * @internal
 */

const MORSE: Readonly<Record<string, string>> = {
  ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h", "..": "i",
  ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p", "--.-": "q", ".-.": "r",
  "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z",
  "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6", "--...": "7",
  "---..": "8", "----.": "9", ".-.-.-": ".", "--..--": ",", "..--..": "?"
}

const COMMON = new Set([
  "the", "a", "an", "to", "of", "and", "or", "in", "on", "for", "how", "what", "is", "are", "you", "your", "me", "my",
  "i", "it", "this", "that", "with", "make", "write", "tell", "give", "all", "do", "can", "be", "not", "please", "about",
  "from", "by", "as", "at", "instructions", "ignore", "previous", "say", "print", "who", "why", "when", "where", "which",
  "some", "any", "one", "into", "out", "up", "using", "use", "get", "was", "were", "have", "has", "them", "their",
  "people", "someone", "steps", "step", "guide", "way", "ways", "list", "create", "explain", "describe", "provide"
])

/** Share of a text's words that are very common English words. */
export const wordiness = (text: string): number => {
  const words = text.toLowerCase().match(/[a-z]+/g) ?? []
  if (words.length === 0) return 0
  return words.filter((w) => COMMON.has(w)).length / words.length
}

const MORSE_RUN = /(?:[.\-]{1,6}(?:[ \t]*\/[ \t]*|[ \t]+|$)){6,}/g

/** Runs of Morse code decoded to text (letters separated by spaces, words by `/` or wide gaps). */
export const decodeMorse = (text: string): Array<string> => {
  const out: Array<string> = []
  MORSE_RUN.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = MORSE_RUN.exec(text)) !== null && out.length < 4) {
    const groups = m[0].trim().split(/\s*\/\s*|\s{3,}/)
    const decoded = groups.map((w) => w.split(/\s+/).map((l) => MORSE[l] ?? "").join("")).join(" ")
    const words = decoded.split(" ").filter((w) => w.length > 0)
    if (words.length >= 3 && wordiness(decoded) >= 0.3) out.push(decoded)
  }
  return out
}

/** The text read backwards, when that reads better than forwards. */
export const decodeReversed = (text: string, forwardWordiness?: number): string | undefined => {
  if (text.length < 12) return undefined
  const sample = text.length > 4_000 ? text.slice(0, 4_000) : text
  const forward = forwardWordiness ?? wordiness(sample)
  // Reversed would need more than 65 % common words to win: ordinary prose is not worth reversing.
  if (forward >= 0.3) return undefined
  const reversed = [...sample].reverse().join("")
  const backward = wordiness(reversed)
  return backward >= 0.2 && backward > forward * 2 + 0.05 ? reversed : undefined
}

const NATO: Readonly<Record<string, string>> = {
  alfa: "a", alpha: "a", bravo: "b", charlie: "c", delta: "d", echo: "e", foxtrot: "f", golf: "g", hotel: "h",
  india: "i", juliett: "j", juliet: "j", kilo: "k", lima: "l", mike: "m", november: "n", oscar: "o", papa: "p",
  quebec: "q", romeo: "r", sierra: "s", tango: "t", uniform: "u", victor: "v", whiskey: "w", whisky: "w",
  xray: "x", "x-ray": "x", yankee: "y", zulu: "z"
}

const NATO_RUN = /\b(?:(?:alfa|alpha|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliett?|kilo|lima|mike|november|oscar|papa|quebec|romeo|sierra|tango|uniform|victor|whiske?y|x-?ray|yankee|zulu)\b[\s,]*){8,}/g

/**
 * Runs of NATO spelling-alphabet words, spelled out (without word breaks:
 * the alphabet has none). Eight code words in a row do not happen in prose.
 */
export const decodeNato = (text: string): Array<string> => {
  const out: Array<string> = []
  NATO_RUN.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = NATO_RUN.exec(text)) !== null && out.length < 2) {
    out.push(m[0].split(/[\s,]+/).map((w) => NATO[w] ?? "").join(""))
  }
  return out
}

const rot13 = (s: string): string => s.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 84) % 26) + 97))
const atbash = (s: string): string => s.replace(/[a-z]/g, (c) => String.fromCharCode(219 - c.charCodeAt(0)))

/**
 * The pieces of a text a substitution cipher may hide in: every line, and
 * the part of a line after a label ("encoded: ...").
 */
const segments = (lines: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (const line of lines) {
    const t = line.trim()
    if (t.length < 12) continue
    out.push(t)
    const colon = t.lastIndexOf(": ")
    if (colon > 0 && t.length - colon > 14) out.push(t.slice(colon + 2))
  }
  return out
}

/** Whether a line is mostly letters: table rows and code are not ciphered prose. */
const lettered = (line: string): boolean => {
  // A counting loop: matching every letter into an array cost ~1 ms per 20 KB line.
  let chars = 0
  let letters = 0
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i)
    if (c === 32 || (c >= 9 && c <= 13) || (c > 127 && /\s/.test(line.charAt(i)))) continue
    chars++
    if (c >= 97 && c <= 122) letters++
  }
  return chars > 0 && letters / chars >= 0.75
}

/** A letter substitution of a segment when it reads as language and the segment does not. */
const substituted = (segment: string, decode: (s: string) => string): string | undefined => {
  const decoded = decode(segment)
  const words = decoded.match(/[a-z]+/g)?.length ?? 0
  return words >= 4 && wordiness(decoded) >= 0.3 ? decoded : undefined
}

const MARKED = /\(([a-z0-9 .,'?!-])\)/g

/**
 * A message spelled by one marked letter per line ("(h)appy", "lucky (d)og",
 * "( )" for a space): a puzzle that hides a request from a reader of words.
 * Taken when most lines carry exactly one mark and the letters read as language.
 */
export const decodeMarkedLetters = (text: string): string | undefined => {
  const lines = text.split("\n", 2_000).filter((l) => l.trim().length > 0)
  if (lines.length < 12) return undefined
  let out = ""
  let marked = 0
  for (const line of lines) {
    const marks = [...line.matchAll(MARKED)]
    if (marks.length !== 1) continue
    out += marks[0]?.[1] ?? ""
    marked++
  }
  if (marked < 12 || marked < lines.length * 0.6) return undefined
  const words = out.match(/[a-z]+/g)?.length ?? 0
  return words >= 3 && wordiness(out) >= 0.2 ? out : undefined
}

/**
 * Every extra decoding of `text` (folded, lower case) that reads as language:
 * Morse, the spelling alphabet, letters marked one per line, the whole text or one of its lines reversed,
 * and lines in rot13 or Atbash.
 */
export const extraDecodings = (text: string): Array<string> => {
  const out = [...decodeMorse(text), ...decodeNato(text)]
  const marked = decodeMarkedLetters(text)
  if (marked !== undefined) out.push(marked)
  const lines = text.split("\n").slice(0, 200)
  const whole = lines.length > 1 ? decodeReversed(text) : undefined
  if (whole !== undefined) out.push(whole)
  else {
    for (const line of lines) {
      // Lines that read as language forwards are neither reversed nor ciphered: one wordiness pass each.
      if (!lettered(line)) continue
      const forward = wordiness(line.length > 4_000 ? line.slice(0, 4_000) : line)
      if (forward >= 0.3) continue
      const r = decodeReversed(line, forward)
      if (r !== undefined && out.length < 6) out.push(r)
    }
  }
  for (const seg of segments(lines)) {
    if (out.length >= 8) break
    if (!lettered(seg) || wordiness(seg) >= 0.15) continue
    const r = substituted(seg, rot13) ?? substituted(seg, atbash)
    if (r !== undefined) out.push(r)
  }
  return out
}

// ---------------------------------------------------------------------------
// binary-to-text encodings (case sensitive: read from the raw text)

/** Decoded bytes as text, when they read as language. */
const asLanguage = (bytes: ArrayLike<number>): string | undefined => {
  let out = ""
  let printable = 0
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0
    if ((b >= 32 && b < 127) || b === 10 || b === 13 || b === 9) printable++
    out += String.fromCharCode(b)
  }
  if (out.length < 8 || printable / out.length < 0.95) return undefined
  const words = out.match(/[a-z]+/gi)?.length ?? 0
  return words >= 3 && wordiness(out) >= 0.2 ? out.toLowerCase() : undefined
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
const BASE32_RUN = /\b[A-Z2-7]{16,}={0,6}/g

export const decodeBase32 = (run: string): string | undefined => {
  const clean = run.replace(/=+$/, "")
  if (!/[2-7]/.test(clean)) return undefined
  const bytes: Array<number> = []
  let buffer = 0
  let bits = 0
  for (const ch of clean) {
    buffer = (buffer << 5) | B32.indexOf(ch)
    bits += 5
    if (bits >= 8) {
      bits -= 8
      bytes.push((buffer >> bits) & 0xff)
    }
    buffer &= 0xff
  }
  return asLanguage(bytes)
}

const B85 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~"
const B85_INDEX: ReadonlyMap<string, number> = new Map([...B85].map((c, i) => [c, i]))

/** ASCII85 (Adobe, `!` to `u`, `z` for four zero bytes) or base85 (RFC 1924 alphabet). */
export const decodeAscii85 = (token: string): string | undefined => {
  const body = token.replace(/^<~/, "").replace(/~>$/, "")
  return (/^[!-uz]+$/.test(body) ? decode85(body, true) : undefined) ?? decode85(body, false)
}

const decode85 = (body: string, adobe: boolean): string | undefined => {
  const digits: Array<number> = []
  for (const ch of body) {
    if (adobe && ch === "z") {
      if (digits.length % 5 !== 0) return undefined
      digits.push(0, 0, 0, 0, 0)
      continue
    }
    const d = adobe ? ch.charCodeAt(0) - 33 : B85_INDEX.get(ch)
    if (d === undefined) return undefined
    digits.push(d)
  }
  const bytes: Array<number> = []
  for (let i = 0; i < digits.length; i += 5) {
    const group = digits.slice(i, i + 5)
    const pad = 5 - group.length
    while (group.length < 5) group.push(84)
    let value = 0
    for (const d of group) value = value * 85 + d
    if (value > 0xffff_ffff) return undefined
    const four = [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]
    bytes.push(...four.slice(0, 4 - pad))
  }
  return asLanguage(bytes)
}

/** One uuencoded line: a length character, then four characters per three bytes. */
const uuLine = (line: string): Array<number> | undefined => {
  const n = (line.charCodeAt(0) - 32) & 63
  if (n === 0 || line.length < 1 + Math.ceil(n / 3) * 4 - 2) return undefined
  const bytes: Array<number> = []
  for (let i = 1; bytes.length < n; i += 4) {
    const c = [0, 1, 2, 3].map((k) => ((line.charCodeAt(i + k) || 32) - 32) & 63)
    const [a = 0, b = 0, d = 0, e = 0] = c
    bytes.push(((a << 2) | (b >> 4)) & 0xff, ((b << 4) | (d >> 2)) & 0xff, ((d << 6) | e) & 0xff)
  }
  return bytes.slice(0, n)
}

const UU_LINE = /^[!-`][ -`]{4,64}$/

export const decodeUuencode = (text: string): string | undefined => {
  const bytes: Array<number> = []
  let lines = 0
  for (const raw of text.split("\n").slice(0, 400)) {
    let line = raw.replace(/\r$/, "")
    // A label before the data on the same line ("encoded: M...").
    const label = /^[A-Za-z][A-Za-z0-9 ]{0,40}: (?=M)/.exec(line)
    if (label !== null) line = line.slice(label[0].length)
    if (!UU_LINE.test(line)) continue
    const decoded = uuLine(line)
    if (decoded === undefined) continue
    bytes.push(...decoded)
    lines++
  }
  return lines === 0 ? undefined : asLanguage(bytes)
}

const ASCII85_TOKEN = /\S{20,}/g

/**
 * The binary-to-text encodings the normaliser does not try (base32,
 * ASCII85 / base85, uuencode), decoded from the raw text when they read as
 * language.
 */
export const rawDecodings = (raw: string): Array<string> => {
  const out: Array<string> = []
  BASE32_RUN.lastIndex = 0
  let m: RegExpExecArray | null
  let tries = 0
  while ((m = BASE32_RUN.exec(raw)) !== null && tries++ < 16 && out.length < 4) {
    const d = decodeBase32(m[0])
    if (d !== undefined) out.push(d)
  }
  ASCII85_TOKEN.lastIndex = 0
  tries = 0
  while ((m = ASCII85_TOKEN.exec(raw)) !== null && tries < 16 && out.length < 6) {
    const t = m[0]
    // Encoded binary mixes cases, digits and symbols that words and base64 do not.
    if (!/[a-z]/.test(t) || !/[A-Z]/.test(t) || (t.match(/[^A-Za-z0-9+/=]/g)?.length ?? 0) < 3) continue
    tries++
    const d = decodeAscii85(t)
    if (d !== undefined) out.push(d)
  }
  if (/^[!-`]?M[ -`]{20,}/m.test(raw) || /: M[ -`]{20,}/.test(raw)) {
    const d = decodeUuencode(raw)
    if (d !== undefined) out.push(d)
  }
  return out
}
