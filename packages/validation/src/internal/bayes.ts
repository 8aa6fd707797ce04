/**
 * A small naive Bayes text classifier (binarised multinomial over word
 * unigrams and bigrams of the folded text) with Platt calibration, plus its
 * trainer and its JSON format. The model holds token statistics only:
 * n-grams of at most two words, never whole texts.
 *
 * @internal
 */

/** Class order in the model's count vectors. */
import { Hash } from "@patinox/core"

export const CLASSES = ["negative", "jailbreak", "injection"] as const
/** A training class. */
export type ModelClass = (typeof CLASSES)[number]

/** The serialised model (`models/prompt-classifier.json`). */
export interface ModelJson {
  readonly format: "patinox-prompt-nb"
  readonly version: 2
  readonly classes: ReadonlyArray<string>
  /** Documents per class. */
  readonly docs: ReadonlyArray<number>
  readonly alpha: number
  /** Feature -> document frequency per class. */
  /**
   * Packed feature table: per feature, its 32-bit hash then its three class
   * counts as 16-bit numbers, 20 hex digits in all, concatenated.
   */
  readonly features: string
  readonly calibration: { readonly a: number; readonly b: number; readonly shrink: number }
  readonly meta?: Readonly<Record<string, unknown>>
}

/** A loaded, ready-to-score model. */
export interface Classifier {
  readonly features: number
  readonly score: (text: string) => ClassifierScore
}

/** The outcome of scoring one text. */
export interface ClassifierScore {
  /** Calibrated probability that the text is an attack. */
  readonly probability: number
  /** Mean log-likelihood ratio over known features (uncalibrated). */
  readonly z: number
  readonly category: "jailbreak" | "injection"
  /** Strongest features pushing towards "attack". */
  readonly evidence: ReadonlyArray<string>
}

const TOKEN = /[a-z0-9]+|[^\sa-z0-9]/gu
const MAX_TOKENS = 2_500
const LONG = 24

/** Tokens of folded text: words, numbers and single symbols. */
export const tokenize = (text: string): Array<string> => {
  const out: Array<string> = []
  TOKEN.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = TOKEN.exec(text)) !== null && out.length < MAX_TOKENS) {
    let t = m[0]
    if (t.length > LONG) t = "<long>"
    else if (t.length > 4 && /^[0-9]+$/.test(t)) t = "<num>"
    out.push(t)
  }
  return out
}

/**
 * Features are stored in the model as 32-bit FNV-1a hashes (base 36), never as
 * text: the committed model file then holds no words of the training data at
 * all, let alone runs of them. Collisions among ~40k features in 2^32 buckets
 * are negligible.
 */
export const hashFeature = (feature: string): number => Hash.fnv1a(feature)

const RECORD = 20
const MAX_COUNT = 0xffff

/** Packs `hash → [n, j, i]` into the hex form stored in the model file. */
export const packFeatures = (table: ReadonlyMap<number, readonly [number, number, number]>): string => {
  const hex = (value: number, digits: number) => value.toString(16).padStart(digits, "0")
  let out = ""
  for (const [hash, [n, j, i]] of table) {
    out += hex(hash, 8) + hex(Math.min(n, MAX_COUNT), 4) + hex(Math.min(j, MAX_COUNT), 4) + hex(Math.min(i, MAX_COUNT), 4)
  }
  return out
}

/** The inverse of `packFeatures`. */
export const unpackFeatures = (packed: string): Map<number, readonly [number, number, number]> => {
  const table = new Map<number, readonly [number, number, number]>()
  for (let at = 0; at + RECORD <= packed.length; at += RECORD) {
    table.set(parseInt(packed.slice(at, at + 8), 16), [
      parseInt(packed.slice(at + 8, at + 12), 16),
      parseInt(packed.slice(at + 12, at + 16), 16),
      parseInt(packed.slice(at + 16, at + 20), 16)
    ])
  }
  return table
}

/** The set of unigram and bigram features of a folded text. */
export const featuresOf = (text: string): Set<string> => {
  const toks = tokenize(text)
  const out = new Set<string>()
  let prev: string | undefined
  for (const t of toks) {
    out.add(t)
    if (prev !== undefined) out.add(`${prev} ${t}`)
    prev = t
  }
  return out
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x))

interface Weights {
  readonly llr: number
  readonly jbVsInj: number
}

/** Builds a scorer from a model; validation of the JSON shape is the caller's. */
export const fromJson = (model: ModelJson): Classifier => {
  const alpha = model.alpha
  const entries = [...unpackFeatures(model.features)]
  const v = entries.length
  const totals = [0, 0, 0]
  for (const [, counts] of entries) {
    for (let c = 0; c < 3; c++) totals[c] = (totals[c] ?? 0) + (counts[c] ?? 0)
  }
  const [tn = 0, tj = 0, ti = 0] = totals
  const ta = tj + ti
  const table = new Map<number, Weights>()
  for (const [f, counts] of entries) {
    const n = counts[0] ?? 0
    const j = counts[1] ?? 0
    const i = counts[2] ?? 0
    const pa = (j + i + alpha) / (ta + alpha * v)
    const pn = (n + alpha) / (tn + alpha * v)
    const pj = (j + alpha) / (tj + alpha * v)
    const pi = (i + alpha) / (ti + alpha * v)
    const llr = Math.max(-5, Math.min(5, Math.log(pa / pn)))
    table.set(f, { llr, jbVsInj: Math.log(pj / pi) })
  }
  const { a, b, shrink } = model.calibration
  return {
    features: v,
    score: (text) => {
      const feats = featuresOf(text)
      let sum = 0
      let jb = 0
      let known = 0
      let best: Array<readonly [string, number]> = []
      for (const f of feats) {
        const w = table.get(hashFeature(f))
        if (w === undefined) continue
        known++
        sum += w.llr
        jb += w.jbVsInj
        if (w.llr > 1.5) {
          if (best.length < 3) best.push([f, w.llr])
          else {
            let minK = 0
            for (let k = 1; k < best.length; k++) if ((best[k]?.[1] ?? 0) < (best[minK]?.[1] ?? 0)) minK = k
            if ((best[minK]?.[1] ?? 0) < w.llr) best[minK] = [f, w.llr]
          }
        }
      }
      const z = sum / (known + shrink)
      best = best.sort((x, y) => y[1] - x[1])
      return {
        probability: sigmoid(a * z + b),
        z,
        category: jb >= 0 ? "jailbreak" : "injection",
        evidence: best.map(([f]) => f)
      }
    }
  }
}

/** A training document: folded text and its class index in {@link CLASSES}. */
export interface TrainingDoc {
  readonly text: string
  readonly cls: 0 | 1 | 2
  /** A stable number used to assign cross-fitting folds. */
  readonly hash: number
}

/** Trainer settings. */
export interface TrainOptions {
  readonly alpha: number
  readonly minDf: number
  readonly maxFeatures: number
  readonly shrink: number
  readonly folds: number
}

const countFeatures = (docs: ReadonlyArray<{ readonly feats: Set<string>; readonly cls: number }>) => {
  const counts = new Map<string, [number, number, number]>()
  const docsPerClass: [number, number, number] = [0, 0, 0]
  for (const d of docs) {
    docsPerClass[d.cls as 0 | 1 | 2]++
    for (const f of d.feats) {
      let c = counts.get(f)
      if (c === undefined) {
        c = [0, 0, 0]
        counts.set(f, c)
      }
      c[d.cls as 0 | 1 | 2]++
    }
  }
  return { counts, docsPerClass }
}

const select = (
  counts: Map<string, [number, number, number]>,
  docsPerClass: readonly [number, number, number],
  options: TrainOptions
): string => {
  const nNeg = Math.max(1, docsPerClass[0])
  const nAtt = Math.max(1, docsPerClass[1] + docsPerClass[2])
  const scored: Array<readonly [string, number]> = []
  for (const [f, c] of counts) {
    const df = c[0] + c[1] + c[2]
    if (df < options.minDf) continue
    // Only short n-grams and tokens go into the model (no verbatim phrases).
    if (f.split(" ").length > 2 || f.length > 48) continue
    const pa = (c[1] + c[2] + 1) / (nAtt + 2)
    const pn = (c[0] + 1) / (nNeg + 2)
    const gain = Math.abs(pa - pn) * Math.abs(Math.log(pa / pn))
    scored.push([f, gain])
  }
  scored.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
  const out = new Map<number, readonly [number, number, number]>()
  for (const [f] of scored.slice(0, options.maxFeatures)) {
    const c = counts.get(f)
    if (c !== undefined) out.set(hashFeature(f), [c[0], c[1], c[2]])
  }
  return packFeatures(out)
}

const fitPlatt = (zs: ReadonlyArray<number>, ys: ReadonlyArray<number>): { a: number; b: number } => {
  // Newton's method on the logistic log-loss with Platt's smoothed targets.
  const nPos = ys.filter((y) => y === 1).length
  const nNeg = ys.length - nPos
  const hi = (nPos + 1) / (nPos + 2)
  const lo = 1 / (nNeg + 2)
  let a = 1
  let b = 0
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0
    let gb = 0
    let haa = 1e-9
    let hab = 0
    let hbb = 1e-9
    for (let k = 0; k < zs.length; k++) {
      const z = zs[k] ?? 0
      const t = (ys[k] ?? 0) === 1 ? hi : lo
      const p = sigmoid(a * z + b)
      const d = p - t
      const w = p * (1 - p)
      ga += d * z
      gb += d
      haa += w * z * z
      hab += w * z
      hbb += w
    }
    const det = haa * hbb - hab * hab
    if (Math.abs(det) < 1e-12) break
    const da = (hbb * ga - hab * gb) / det
    const db = (haa * gb - hab * ga) / det
    a -= da
    b -= db
    if (Math.abs(da) + Math.abs(db) < 1e-9) break
  }
  return { a, b }
}

/**
 * Trains a model. Calibration is fitted on cross-fitted scores (each training
 * document scored by a model that did not see it) so that it is not
 * overconfident.
 */
export const train = (
  docs: ReadonlyArray<TrainingDoc>,
  options: TrainOptions,
  meta?: Readonly<Record<string, unknown>>
): ModelJson => {
  const featured = docs.map((d) => ({ feats: featuresOf(d.text), cls: d.cls, hash: d.hash, text: d.text }))
  const zs: Array<number> = []
  const ys: Array<number> = []
  for (let fold = 0; fold < options.folds; fold++) {
    const inFold = (h: number) => (h >>> 8) % options.folds === fold
    const trainPart = featured.filter((d) => !inFold(d.hash))
    const { counts, docsPerClass } = countFeatures(trainPart)
    const partial = fromJson({
      format: "patinox-prompt-nb",
      version: 2,
      classes: CLASSES,
      docs: docsPerClass,
      alpha: options.alpha,
      features: select(counts, docsPerClass, options),
      calibration: { a: 1, b: 0, shrink: options.shrink }
    })
    for (const d of featured) {
      if (!inFold(d.hash)) continue
      zs.push(partial.score(d.text).z)
      ys.push(d.cls === 0 ? 0 : 1)
    }
  }
  const { a, b } = fitPlatt(zs, ys)
  const { counts, docsPerClass } = countFeatures(featured)
  return {
    format: "patinox-prompt-nb",
    version: 2,
    classes: CLASSES,
    docs: docsPerClass,
    alpha: options.alpha,
    features: select(counts, docsPerClass, options),
    calibration: { a, b, shrink: options.shrink },
    ...(meta === undefined ? {} : { meta })
  }
}

/** Structural check of an unknown JSON value; returns a reason when invalid. */
export const validateModelJson = (u: unknown): ModelJson | string => {
  if (typeof u !== "object" || u === null) return "model is not an object"
  const o = u as Record<string, unknown>
  if (o["format"] !== "patinox-prompt-nb") return "unknown model format"
  if (o["version"] !== 2) return "unsupported model version (expected 2: hashed features)"
  if (typeof o["alpha"] !== "number" || !(o["alpha"] > 0)) return "alpha must be a positive number"
  const docs = o["docs"]
  if (!Array.isArray(docs) || docs.length !== 3 || !docs.every((d) => typeof d === "number")) return "docs must be 3 numbers"
  const cal = o["calibration"]
  if (typeof cal !== "object" || cal === null) return "calibration missing"
  const c = cal as Record<string, unknown>
  if (typeof c["a"] !== "number" || typeof c["b"] !== "number" || typeof c["shrink"] !== "number") {
    return "calibration must have numeric a, b, shrink"
  }
  const feats = o["features"]
  if (typeof feats !== "string" || feats.length % RECORD !== 0 || !/^[0-9a-f]*$/.test(feats)) {
    return `features must be a hex string of ${RECORD}-digit records`
  }
  const classes = o["classes"]
  if (!Array.isArray(classes) || classes.length !== 3) return "classes must list 3 classes"
  return {
    format: "patinox-prompt-nb",
    version: 2,
    classes: classes.map(String),
    docs: docs.map(Number),
    alpha: o["alpha"],
    features: feats,
    calibration: { a: c["a"], b: c["b"], shrink: c["shrink"] },
    ...(typeof o["meta"] === "object" && o["meta"] !== null ? { meta: o["meta"] as Record<string, unknown> } : {})
  }
}
