/**
 * The guardrails' offline evaluation, as `patinox eval` and `pnpm eval` run
 * it: the prompt guard (jailbreak / injection detection) and the
 * hallucination detector on JSON Lines files, printed as tables, and
 * optionally written as one JSON object. The evaluators themselves are the
 * validation package's (`@patinox/validation/eval/*`); this module chooses
 * the files and splits, prints, and writes.
 *
 * The default files are the shared development set, `../shared/eval/*_dev.jsonl`
 * beside the repository; on those only the validation split is scored (the
 * rows the trainers held out); any other file is scored whole.
 */
import * as HallucinationEval from "@patinox/validation/eval/hallucination"
import * as LosoEval from "@patinox/validation/eval/loso"
import * as PromptsEval from "@patinox/validation/eval/prompts"
import { Clock, Console, Data, Effect } from "effect"
import { existsSync, writeFileSync } from "node:fs"
import { basename, dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** What one evaluation reads and writes; paths are absolute once resolved. */
export interface EvalOptions {
  readonly prompts: string
  readonly hallucination: string
  /** Where to write the figures as JSON, if anywhere. */
  readonly json?: string | undefined
  /** Only one of the two evaluations. */
  readonly only?: "prompts" | "hallucination" | undefined
  /**
   * Also run the prompt guard's leave-one-source-out evaluation on the prompts
   * file (on both development files when it is one of them); it retrains the
   * classifier once per source family, which takes minutes on the dev files.
   */
  readonly loso?: boolean | undefined
}

/**
 * The figures as `--json` writes them. The keys are what the project is
 * judged on: `prompts` (file, split, malformed, options, overall, bySource)
 * and `hallucination` (the detector's figures as they come).
 */
export interface EvalReport {
  readonly prompts?: {
    readonly file: string
    readonly split: "validation" | "all"
    readonly malformed: number
    readonly options: PromptsEval.PromptFigures["options"]
    readonly overall: PromptsEval.PromptFigureBlock
    readonly bySource: PromptsEval.PromptFigures["bySource"]
  } | undefined
  readonly hallucination?: HallucinationEval.HallucinationFigures | undefined
  /** The prompt guard's leave-one-source-out figures, when they were run. */
  readonly loso?: LosoEval.LosoFigures | undefined
}

/** An input file that is not there: a usage error (exit 2), named with the way out. */
export class EvalFileMissing extends Data.TaggedError("EvalFileMissing")<{ readonly files: ReadonlyArray<string> }> {
  override get message() {
    return this.files.map((file) => `eval data not found: ${file}`).join("\n") +
      "\n(pass --prompts FILE and --hallucination FILE, or put the shared development set at ../shared/eval beside the repository)"
  }
}

/** An evaluation that could not finish (unreadable file, the guard's model missing, the output not writable): exit 1. */
export class EvalFailed extends Data.TaggedError("EvalFailed")<{ readonly message: string }> {}

const messageOf = (error: unknown) => error instanceof Error ? error.message : String(error)

/**
 * The repository this module runs from (the folder holding
 * `pnpm-workspace.yaml`, from source or from the bundled `dist/bin`), else
 * the working directory's.
 */
const repositoryRoot = (): string => {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start;; dir = dirname(dir)) {
      if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir
      if (dirname(dir) === dir) break
    }
  }
  return process.cwd()
}

/** Where the shared development files are: `../shared/eval` beside the repository. */
export const defaultDataDir = (): string => resolve(repositoryRoot(), "../shared/eval")

/** The default input files, in `defaultDataDir()`. */
export const defaultFiles = (): { readonly prompts: string; readonly hallucination: string } => {
  const dir = defaultDataDir()
  return { prompts: join(dir, "prompts_dev.jsonl"), hallucination: join(dir, "hallucination_dev.jsonl") }
}

// ---------------------------------------------------------------------------
// output

const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "n/a")

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

/** Progress on stderr, about every 5 %: the dev files take a minute or more. */
const progress = (label: string) => {
  let shown = -1
  return (done: number, total: number) => {
    const step = Math.floor((done / Math.max(1, total)) * 20)
    if (step === shown && done !== total) return
    shown = step
    process.stderr.write(`\r${label}: ${done}/${total} (${Math.floor((done / Math.max(1, total)) * 100)}%)`)
    if (done === total) process.stderr.write("\n")
  }
}

const PROMPT_HEADER = [
  "source",
  "rows",
  "jailbreak",
  "injection",
  "harmful",
  "benign",
  "recall jb",
  "recall inj",
  "recall attack",
  "benign FPR",
  "harmful flagged",
  "precision",
  "bal. acc."
]

const promptRow = (name: string, b: PromptsEval.PromptFigureBlock): Array<string> => [
  name,
  String(b.counts.rows),
  String(b.counts.jailbreak),
  String(b.counts.injection),
  String(b.counts.harmful),
  String(b.counts.benign),
  pct(b.recall.jailbreak),
  pct(b.recall.injection),
  pct(b.recall.attack),
  pct(b.falsePositiveRate),
  pct(b.harmfulFlagRate),
  pct(b.precision),
  pct(b.balancedAccuracy)
]

const HALU_HEADER = ["source", "rows", "bal. acc.", "precision", "recall", "FPR", "accuracy", "tp/fp/tn/fn"]

const haluRow = (name: string, m: HallucinationEval.Metrics): Array<string> => [
  name,
  String(m.counts.n),
  pct(m.balancedAccuracy),
  pct(m.precision),
  pct(m.recall),
  pct(m.falsePositiveRate),
  pct(m.accuracy),
  `${m.counts.tp}/${m.counts.fp}/${m.counts.tn}/${m.counts.fn}`
]

const isHalluDevFile = (file: string): boolean => basename(file) === "hallucination_dev.jsonl"

// The dev file's summarisation companion joins the per-source and leave-one-source-out block only.
const summarisationBeside = (file: string): ReadonlyArray<string> => {
  const dev2 = join(dirname(file), "hallucination_dev2.jsonl")
  return isHalluDevFile(file) && existsSync(dev2) ? [dev2] : []
}

const seconds = (since: number) => Effect.map(Clock.currentTimeMillis, (now) => ((now - since) / 1000).toFixed(1))

const evaluatePrompts = (file: string) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const split = PromptsEval.isDevFile(file) ? "validation" : "all"
    const figures = yield* Effect.tryPromise({
      try: () => PromptsEval.evaluatePrompts(file, { split, onProgress: progress("prompts") }),
      catch: (error) => new EvalFailed({ message: `prompt guard evaluation failed: ${messageOf(error)}` })
    })
    yield* Console.log(
      `\nPrompt guard: ${figures.file} (${split === "validation" ? "validation split" : "all rows"}; ` +
        `attack threshold ${figures.options.attackThreshold}; ${figures.malformed} malformed lines; ${yield* seconds(started)} s)`
    )
    yield* Console.log(
      "\n" + table(PROMPT_HEADER, [
        ...Object.entries(figures.bySource).map(([source, block]) => promptRow(source, block)),
        promptRow("OVERALL", figures.overall)
      ])
    )
    return {
      file: figures.file,
      split: figures.split,
      malformed: figures.malformed,
      options: figures.options,
      overall: figures.overall,
      bySource: figures.bySource
    }
  })

const evaluateHallucination = (file: string) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const split = isHalluDevFile(file) ? "validation" : "all"
    const figures = yield* Effect.tryPromise({
      try: () =>
        HallucinationEval.evaluateHallucination(file, {
          split,
          onProgress: progress("hallucination"),
          extraFiles: summarisationBeside(file)
        }),
      catch: (error) => new EvalFailed({ message: `hallucination evaluation failed: ${messageOf(error)}` })
    })
    yield* Console.log(
      `\nHallucination detector: ${figures.file} (${split === "validation" ? "validation split" : "all rows"}; ` +
        `${figures.rows} rows; ${figures.malformed} malformed lines; ${yield* seconds(started)} s). Positive class: hallucinated.`
    )
    yield* Console.log(
      "\n" + table(HALU_HEADER, [
        ...Object.entries(figures.bySource).map(([source, m]) => haluRow(source, m)),
        haluRow("OVERALL", figures.overall)
      ])
    )
    yield* Console.log(
      "\nKnowledge-grounded rows (HaluEval QA and any row with a passage): the detector's real use\n" +
        table(HALU_HEADER, [
          haluRow("via SQLite knowledge base", figures.knowledgeGrounded),
          haluRow("via assess (direct)", figures.knowledgeGroundedDirect)
        ])
    )
    yield* Console.log(
      `  paths disagree on ${figures.pathDisagreements} rows. Closed-book rows: ${figures.closedBook.unverifiable} ` +
        `unverifiable, policy "${figures.closedBook.policy}" (not flagged); ` +
        `if flagged instead: bal. acc. ${pct(figures.closedBook.ifFlagged.balancedAccuracy)}, ` +
        `FPR ${pct(figures.closedBook.ifFlagged.falsePositiveRate)}.`
    )
    const g = figures.generalisation
    yield* Console.log(
      `\nPer source and leave-one-source-out (rows with a passage, all splits, ${g.files.map((f) => basename(f)).join(" + ")}; ` +
        `held out: ${g.leaveOneSourceOut.parameters.join(" and ")} fitted on the other sources)\n` +
        table(["source", "rows", "bal. acc.", "held-out threshold/floor", "held-out bal. acc.", "held-out recall", "held-out FPR"], [
          ...Object.entries(g.bySource).map(([source, m]) => {
            const held = g.leaveOneSourceOut.bySource[source]
            return [
              source,
              String(m.counts.n),
              pct(m.balancedAccuracy),
              held === undefined ? "" : `${held.claimThreshold.toFixed(3)}/${held.alignmentFloor.toFixed(2)}`,
              held === undefined ? "" : pct(held.metrics.balancedAccuracy),
              held === undefined ? "" : pct(held.metrics.recall),
              held === undefined ? "" : pct(held.metrics.falsePositiveRate)
            ]
          }),
          ["MACRO", String(g.rows), pct(g.macroBalancedAccuracy), "", pct(g.leaveOneSourceOut.macroBalancedAccuracy), "", ""]
        ])
    )
    return figures
  })

const LOSO_HEADER = ["held-out source", "rows", "recall jb", "recall inj", "recall attack", "benign FPR", "harmful flagged"]

const losoRow = (name: string, b: LosoEval.LosoBlock): Array<string> => [
  name,
  String(b.rows),
  pct(b.recall.jailbreak ?? Number.NaN),
  pct(b.recall.injection ?? Number.NaN),
  pct(b.recall.attack ?? Number.NaN),
  pct(b.falsePositiveRate ?? Number.NaN),
  pct(b.harmfulFlagRate ?? Number.NaN)
]

/** What LOSO trains and scores on: both development files beside a dev file, else the given file alone. */
const losoFiles = (prompts: string): Array<string> =>
  PromptsEval.isDevFile(prompts)
    ? ["prompts_dev.jsonl", "prompts_dev2.jsonl"].map((f) => join(dirname(prompts), f)).filter((f) => existsSync(f))
    : [prompts]

const evaluateLoso = (files: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const figures = yield* Effect.tryPromise({
      try: () => LosoEval.evaluateLoso(files, { onProgress: progress("leave-one-source-out") }),
      catch: (error) => new EvalFailed({ message: `leave-one-source-out evaluation failed: ${messageOf(error)}` })
    })
    const op = figures.operatingPoint
    yield* Console.log(
      `\nPrompt guard, leave-one-source-out (${figures.learner}; ${figures.groups.length} source groups, each scored by a model ` +
        `trained without it; ${yield* seconds(started)} s)\n` +
        `operating point: threshold ${op.attackThreshold}: attack recall ${pct(op.recall.attack)} (jb ${pct(op.recall.jailbreak)}, ` +
        `inj ${pct(op.recall.injection)}), benign FPR ${pct(op.falsePositiveRate)}, harmful flagged ${pct(op.harmfulFlagRate)}; ` +
        `at benign FPR <= 2 %: threshold ${op.atFpr2.threshold.toFixed(3)}, attack recall ${pct(op.atFpr2.recall)}`
    )
    yield* Console.log("\n" + table(LOSO_HEADER, Object.entries(figures.bySource).map(([source, b]) => losoRow(source, b))))
    yield* Console.log(
      "\n" + table(
        ["benign kind", "rows", "benign FPR"],
        Object.entries(figures.benignByKind).map(([kind, b]) => [kind, String(b.rows), pct(b.falsePositiveRate)])
      )
    )
    return figures
  })

/**
 * Runs the evaluations, prints their tables on stdout (progress on stderr),
 * writes the JSON when asked, and returns the figures. Missing input files
 * are all reported before anything runs.
 */
export const run = (options: EvalOptions): Effect.Effect<EvalReport, EvalFileMissing | EvalFailed> =>
  Effect.gen(function*() {
    const wantPrompts = options.only !== "hallucination"
    const wantHallucination = options.only !== "prompts"
    const missing = [
      ...(wantPrompts && !existsSync(options.prompts) ? [options.prompts] : []),
      ...(wantHallucination && !existsSync(options.hallucination) ? [options.hallucination] : [])
    ]
    if (missing.length > 0) return yield* new EvalFileMissing({ files: missing })
    const started = yield* Clock.currentTimeMillis
    const report: EvalReport = {
      ...(wantPrompts ? { prompts: yield* evaluatePrompts(options.prompts) } : {}),
      ...(wantHallucination ? { hallucination: yield* evaluateHallucination(options.hallucination) } : {}),
      ...(wantPrompts && options.loso === true ? { loso: yield* evaluateLoso(losoFiles(options.prompts)) } : {})
    }
    yield* Console.error(`eval: done in ${yield* seconds(started)} s`)
    const out = options.json
    if (out !== undefined) {
      yield* Effect.try({
        try: () => writeFileSync(out, JSON.stringify(report, null, 2) + "\n"),
        catch: (error) => new EvalFailed({ message: `cannot write ${out}: ${messageOf(error)}` })
      })
      yield* Console.error(`eval: wrote ${out}`)
    }
    return report
  }).pipe(Effect.withSpan("patinox eval"))
