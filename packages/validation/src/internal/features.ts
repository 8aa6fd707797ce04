/**
 * What the prompt guard's classifier reads, built the same way at training
 * and at scoring time: the de-obfuscated text with every decoded payload, and
 * a few dense structural values that do not depend on seen strings.
 *
 * @internal
 */
import type { AgentAction } from "@patinox/core"
import { codeLikeness, instructionEvidence, recordLikeness, tableLikeness, trailingOrders, wrappedOrders } from "./dataInstructions.js"
import type { InstructionEvidence } from "./dataInstructions.js"
import { decodeMarkedLetters, extraDecodings, rawDecodings } from "./decode.js"
import { actionCues, harmCues, harmCuesUnspaced } from "./harm.js"
import { classifierText } from "./normalize.js"
import type { Normalized } from "./normalize.js"
import { personaFraming } from "./persona.js"
import { suffixScore } from "./suffix.js"

/** The structural reading of one text. */
export interface Structure {
  /** Whether the text is data the agent reads (a tool result) rather than a prompt. */
  readonly data: boolean
  readonly suffix: number
  readonly instructions: InstructionEvidence
  readonly code: number
  readonly persona: number
  /** A role-play frame (two cues or more) with a demand for exhaustive detail on top. */
  readonly personaDetail: boolean
  /** Harm cues in the visible text (a suffix or a frame around a harmful request is the technique). */
  readonly harm: number
  /** Whether an encoded payload was decoded (its tail is odd by nature, not a suffix attack). */
  readonly encoded: boolean
  /** A short request about a quoted fragment (translate, define, explain it). */
  readonly mention: boolean
  /** Text that decoded to language (Morse, spelling alphabet, reversed, rot13, Atbash, base32, ASCII85, uuencode). */
  readonly decoded: ReadonlyArray<string>
  /** Harm cues found only in a decoded or de-obfuscated carrier (prompts). */
  readonly hiddenHarm: number
  /** Orders that act on the user's assets or override instructions, found only in a decoded carrier. */
  readonly hiddenOrders: number
  /** A text-transformation task wrapped around an order, and what that order asks for. */
  readonly wrapped: { readonly embedded: number; readonly harm: number; readonly orders: number }
  /** Table-likeness of the text, and orders to the reader in the table's tail (data). */
  readonly table: number
  /** Record-likeness (`key: value` lines) of data. */
  readonly record: number
  readonly trailingOrders: number
}

/** The classifier's input. */
export interface Features {
  readonly text: string
  readonly dense: ReadonlyArray<number>
  readonly structure: Structure
}

const cap = (x: number, max: number) => Math.min(x, max) / max

/** Reads `text` (with its normalisation `n`) at `stage`. */
export const featuresOf = (text: string, n: Normalized, stage: AgentAction.Stage): Features => {
  const data = stage === "tool_result"
  // Long texts are read by their first 20 KB, and by their last 4 KB where what matters is the end.
  const textHead = text.length > 20_000 ? text.slice(0, 20_000) : text
  const textTail = text.length > 20_000 ? text.slice(-4_000) : text
  const foldedHead = n.folded.length > 20_000 ? n.folded.slice(0, 20_000) : n.folded
  const code = codeLikeness(textHead)
  // Operators and spread dots in source code read as Morse; code is not decoded.
  const decoded = code >= 0.5
    ? []
    : [
      ...extraDecodings(foldedHead),
      ...rawDecodings(textHead)
    ]
  const base = classifierText(n)
  const folded = decoded.length > 0 ? `${base}\n${decoded.join("\n")}` : base
  const sample = folded.length > 40_000 ? folded.slice(0, 30_000) + "\n" + folded.slice(-10_000) : folded
  const instructions = instructionEvidence(sample)
  const suffix = suffixScore(textTail)
  const framing = personaFraming(sample)
  const persona = framing.score
  // What a decoded carrier says that the visible text does not.
  const carriers = [...decoded, ...n.payloads.map((p) => p.text)].slice(0, 12)
  const leet = n.signals.leet >= 2 && n.leet !== n.collapsed
  const visibleHarm = carriers.length === 0 && !leet ? 0 : harmCues(n.collapsed)
  let hiddenHarm = leet ? harmCues(n.leet.length > 8_000 ? n.leet.slice(0, 8_000) : n.leet) - visibleHarm : 0
  // A request spelled out one marked letter per line is hidden from readers on purpose: no harm word is needed.
  const puzzle = decoded.length > 0 ? decodeMarkedLetters(foldedHead) : undefined
  if (puzzle !== undefined && REQUEST.test(puzzle.trim())) hiddenHarm = Math.max(hiddenHarm, 1)
  let hiddenOrders = 0
  for (const c of carriers) {
    const t = c.length > 4_000 ? c.slice(0, 4_000) : c
    hiddenHarm = Math.max(hiddenHarm, (/\s/.test(t.trim()) ? harmCues(t) : harmCuesUnspaced(t)) - visibleHarm)
    const ev = instructionEvidence(t)
    hiddenOrders = Math.max(hiddenOrders, actionCues(t) + ev.taskSwitch + ev.addressed + ev.forgery)
  }
  const head = sample.length > 4_000 ? sample.slice(0, 4_000) : sample
  const embedded = data ? [] : wrappedOrders(head).orders
  const said = embedded.join("\n")
  const wrapped = embedded.length > 0
    ? { embedded: embedded.length, harm: harmCues(said), orders: actionCues(said) + instructionEvidence(said).taskSwitch }
    : { embedded: 0, harm: 0, orders: 0 }
  const table = data ? tableLikeness(textHead) : 0
  const record = data ? recordLikeness(textHead) : 0
  const trailing = table >= 0.5 ? trailingOrders(textTail) : 0
  const d = data ? 1 : 0
  const dense = [
    d,
    suffix,
    instructions.score,
    d * instructions.score,
    cap(instructions.addressed, 3),
    cap(instructions.taskSwitch, 3),
    cap(instructions.forgery, 3),
    cap(instructions.fakeCompletion, 2),
    cap(instructions.imperatives, 8),
    code,
    d * code,
    persona,
    decoded.length > 0 ? 1 : 0,
    n.payloads.length > 0 ? 1 : 0,
    cap(hiddenHarm + hiddenOrders, 2),
    cap(trailing, 2)
  ]
  const mention = !data && text.length <= 200 && MENTION.test(text.trim())
  return { text: folded, dense, structure: {
      data,
      suffix,
      instructions,
      code,
      persona,
      harm: framing.harm,
      personaDetail: persona > 0 && framing.frame >= 2 && framing.detail > 0,
      decoded,
      mention,
      encoded: decoded.length > 0 || n.payloads.length > 0,
      hiddenHarm: Math.max(0, hiddenHarm),
      hiddenOrders,
      wrapped,
      table,
      record,
      trailingOrders: trailing
    }
  }
}

/**
 * How much of the classifier's probability counts. Source code read as data
 * holds strings and comments that look like instructions; unless it also
 * addresses the assistant, forges a role or switches the task at least twice
 * ("ignore the error" is an ordinary comment, and one "model should" or
 * "agent must" is an identifier talking), the classifier alone counts for
 * 40 % there.
 */
export const classifierScale = (s: Structure): number =>
  (s.data && s.code >= 0.5 && s.instructions.addressed + s.instructions.forgery + s.instructions.taskSwitch < 2) ||
    s.mention
    ? 0.4
    : 1

const REQUEST =
  /^(?:how (?:to|do|can|would)|what (?:is|are) the (?:best|easiest)|give|write|explain|create|describe|provide|list|tell|make|generate|develop|design|teach|outline|show|draft|compose|produce|suggest|offer)\b/

// A short request to translate, define or explain a quoted fragment mentions
// the fragment; it does not use it.
const MENTION =
  /^(?:please |can you |could you )?(?:translate|define|explain|spell|pronounce|paraphrase|what does|what is the meaning of|how do (?:you|i) say)\b[^"'\u201c\u2018]{0,40}["'\u201c\u2018][^"'\u201d\u2019]{1,80}["'\u201d\u2019][^.?!"']{0,40}[.?!]?$/i
