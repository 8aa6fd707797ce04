/**
 * Decodings the normaliser does not try: Morse code and reversed text. Each
 * is only accepted when the decoded text reads as language (enough common
 * words), so ordinary text is never "decoded" into noise.
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
  "from", "by", "as", "at", "instructions", "ignore", "previous", "say", "print"
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
export const decodeReversed = (text: string): string | undefined => {
  if (text.length < 12) return undefined
  const sample = text.length > 4_000 ? text.slice(0, 4_000) : text
  const reversed = [...sample].reverse().join("")
  const forward = wordiness(sample)
  const backward = wordiness(reversed)
  return backward >= 0.2 && backward > forward * 2 + 0.05 ? reversed : undefined
}

/** Every extra decoding of `text` that reads as language: the whole text, or one of its lines, reversed. */
export const extraDecodings = (text: string): Array<string> => {
  const out = decodeMorse(text)
  const whole = decodeReversed(text)
  if (whole !== undefined) out.push(whole)
  else {
    for (const line of text.split("\n").slice(0, 200)) {
      const r = decodeReversed(line)
      if (r !== undefined && out.length < 6) out.push(r)
    }
  }
  return out
}
