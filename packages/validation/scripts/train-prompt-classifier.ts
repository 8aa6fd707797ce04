/**
 * Trains the prompt guard's classifier (logistic regression over hashed word
 * and character n-grams plus structural signals; see src/internal/linear.ts)
 * on the train split of the development files and writes
 * `models/prompt-classifier.bin` (binary: a JSON header, then int16 weights;
 * see src/internal/linear.ts), then prints the validation-split figures.
 * Deterministic: the split is a hash of the text and the optimiser is seeded.
 *
 *   npx tsx --conditions=@patinox/source packages/validation/scripts/train-prompt-classifier.ts \
 *     [--data FILE[,FILE]] [--out FILE] [--no-write] [--epochs N] [--l2 X] [--lr X]
 *
 * Labels: jailbreak and injection are attacks; benign and harmful are not.
 * Harmful requests are a moderation concern, not an attack on the prompt:
 * training them as negatives teaches the model that a plain (even nasty)
 * request is not a jailbreak, and the eval reports their flag rate
 * separately. Validation rows are never trained on. The rows' `meta.kind`
 * gives the stage the text is read at (data kinds are tool results).
 */
import { existsSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Either } from "effect"
import { evaluatePrompts, readRows, splitOf } from "../eval/prompts.js"
import type { PromptRow } from "../eval/prompts.js"
import * as Linear from "../src/internal/linear.js"
import * as Trainer from "../src/internal/trainer.js"
import * as PromptGuard from "../src/PromptGuard.js"

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, "../../..")

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const defaultData = ["prompts_dev.jsonl", "prompts_dev2.jsonl"]
  .map((f) => join(repoRoot, "../shared/eval", f))
  .filter((f) => existsSync(f))
const dataFiles = (arg("--data")?.split(",") ?? defaultData).map((f) => resolve(f))
const outFile = resolve(arg("--out") ?? join(here, "../models/prompt-classifier.bin"))
const write = !process.argv.includes("--no-write")

const options: Linear.TrainOptions = {
  ...Linear.defaultTrainOptions,
  epochs: Number(arg("--epochs") ?? Linear.defaultTrainOptions.epochs),
  l2: Number(arg("--l2") ?? Linear.defaultTrainOptions.l2),
  learningRate: Number(arg("--lr") ?? Linear.defaultTrainOptions.learningRate)
}

const pct = (x: number) => (Number.isNaN(x) ? "  n/a" : `${(100 * x).toFixed(1).padStart(5)}%`)

const main = async () => {
  const started = performance.now()
  const rows: Array<PromptRow> = []
  for (const file of dataFiles) {
    const { malformed, rows: read } = await readRows(file)
    console.log(`data: ${file}: ${read.length} rows (${malformed} malformed)`)
    rows.push(...read)
  }
  const prepared = Trainer.prepare(rows.map((r) => ({ text: r.text, label: r.label, stage: PromptGuard.stageOfKind(r.kind) })))
  const isTrain = rows.map((r) => splitOf(r.text) === "train")
  const byLabel: Record<string, number> = {}
  for (const [i, r] of rows.entries()) if (isTrain[i]) byLabel[r.label] = (byLabel[r.label] ?? 0) + 1
  const model = Trainer.fit(prepared, (i) => isTrain[i] === true, options)
  const bytes = Linear.toBytes(model, {
    trainedOn: "train split (fnv1a(text) % 100 < 70) of the development prompt files",
    trainRowsByLabel: byLabel,
    negatives: "benign + harmful",
    options
  })
  console.log(`model: 2^${Linear.BITS} buckets + ${Linear.DENSE} dense, ${(bytes.length / 1024).toFixed(0)} KiB, calibration a=${model.calibration.a.toFixed(3)} b=${model.calibration.b.toFixed(3)}`)
  if (write) writeFileSync(outFile, bytes)

  const guard = Either.getOrThrowWith(PromptGuard.fromBytes(bytes), (e) => e)
  const line = (name: string, f: Awaited<ReturnType<typeof evaluatePrompts>>["overall"]) =>
    console.log(
      `${name.padEnd(46)} n=${String(f.counts.rows).padStart(5)} jb=${pct(f.recall.jailbreak)} inj=${pct(f.recall.injection)} att=${pct(f.recall.attack)} fpr=${pct(f.falsePositiveRate)} harm=${pct(f.harmfulFlagRate)}`
    )
  for (const file of dataFiles) {
    const figures = await evaluatePrompts(file, { split: "validation", guard })
    console.log(`validation split of ${file} at ${JSON.stringify(guard.options)}:`)
    line("overall", figures.overall)
    for (const [k, v] of Object.entries(figures.bySource)) line(k, v)
  }
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
