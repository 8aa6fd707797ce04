/**
 * What the prompt guard's classifier reads, built the same way at training
 * and at scoring time: the de-obfuscated text with every decoded payload, and
 * a few dense structural values that do not depend on seen strings.
 *
 * @internal
 */
import type { AgentAction } from "@patinox/core"
import { codeLikeness, instructionEvidence } from "./dataInstructions.js"
import type { InstructionEvidence } from "./dataInstructions.js"
import { extraDecodings } from "./decode.js"
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
  /** Whether an encoded payload was decoded (its tail is odd by nature, not a suffix attack). */
  readonly encoded: boolean
  /** A short request about a quoted fragment (translate, define, explain it). */
  readonly mention: boolean
  /** Morse or reversed text that decoded to language. */
  readonly decoded: ReadonlyArray<string>
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
  const code = codeLikeness(text.length > 20_000 ? text.slice(0, 20_000) : text)
  // Operators and spread dots in source code read as Morse; code is not decoded.
  const decoded = code >= 0.5 ? [] : extraDecodings(n.folded.length > 20_000 ? n.folded.slice(0, 20_000) : n.folded)
  const base = classifierText(n)
  const folded = decoded.length > 0 ? `${base}\n${decoded.join("\n")}` : base
  const sample = folded.length > 40_000 ? folded.slice(0, 30_000) + "\n" + folded.slice(-10_000) : folded
  const instructions = instructionEvidence(sample)
  const suffix = suffixScore(text.length > 20_000 ? text.slice(-4_000) : text)
  const persona = personaFraming(sample).score
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
    n.payloads.length > 0 ? 1 : 0
  ]
  const mention = !data && text.length <= 200 && MENTION.test(text.trim())
  return { text: folded, dense, structure: {
      data,
      suffix,
      instructions,
      code,
      persona,
      decoded,
      mention,
      encoded: decoded.length > 0 || n.payloads.length > 0
    }
  }
}

/**
 * How much of the classifier's probability counts. Source code read as data
 * holds strings and comments that look like instructions; unless it also
 * addresses the assistant or forges a role ("ignore the error" is an ordinary
 * comment), the classifier alone counts for 40 % there.
 */
export const classifierScale = (s: Structure): number =>
  (s.data && s.code >= 0.5 && s.instructions.addressed + s.instructions.forgery === 0) || s.mention
    ? 0.4
    : 1

// A short request to translate, define or explain a quoted fragment mentions
// the fragment; it does not use it.
const MENTION =
  /^(?:please |can you |could you )?(?:translate|define|explain|spell|pronounce|paraphrase|what does|what is the meaning of|how do (?:you|i) say)\b[^"'\u201c\u2018]{0,40}["'\u201c\u2018][^"'\u201d\u2019]{1,80}["'\u201d\u2019][^.?!"']{0,40}[.?!]?$/i
