/**
 * Offline evaluation of the hallucination detector on a JSON Lines file of
 * `{knowledge, question, answer, label: "grounded"|"hallucinated", source, meta}`.
 * Positive class: hallucinated.
 *
 * - Rows with a knowledge passage go through the real path: every passage is
 *   indexed in a temporary SQLite FTS5 knowledge base and each answer is
 *   checked with `HallucinationDetector.check`, scoped to its row's passage.
 *   The pure `assess` path is also run on the same rows and reported beside
 *   it (`knowledgeGroundedDirect`).
 * - Closed-book rows (no knowledge) have no evidence: the detector reports
 *   them as unverifiable and, by its default policy, does not flag them.
 *   Their figures are reported as they come out (recall 0 by construction).
 * - The detector's default thresholds were chosen on the `train` part of a
 *   deterministic split (FNV-1a of question + answer, 70/30); the default
 *   report is the `validation` part only.
 *
 * Run: `pnpm eval --only hallucination [--hallucination FILE]` (or `patinox eval`);
 * importable, no side effects: a bundle holding it must not run it.
 *
 * @since 0.1.0
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as HallucinationDetector from "../src/HallucinationDetector.js"
import { defaultJudgeBand } from "../src/HallucinationValidator.js"
import * as KnowledgeBase from "../src/KnowledgeBase.js"
import { Hash } from "@patinox/core"

/** @since 0.1.0 */
export interface Row {
  readonly knowledge: string
  readonly question: string
  readonly answer: string
  readonly label: "grounded" | "hallucinated"
  readonly source: string
}

/** @since 0.1.0 */
export interface Counts {
  readonly tp: number
  readonly fp: number
  readonly tn: number
  readonly fn: number
  readonly n: number
}

/** @since 0.1.0 */
export interface Metrics {
  readonly balancedAccuracy: number
  readonly accuracy: number
  readonly precision: number
  readonly recall: number
  readonly falsePositiveRate: number
  readonly counts: Counts
}

/** @since 0.1.0 */
export interface HallucinationFigures {
  readonly file: string
  readonly split: "validation" | "all"
  readonly rows: number
  readonly malformed: number
  readonly overall: Metrics
  readonly bySource: Readonly<Record<string, Metrics>>
  /** Rows with a knowledge passage, through the SQLite knowledge base. */
  readonly knowledgeGrounded: Metrics
  /** The same rows through the pure `assess` function. */
  readonly knowledgeGroundedDirect: Metrics
  /** How many knowledge rows the two paths decided differently. */
  readonly pathDisagreements: number
  /**
   * Per-source and leave-one-source-out figures over every row with a
   * knowledge passage (all splits, the extra files included), through `assess`.
   */
  readonly generalisation: Generalisation
  /** Closed-book rows: no evidence, so not flagged ("cannot verify"). */
  readonly closedBook: {
    readonly policy: "pass"
    readonly unverifiable: number
    readonly metrics: Metrics
    /** The same rows under the other policy (`whenUnverifiable: "flag"`): everything flagged. */
    readonly ifFlagged: Metrics
  }
}

/** The held-out figures of one source when the threshold is fitted on the others. @since 0.1.0 */
export interface HeldOut {
  /** The claim threshold and alignment floor fitted on the other sources (best mean balanced accuracy over them). */
  readonly claimThreshold: number
  readonly alignmentFloor: number
  /** The other sources' mean balanced accuracy at that threshold. */
  readonly trainBalancedAccuracy: number
  readonly metrics: Metrics
}

/** @since 0.1.0 */
export interface Generalisation {
  readonly files: ReadonlyArray<string>
  readonly rows: number
  /** The detector's options as configured (the shipped defaults unless overridden). */
  readonly bySource: Readonly<Record<string, Metrics>>
  /** Mean over sources of the per-source balanced accuracy at the configured options. */
  readonly macroBalancedAccuracy: number
  readonly leaveOneSourceOut: {
    readonly parameters: ReadonlyArray<"claimThreshold" | "alignmentFloor">
    readonly bySource: Readonly<Record<string, HeldOut>>
    /** Mean over sources of the held-out balanced accuracy. */
    readonly macroBalancedAccuracy: number
  }
  /**
   * The rows a configured model judge would be asked about: those whose
   * margin (`HallucinationDetector.margin`) lies in the validator's default
   * judge band; the others the rules decide alone.
   */
  readonly judgeBand: {
    readonly band: readonly [number, number]
    /** Share of the rows in the band, over all sources. */
    readonly share: number
    readonly bySource: Readonly<Record<string, { readonly rows: number; readonly inBand: number }>>
  }
}

/** The split hash (shared with the trainer). */
export const fnv1a = Hash.fnv1a

/** 70/30 deterministic split on question + answer. @since 0.1.0 */
export const splitOf = (row: Pick<Row, "question" | "answer">): "train" | "validation" =>
  fnv1a(`${row.question}\u0000${row.answer}`) % 100 < 70 ? "train" : "validation"

/** Reads rows, counting lines that are not valid rows. @since 0.1.0 */
export const readRows = (file: string): { readonly rows: Array<Row>; readonly malformed: number } => {
  const rows: Array<Row> = []
  let malformed = 0
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue
    try {
      const value: unknown = JSON.parse(line)
      if (typeof value !== "object" || value === null) throw new Error("not an object")
      const r = value as Record<string, unknown>
      if (
        typeof r.question !== "string" || typeof r.answer !== "string" || typeof r.source !== "string" ||
        (r.label !== "grounded" && r.label !== "hallucinated")
      ) throw new Error("missing fields")
      rows.push({
        knowledge: typeof r.knowledge === "string" ? r.knowledge : "",
        question: r.question,
        answer: r.answer,
        label: r.label,
        source: r.source
      })
    } catch {
      malformed++
    }
  }
  return { rows, malformed }
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b)

/** @since 0.1.0 */
export const metrics = (pairs: ReadonlyArray<{ readonly actual: boolean; readonly predicted: boolean }>): Metrics => {
  let tp = 0, fp = 0, tn = 0, fn = 0
  for (const { actual, predicted } of pairs) {
    if (actual && predicted) tp++
    else if (!actual && predicted) fp++
    else if (!actual && !predicted) tn++
    else fn++
  }
  const recall = ratio(tp, tp + fn)
  const specificity = ratio(tn, tn + fp)
  const positives = tp + fn
  const negatives = tn + fp
  const balancedAccuracy = positives === 0 ? specificity : negatives === 0 ? recall : (recall + specificity) / 2
  return {
    balancedAccuracy,
    accuracy: ratio(tp + tn, tp + fp + tn + fn),
    precision: ratio(tp, tp + fp),
    recall,
    falsePositiveRate: ratio(fp, fp + tn),
    counts: { tp, fp, tn, fn, n: tp + fp + tn + fn }
  }
}

/** The claim thresholds and alignment floors the leave-one-source-out fit tries. */
const GRID: ReadonlyArray<{ readonly claimThreshold: number; readonly alignmentFloor: number }> = Array.from(
  { length: 41 },
  (_, i) => Array.from({ length: 7 }, (_, j) => ({ claimThreshold: i / 40, alignmentFloor: 0.2 + j * 0.05 }))
).flat()

const mean = (xs: ReadonlyArray<number>): number => xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length

/**
/**
 * Per-source figures, and for each source the threshold fitted on all the
 * others and scored on it: the figure that says whether a threshold carries
 * over to text it was not chosen on.
 */
export const generalisation = (
  files: ReadonlyArray<string>,
  rows: ReadonlyArray<Row>,
  detector: HallucinationDetector.Options | undefined
): Generalisation => {
  const scored = rows.filter((r) => r.knowledge.trim() !== "").map((row) => {
    const assessment = HallucinationDetector.assess(
      { question: row.question, answer: row.answer, evidence: [row.knowledge] },
      detector
    )
    return {
      source: row.source,
      actual: row.label === "hallucinated",
      predicted: assessment.hallucinated,
      margin: HallucinationDetector.margin(assessment, detector),
      at: GRID.map((point) => HallucinationDetector.flaggedAt(assessment, { ...detector, ...point }))
    }
  })
  const sources = [...new Set(scored.map((r) => r.source))].sort()
  const bySource: Record<string, Metrics> = {}
  // balanced accuracy of every source at every threshold
  const grid = new Map<string, Array<number>>()
  for (const source of sources) {
    const mine = scored.filter((r) => r.source === source)
    bySource[source] = metrics(mine)
    grid.set(source, GRID.map((_, i) => metrics(mine.map((r) => ({ actual: r.actual, predicted: r.at[i]! }))).balancedAccuracy))
  }
  const heldOut: Record<string, HeldOut> = {}
  for (const source of sources) {
    const others = sources.filter((s) => s !== source)
    let best = 0
    let bestScore = -1
    GRID.forEach((_, i) => {
      const score = mean(others.map((s) => grid.get(s)![i]!))
      if (score > bestScore) {
        bestScore = score
        best = i
      }
    })
    const mine = scored.filter((r) => r.source === source)
    heldOut[source] = {
      claimThreshold: GRID[best]!.claimThreshold,
      alignmentFloor: GRID[best]!.alignmentFloor,
      trainBalancedAccuracy: bestScore,
      metrics: metrics(mine.map((r) => ({ actual: r.actual, predicted: r.at[best]! })))
    }
  }
  const [low, high] = defaultJudgeBand
  const inBand = (r: { readonly margin: number }) => r.margin >= low && r.margin < high
  const judged: Record<string, { rows: number; inBand: number }> = {}
  for (const source of sources) {
    const mine = scored.filter((r) => r.source === source)
    judged[source] = { rows: mine.length, inBand: mine.filter(inBand).length }
  }
  return {
    files,
    rows: scored.length,
    bySource,
    macroBalancedAccuracy: mean(sources.map((s) => bySource[s]!.balancedAccuracy)),
    leaveOneSourceOut: {
      parameters: ["claimThreshold", "alignmentFloor"],
      bySource: heldOut,
      macroBalancedAccuracy: mean(sources.map((s) => heldOut[s]!.metrics.balancedAccuracy))
    },
    judgeBand: { band: defaultJudgeBand, share: ratio(scored.filter(inBand).length, scored.length), bySource: judged }
  }
}

const docIdOf = (knowledge: string): string => `k${fnv1a(knowledge).toString(36)}-${knowledge.length}`

/**
 * Evaluates the detector on a file; by default only the validation split.
 *
 * @since 0.1.0
 */
export const evaluateHallucination = async (
  file: string,
  options: {
    readonly onProgress?: (done: number, total: number) => void
    readonly split?: "validation" | "all"
    readonly detector?: HallucinationDetector.Options
    /**
     * More files scored only for the per-source and leave-one-source-out
     * block (`generalisation`), whole: e.g. the summarisation set beside the QA set.
     */
    readonly extraFiles?: ReadonlyArray<string>
  } = {}
): Promise<HallucinationFigures> => {
  const split = options.split ?? "validation"
  const { rows: all, malformed } = readRows(file)
  const rows = split === "all" ? all : all.filter((r) => splitOf(r) === "validation")
  const grounded = rows.filter((r) => r.knowledge.trim() !== "")
  const total = rows.length
  let done = 0
  const tick = () => {
    done++
    if (options.onProgress !== undefined && (done % 50 === 0 || done === total)) options.onProgress(done, total)
  }

  const dir = mkdtempSync(join(tmpdir(), "patinox-halu-eval-"))
  const viaKb = new Map<Row, boolean>()
  try {
    const detectorLayer = HallucinationDetector.layerWith(options.detector ?? {}).pipe(
      Layer.provideMerge(KnowledgeBase.layer),
      Layer.provide(SqliteClient.layer({ filename: join(dir, "kb.sqlite") }))
    )
    const program = Effect.gen(function*() {
      const kb = yield* KnowledgeBase.KnowledgeBase
      const detector = yield* HallucinationDetector.HallucinationDetector
      const unique = new Map<string, string>()
      for (const row of grounded) unique.set(docIdOf(row.knowledge), row.knowledge)
      yield* kb.addMany([...unique].map(([id, text]) => ({ id, text, source: "eval" })))
      for (const row of grounded) {
        const assessment = yield* detector.check({
          question: row.question,
          answer: row.answer,
          scope: [docIdOf(row.knowledge)]
        })
        viaKb.set(row, assessment.hallucinated)
        tick()
      }
    })
    await Effect.runPromise(Effect.provide(program, detectorLayer))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  const results: Array<{ row: Row; actual: boolean; predicted: boolean; direct: boolean; verifiable: boolean }> = []
  for (const row of rows) {
    const assessment = HallucinationDetector.assess(
      { question: row.question, answer: row.answer, evidence: row.knowledge.trim() === "" ? [] : [row.knowledge] },
      options.detector
    )
    const kbDecision = viaKb.get(row)
    if (kbDecision === undefined) tick()
    results.push({
      row,
      actual: row.label === "hallucinated",
      predicted: kbDecision ?? assessment.hallucinated,
      direct: assessment.hallucinated,
      verifiable: assessment.verifiable
    })
  }

  const bySource: Record<string, Metrics> = {}
  for (const source of [...new Set(results.map((r) => r.row.source))].sort()) {
    bySource[source] = metrics(results.filter((r) => r.row.source === source))
  }
  const extraFiles = options.extraFiles ?? []
  const figures = generalisation(
    [file, ...extraFiles],
    [...all, ...extraFiles.flatMap((extra) => readRows(extra).rows)],
    options.detector
  )
  const knowledgeRows = results.filter((r) => r.row.knowledge.trim() !== "")
  const closedRows = results.filter((r) => r.row.knowledge.trim() === "")
  return {
    file,
    split,
    rows: rows.length,
    malformed,
    overall: metrics(results),
    bySource,
    knowledgeGrounded: metrics(knowledgeRows),
    knowledgeGroundedDirect: metrics(knowledgeRows.map((r) => ({ actual: r.actual, predicted: r.direct }))),
    pathDisagreements: knowledgeRows.filter((r) => r.predicted !== r.direct).length,
    generalisation: figures,
    closedBook: {
      policy: "pass",
      unverifiable: closedRows.filter((r) => !r.verifiable).length,
      metrics: metrics(closedRows),
      ifFlagged: metrics(closedRows.map((r) => ({ actual: r.actual, predicted: r.verifiable ? r.predicted : true })))
    }
  }
}
