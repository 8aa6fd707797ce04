/**
 * `pnpm eval [--prompts FILE] [--hallucination FILE] [--json OUT] [--only prompts|hallucination]`
 *
 * Offline evaluation of the guardrails on JSON Lines files: the prompt guard
 * (jailbreak / injection detection) and the hallucination detector. Defaults
 * are the shared development files, `../shared/eval/*_dev.jsonl` beside the
 * repository; on those only the validation split is scored (the rows the
 * trainers held out); any other file is scored whole.
 *
 * Exit codes: 0 done, 1 an evaluation failed, 2 bad arguments or a missing file.
 */
import { existsSync, writeFileSync } from "node:fs"
import { basename, dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as HallucinationEval from "../packages/validation/eval/hallucination.js"
import * as PromptsEval from "../packages/validation/eval/prompts.js"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const sharedEval = resolve(root, "../shared/eval")

const USAGE =
  "usage: pnpm eval [--prompts FILE] [--hallucination FILE] [--json OUT] [--only prompts|hallucination]"

class UsageError extends Error {}

interface Args {
  readonly prompts: string
  readonly hallucination: string
  readonly json: string | undefined
  readonly only: "prompts" | "hallucination" | undefined
}

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  let prompts = join(sharedEval, "prompts_dev.jsonl")
  let hallucination = join(sharedEval, "hallucination_dev.jsonl")
  let json: string | undefined
  let only: Args["only"]
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case "--prompts":
        prompts = resolve(value())
        break
      case "--hallucination":
        hallucination = resolve(value())
        break
      case "--json":
        json = resolve(value())
        break
      case "--only": {
        const v = value()
        if (v !== "prompts" && v !== "hallucination") throw new UsageError(`--only takes prompts or hallucination, got ${v}`)
        only = v
        break
      }
      case "--help":
      case "-h":
        console.log(USAGE)
        process.exit(0)
        break
      default:
        throw new UsageError(`unknown argument: ${flag}`)
    }
  }
  return { prompts, hallucination, json, only }
}

// ---------------------------------------------------------------------------
// output

const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "n/a")

const table = (title: string, header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")
  return [title, line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

/** Progress on stderr, about every 5 %. */
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

const HALU_HEADER = ["source", "rows", "bal. acc.", "precision", "recall", "FPR", "accuracy", "tp/fp/tn/fn"]

const isHalluDevFile = (file: string): boolean => basename(file) === "hallucination_dev.jsonl"

// ---------------------------------------------------------------------------

const main = async (): Promise<number> => {
  let args: Args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`eval: ${error.message}\n${USAGE}`)
      return 2
    }
    throw error
  }
  const wantPrompts = args.only !== "hallucination"
  const wantHallucination = args.only !== "prompts"
  const missing = [
    ...(wantPrompts && !existsSync(args.prompts) ? [`prompts file not found: ${args.prompts}`] : []),
    ...(wantHallucination && !existsSync(args.hallucination)
      ? [`hallucination file not found: ${args.hallucination}`]
      : [])
  ]
  if (missing.length > 0) {
    for (const m of missing) console.error(`eval: ${m}`)
    console.error(USAGE)
    return 2
  }

  const started = performance.now()
  const out: { prompts?: unknown; hallucination?: unknown } = {}

  if (wantPrompts) {
    const t0 = performance.now()
    const split = PromptsEval.isDevFile(args.prompts) ? "validation" : "all"
    const figures = await PromptsEval.evaluatePrompts(args.prompts, { split, onProgress: progress("prompts") })
    const seconds = (performance.now() - t0) / 1000
    console.log(
      `\nPrompt guard: ${figures.file} (${split === "validation" ? "validation split" : "all rows"}; ` +
        `attack threshold ${figures.options.attackThreshold}; ${figures.malformed} malformed lines; ${seconds.toFixed(1)} s)`
    )
    console.log(
      table("", PROMPT_HEADER, [
        ...Object.entries(figures.bySource).map(([source, block]) => promptRow(source, block)),
        promptRow("OVERALL", figures.overall)
      ])
    )
    out.prompts = {
      file: figures.file,
      split: figures.split,
      malformed: figures.malformed,
      options: figures.options,
      overall: figures.overall,
      bySource: figures.bySource
    }
  }

  if (wantHallucination) {
    const t0 = performance.now()
    const split = isHalluDevFile(args.hallucination) ? "validation" : "all"
    const figures = await HallucinationEval.evaluateHallucination(args.hallucination, {
      split,
      onProgress: progress("hallucination")
    })
    const seconds = (performance.now() - t0) / 1000
    console.log(
      `\nHallucination detector: ${figures.file} (${split === "validation" ? "validation split" : "all rows"}; ` +
        `${figures.rows} rows; ${figures.malformed} malformed lines; ${seconds.toFixed(1)} s). Positive class: hallucinated.`
    )
    console.log(
      table("", HALU_HEADER, [
        ...Object.entries(figures.bySource).map(([source, m]) => haluRow(source, m)),
        haluRow("OVERALL", figures.overall)
      ])
    )
    console.log(
      table(
        "\nKnowledge-grounded rows (HaluEval QA and any row with a passage): the detector's real use",
        HALU_HEADER,
        [
          haluRow("via SQLite knowledge base", figures.knowledgeGrounded),
          haluRow("via assess (direct)", figures.knowledgeGroundedDirect)
        ]
      )
    )
    console.log(
      `  paths disagree on ${figures.pathDisagreements} rows. Closed-book rows: ${figures.closedBook.unverifiable} ` +
        `unverifiable, policy "${figures.closedBook.policy}" (not flagged); ` +
        `if flagged instead: bal. acc. ${pct(figures.closedBook.ifFlagged.balancedAccuracy)}, ` +
        `FPR ${pct(figures.closedBook.ifFlagged.falsePositiveRate)}.`
    )
    out.hallucination = figures
  }

  console.error(`eval: done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  if (args.json !== undefined) {
    writeFileSync(args.json, JSON.stringify(out, null, 2) + "\n")
    console.error(`eval: wrote ${args.json}`)
  }
  return 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error("eval failed:", error)
    process.exitCode = 1
  }
)
