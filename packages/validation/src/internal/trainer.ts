/**
 * Training the prompt guard's classifier on labelled rows, shared by the
 * training script and the leave-one-source-out evaluation: rows are
 * normalised, rule-scored and featurised once, then a model is fitted on any
 * subset of them.
 *
 * @internal
 */
import type { AgentAction } from "@patinox/core"
import * as Linear from "./linear.js"
import { classifierScale, featuresOf } from "./features.js"
import { normalize } from "./normalize.js"
import * as PromptGuard from "../PromptGuard.js"

/** A labelled row as the trainer reads it. */
export interface LabelledText {
  readonly text: string
  readonly label: "jailbreak" | "injection" | "harmful" | "benign"
  readonly stage: AgentAction.Stage
}

/** Rows after the per-row work that does not depend on the model. */
export interface Prepared {
  readonly vectors: ReadonlyArray<Linear.Vector>
  readonly labels: Linear.Labels
  /** The rule-only score of every row (signatures, normalisation, structure). */
  readonly rules: Float64Array
  /** How much of the classifier's probability counts for every row. */
  readonly scale: Float64Array
}

/** What the LOSO report calls the learner. */
export const learnerName = "logistic regression (hashed word 1-2-grams + char 3-5-grams, AdaGrad, Platt)"

export const prepare = (rows: ReadonlyArray<LabelledText>): Prepared => {
  const rulesOnly = PromptGuard.signaturesOnly()
  const rules = new Float64Array(rows.length)
  const scale = new Float64Array(rows.length)
  const attack = new Uint8Array(rows.length)
  const jailbreak = new Uint8Array(rows.length)
  const vectors = rows.map((r, i) => {
    rules[i] = rulesOnly.analyze(r.text, r.stage).score
    attack[i] = r.label === "jailbreak" || r.label === "injection" ? 1 : 0
    jailbreak[i] = r.label === "jailbreak" ? 1 : 0
    const f = featuresOf(r.text, normalize(r.text), r.stage)
    scale[i] = classifierScale(f.structure)
    return Linear.vectorize(f.text, f.dense)
  })
  return { vectors, labels: { attack, jailbreak }, rules, scale }
}

/** Fits a model on the prepared rows `use` selects. */
export const fit = (p: Prepared, use: (i: number) => boolean, options?: Linear.TrainOptions): Linear.Model => {
  const rows: Array<number> = []
  for (let i = 0; i < p.vectors.length; i++) if (use(i)) rows.push(i)
  return Linear.train(p.vectors, p.labels, rows, options)
}

/** The guard's combined score of row `i` under a fitted model. */
export const combined = (p: Prepared, i: number, m: Linear.Model, options: PromptGuard.Options): number => {
  const v = p.vectors[i]
  const prob = v === undefined ? 0 : Linear.probabilityOf(m, v)
  const part = Math.min(1, Math.max(0, options.classifierWeight * (p.scale[i] ?? 1) * prob))
  return 1 - (1 - (p.rules[i] ?? 0)) * (1 - part)
}
