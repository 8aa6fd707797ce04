/**
 * Trains the prompt guard's naive Bayes model on the train split of the
 * development set and writes `models/prompt-classifier.json`, then prints the
 * validation-split figures and a threshold sweep.
 *
 *   npx tsx packages/validation/scripts/train-prompt-classifier.ts [--data FILE] [--out FILE] [--no-write]
 *
 * Labels: jailbreak -> class "jailbreak", injection -> class "injection",
 * benign and harmful -> class "negative". Harmful requests are a moderation
 * concern, not an attack on the prompt: training them as negatives teaches the
 * model that a plain (even nasty) request is not a jailbreak, and the eval
 * reports their flag rate separately. Validation rows are never trained on.
 */
import { writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Either } from "effect"
import { evaluatePrompts, fnv1a, readRows, splitOf } from "../eval/prompts.js"
import type { PromptRow } from "../eval/prompts.js"
import * as Bayes from "../src/internal/bayes.js"
import { classifierText, normalize } from "../src/internal/normalize.js"
import * as PromptGuard from "../src/PromptGuard.js"

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, "../../..")

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const dataFile = resolve(arg("--data") ?? join(repoRoot, "../shared/eval/prompts_dev.jsonl"))
const outFile = resolve(arg("--out") ?? join(here, "../models/prompt-classifier.json"))
const write = !process.argv.includes("--no-write")

const options: Bayes.TrainOptions = {
  alpha: Number(arg("--alpha") ?? 0.5),
  minDf: Number(arg("--min-df") ?? 3),
  maxFeatures: Number(arg("--max-features") ?? 40_000),
  shrink: Number(arg("--shrink") ?? 20),
  folds: 4
}

const classOf = (row: PromptRow): 0 | 1 | 2 => (row.label === "jailbreak" ? 1 : row.label === "injection" ? 2 : 0)

const pct = (x: number) => (Number.isNaN(x) ? "  n/a" : `${(100 * x).toFixed(1).padStart(5)}%`)

const main = async () => {
  const started = performance.now()
  const { malformed, rows } = await readRows(dataFile)
  const trainRows = rows.filter((r) => splitOf(r.text) === "train")
  const validRows = rows.filter((r) => splitOf(r.text) === "validation")
  console.log(`data: ${dataFile}: ${rows.length} rows (${malformed} malformed); train ${trainRows.length}, validation ${validRows.length}`)

  const docs: Array<Bayes.TrainingDoc> = trainRows.map((r) => ({
    text: classifierText(normalize(r.text)),
    cls: classOf(r),
    hash: fnv1a(r.text)
  }))
  const byLabel: Record<string, number> = {}
  for (const r of trainRows) byLabel[r.label] = (byLabel[r.label] ?? 0) + 1
  const model = Bayes.train(docs, options, {
    trainedOn: "train split (fnv1a(text) % 100 < 70) of the development prompts",
    trainRowsByLabel: byLabel,
    negatives: "benign + harmful",
    options
  })
  const json = JSON.stringify(model)
  console.log(`model: ${model.features.length / 20} features, ${(json.length / 1024).toFixed(0)} KiB, calibration a=${model.calibration.a.toFixed(3)} b=${model.calibration.b.toFixed(3)}`)
  if (write) writeFileSync(outFile, json + "\n")

  const guard = Either.getOrThrowWith(PromptGuard.fromModel(model), (e) => e)
  const sigOnly = PromptGuard.signaturesOnly()

  // Threshold sweep on the validation split: combine the two parts offline.
  const parts = validRows.map((r) => {
    const a = guard.analyze(r.text)
    const p = a.signals.find((s) => s.kind === "classifier")?.weight ?? 0
    const s = sigOnly.analyze(r.text).score
    return { label: r.label, s, p }
  })
  const best: Array<{ cw: number; t: number; recall: number; fpr: number }> = []
  for (const cw of [0.6, 0.7, 0.8, 0.9, 1]) {
    let top = { cw, t: 1, recall: 0, fpr: 0 }
    for (let t = 0.3; t <= 0.99; t += 0.01) {
      let att = 0
      let hit = 0
      let ben = 0
      let fp = 0
      for (const x of parts) {
        const score = 1 - (1 - x.s) * (1 - cw * x.p)
        if (x.label === "benign") {
          ben++
          if (score >= t) fp++
        } else if (x.label !== "harmful") {
          att++
          if (score >= t) hit++
        }
      }
      const recall = hit / att
      const fpr = fp / ben
      if (fpr <= 0.015 && recall > top.recall) top = { cw, t, recall, fpr }
    }
    best.push(top)
  }
  console.log("sweep (best threshold with benign FPR <= 1.5 % per classifier weight):")
  for (const b of best) console.log(`  cw=${b.cw.toFixed(1)} t=${b.t.toFixed(2)} recall=${pct(b.recall)} fpr=${pct(b.fpr)}`)

  const figures = await evaluatePrompts(dataFile, { split: "validation", guard })
  const line = (name: string, f: typeof figures.overall) =>
    console.log(
      `${name.padEnd(46)} n=${String(f.counts.rows).padStart(5)} jb=${pct(f.recall.jailbreak)} inj=${pct(f.recall.injection)} att=${pct(f.recall.attack)} fpr=${pct(f.falsePositiveRate)} harm=${pct(f.harmfulFlagRate)}`
    )
  console.log(`validation figures at the current defaults ${JSON.stringify(guard.options)}:`)
  line("overall", figures.overall)
  for (const [k, v] of Object.entries(figures.bySource)) line(k, v)
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
