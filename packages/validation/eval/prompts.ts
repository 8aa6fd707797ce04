/**
 * Offline evaluation of the prompt guard on a JSON Lines file of
 * `{text, label: jailbreak|injection|harmful|benign, source, meta}` rows.
 * Importable, no side effects: the `pnpm eval` CLI wraps
 * {@link evaluatePrompts}.
 *
 * On the development file the default split is "validation": the rows that
 * the training script held out (same hash split, {@link splitOf}).
 */
import { createReadStream } from "node:fs"
import { basename } from "node:path"
import { createInterface } from "node:readline"
import { Either } from "effect"
import * as PromptGuard from "../src/PromptGuard.js"
import { Hash } from "@patinox/core"

/** Row labels of the evaluation files. */
export type PromptLabel = "jailbreak" | "injection" | "harmful" | "benign"

/** One evaluation row. */
export interface PromptRow {
  readonly text: string
  readonly label: PromptLabel
  readonly source: string
  /** `meta.kind` when the row has one (prompt, tool_output, document, table, table_task, code, encoded). */
  readonly kind?: string
}

/** The split hash (shared with the trainer). */
export const fnv1a = Hash.fnv1a

/**
 * The deterministic train/validation split shared by training and
 * evaluation: ~70 % train, ~30 % validation by a hash of the text, so
 * duplicate texts always land on the same side.
 */
export const splitOf = (text: string): "train" | "validation" => (fnv1a(text) % 100 < 70 ? "train" : "validation")

const LABELS: ReadonlySet<string> = new Set(["jailbreak", "injection", "harmful", "benign"])

/** Parses one JSONL line; `undefined` when malformed. */
export const parseRow = (line: string): PromptRow | undefined => {
  let u: unknown
  try {
    u = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof u !== "object" || u === null) return undefined
  const o = u as Record<string, unknown>
  const text = o["text"]
  const label = o["label"]
  const source = o["source"]
  if (typeof text !== "string" || typeof label !== "string" || !LABELS.has(label)) return undefined
  const meta = o["meta"]
  const kind = typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>)["kind"] : undefined
  return {
    text,
    label: label as PromptLabel,
    source: typeof source === "string" ? source : "unknown",
    ...(typeof kind === "string" ? { kind } : {})
  }
}

/** Reads a JSONL file; malformed lines are counted, not fatal. */
export const readRows = async (
  file: string
): Promise<{ readonly rows: ReadonlyArray<PromptRow>; readonly malformed: number }> => {
  const rows: Array<PromptRow> = []
  let malformed = 0
  const rl = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity })
  for await (const line of rl) {
    if (line.trim().length === 0) continue
    const row = parseRow(line)
    if (row === undefined) malformed++
    else rows.push(row)
  }
  return { rows, malformed }
}

/** Counts behind one block of figures. */
export interface PromptCounts {
  readonly rows: number
  readonly jailbreak: number
  readonly injection: number
  readonly harmful: number
  readonly benign: number
  readonly jailbreakFlagged: number
  readonly injectionFlagged: number
  readonly harmfulFlagged: number
  readonly benignFlagged: number
  /** Benign rows that got at least a "suspicious" verdict. */
  readonly benignSuspicious: number
  /** Attack rows that got at least a "suspicious" verdict. */
  readonly attackSuspicious: number
}

/** Figures for a set of rows. "Flagged" means verdict "attack". */
export interface PromptFigureBlock {
  readonly recall: { readonly jailbreak: number; readonly injection: number; readonly attack: number }
  /** Share of benign rows flagged. */
  readonly falsePositiveRate: number
  /** Share of harmful (moderation, not attack) rows flagged: reported, not a target. */
  readonly harmfulFlagRate: number
  /** Flagged attacks over all flagged rows, harmful excluded. */
  readonly precision: number
  /** Mean of attack recall and benign specificity. */
  readonly balancedAccuracy: number
  readonly counts: PromptCounts
}

/** The result of {@link evaluatePrompts}. */
export interface PromptFigures {
  readonly file: string
  readonly split: "validation" | "all"
  readonly malformed: number
  readonly options: PromptGuard.Options
  readonly overall: PromptFigureBlock
  readonly bySource: Readonly<Record<string, PromptFigureBlock>>
}

/** Mutable counts while tallying. */
export type MutableCounts = { -readonly [K in keyof PromptCounts]: PromptCounts[K] }

const emptyCounts = (): MutableCounts => ({
  rows: 0,
  jailbreak: 0,
  injection: 0,
  harmful: 0,
  benign: 0,
  jailbreakFlagged: 0,
  injectionFlagged: 0,
  harmfulFlagged: 0,
  benignFlagged: 0,
  benignSuspicious: 0,
  attackSuspicious: 0
})

const ratio = (a: number, b: number): number => (b === 0 ? Number.NaN : a / b)

/** Turns counts into figures. */
export const figuresOf = (c: PromptCounts): PromptFigureBlock => {
  const attacks = c.jailbreak + c.injection
  const attackFlagged = c.jailbreakFlagged + c.injectionFlagged
  const recallAttack = ratio(attackFlagged, attacks)
  const fpr = ratio(c.benignFlagged, c.benign)
  const balanced = Number.isNaN(recallAttack)
    ? 1 - fpr
    : Number.isNaN(fpr)
    ? recallAttack
    : (recallAttack + (1 - fpr)) / 2
  return {
    recall: {
      jailbreak: ratio(c.jailbreakFlagged, c.jailbreak),
      injection: ratio(c.injectionFlagged, c.injection),
      attack: recallAttack
    },
    falsePositiveRate: fpr,
    harmfulFlagRate: ratio(c.harmfulFlagged, c.harmful),
    precision: ratio(attackFlagged, attackFlagged + c.benignFlagged),
    balancedAccuracy: balanced,
    counts: c
  }
}

/** Adds one scored row to a block of counts. */
export const tally = (c: MutableCounts, label: PromptLabel, verdict: PromptGuard.Analysis["verdict"]): void => {
  c.rows++
  c[label]++
  const flagged = verdict === "attack"
  const atLeastSuspicious = verdict !== "benign"
  if (flagged) c[`${label}Flagged`]++
  if (label === "benign" && atLeastSuspicious) c.benignSuspicious++
  if ((label === "jailbreak" || label === "injection") && atLeastSuspicious) c.attackSuspicious++
}

/** The development file of the shared evaluation data. */
export const isDevFile = (file: string): boolean => basename(file) === "prompts_dev.jsonl" || basename(file) === "prompts_dev2.jsonl"

/**
 * Scores every row (or the validation split of the dev file) and returns
 * figures overall and per source.
 */
export const evaluatePrompts = async (
  file: string,
  options: {
    readonly split: "validation" | "all"
    readonly onProgress?: (done: number, total: number) => void
    readonly guard?: PromptGuard.Service
  }
): Promise<PromptFigures> => {
  const guard = options.guard ?? Either.getOrThrowWith(PromptGuard.loadSync(), (e) => e)
  const { malformed, rows } = await readRows(file)
  const selected = options.split === "validation" ? rows.filter((r) => splitOf(r.text) === "validation") : rows
  const overall = emptyCounts()
  const bySource = new Map<string, MutableCounts>()
  const step = Math.max(1, Math.floor(selected.length / 20))
  for (const [i, row] of selected.entries()) {
    const verdict = guard.analyze(row.text, PromptGuard.stageOfKind(row.kind)).verdict
    tally(overall, row.label, verdict)
    let c = bySource.get(row.source)
    if (c === undefined) {
      c = emptyCounts()
      bySource.set(row.source, c)
    }
    tally(c, row.label, verdict)
    if (options.onProgress !== undefined && ((i + 1) % step === 0 || i + 1 === selected.length)) {
      options.onProgress(i + 1, selected.length)
    }
  }
  const sources: Record<string, PromptFigureBlock> = {}
  for (const [k, v] of [...bySource.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) sources[k] = figuresOf(v)
  return {
    file,
    split: options.split,
    malformed,
    options: guard.options,
    overall: figuresOf(overall),
    bySource: sources
  }
}
