/**
 * The prompt guard's classifier: logistic regression over signed, hashed
 * features (word unigrams and bigrams, character 3- to 5-grams of the folded
 * text, plus a few dense structural signals), trained with AdaGrad and L2,
 * calibrated with Platt scaling on rows the model did not see. Character
 * n-grams carry what a word model misses on an unseen source: morphology,
 * punctuation and spacing habits, obfuscated spellings.
 *
 * The model file holds int16-quantised weights in hash buckets and nothing
 * else: no feature strings, so no text of the training data.
 *
 * @internal
 */

/** Hash buckets of the sparse features (2^18). */
export const BITS = 18
const MASK = (1 << BITS) - 1
/** Dense (structural) features follow the hashed buckets. */
export const DENSE = 16
/** Weights per head. */
export const SIZE = (1 << BITS) + DENSE
/** Only the head and tail of long texts are featurised: bounded latency. */
const HEAD = 3_000
const TAIL = 1_000

const SEED_WORD = 0x2f1a_3b4c
const SEED_BIGRAM = 0x5d6e_7f80
const SEED_CHAR = 0x0913_a5c7

const fmix = (h0: number): number => {
  let h = h0 ^ (h0 >>> 16)
  h = Math.imul(h, 0x85eb_ca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2_ae35)
  return (h ^ (h >>> 16)) >>> 0
}

const step = (h: number, c: number): number => Math.imul(h ^ c, 16_777_619)

const isWordChar = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90)

/**
 * Calls `emit(bucket, sign)` for every hashed feature of a folded text (with
 * repeats) and returns how many were emitted.
 */
export const hashedFeatures = (text: string, emit: (bucket: number, sign: 1 | -1) => void): number => {
  const t = text.length > HEAD + TAIL ? text.slice(0, HEAD) + " " + text.slice(text.length - TAIL) : text
  const n = t.length
  let count = 0
  const out = (h: number) => {
    const f = fmix(h)
    emit(f & MASK, (f & 0x8000_0000) === 0 ? 1 : -1)
    count++
  }
  // Character 3-5-grams.
  for (let i = 0; i + 3 <= n; i++) {
    let h = SEED_CHAR
    for (let k = 0; k < 5 && i + k < n; k++) {
      h = step(h, t.charCodeAt(i + k))
      if (k >= 2) out(h ^ k)
    }
  }
  // Words (and single symbols) and their bigrams.
  let prev = 0
  let hasPrev = false
  let i = 0
  while (i < n) {
    const c = t.charCodeAt(i)
    if (c === 32 || c === 10 || c === 9 || c === 13) {
      i++
      continue
    }
    let h = SEED_WORD
    if (isWordChar(c)) {
      let len = 0
      while (i < n && isWordChar(t.charCodeAt(i))) {
        if (len < 24) h = step(h, t.charCodeAt(i))
        len++
        i++
      }
      if (len >= 24) h = step(SEED_WORD, 0x1_0000)
    } else {
      h = step(h, c)
      i++
    }
    out(h)
    if (hasPrev) out(step(step(SEED_BIGRAM, prev), h))
    prev = h
    hasPrev = true
  }
  return count
}

/** A sparse feature vector: bucket indices (dense features after the buckets) and values. */
export interface Vector {
  readonly index: Int32Array
  readonly value: Float32Array
}

// Scratch space for building vectors (single-threaded, reused).
const scratch = new Float64Array(SIZE)
const seen = new Uint8Array(SIZE)

/** The feature vector of a folded text and its dense structural values. */
export const vectorize = (text: string, dense: ReadonlyArray<number>): Vector => {
  const touched: Array<number> = []
  const total = hashedFeatures(text, (b, s) => {
    if (seen[b] === 0) {
      seen[b] = 1
      touched.push(b)
    }
    scratch[b] = (scratch[b] ?? 0) + s
  })
  const scale = 1 / Math.sqrt(Math.max(1, total))
  const k = touched.length
  const index = new Int32Array(k + dense.length)
  const value = new Float32Array(k + dense.length)
  for (let j = 0; j < k; j++) {
    const b = touched[j] ?? 0
    index[j] = b
    value[j] = (scratch[b] ?? 0) * scale
    scratch[b] = 0
    seen[b] = 0
  }
  for (let d = 0; d < dense.length && d < DENSE; d++) {
    index[k + d] = (1 << BITS) + d
    value[k + d] = dense[d] ?? 0
  }
  return { index, value }
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x))

/** One logistic head: weights and bias. */
export interface Head {
  readonly w: Float32Array
  readonly bias: number
}

const dot = (w: Float32Array, v: Vector): number => {
  let s = 0
  const { index, value } = v
  for (let j = 0; j < index.length; j++) s += (w[index[j] ?? 0] ?? 0) * (value[j] ?? 0)
  return s
}

/** Trainer settings. */
export interface TrainOptions {
  readonly epochs: number
  readonly learningRate: number
  readonly l2: number
  readonly seed: number
}

export const defaultTrainOptions: TrainOptions = { epochs: 3, learningRate: 0.2, l2: 1e-5, seed: 20_240_601 }

/** A small seeded PRNG (mulberry32): training is deterministic. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b_79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/**
 * Fits one logistic head with AdaGrad on `rows` (indices into `vectors`),
 * classes balanced, L2 applied to the weights a row touches.
 */
export const fitHead = (
  vectors: ReadonlyArray<Vector>,
  ys: ArrayLike<number>,
  rows: ReadonlyArray<number>,
  options: TrainOptions = defaultTrainOptions
): Head => {
  const w = new Float32Array(SIZE)
  const g2 = new Float32Array(SIZE)
  let bias = 0
  let gb = 0
  let pos = 0
  for (const r of rows) pos += ys[r] === 1 ? 1 : 0
  const neg = rows.length - pos
  const wPos = pos === 0 ? 0 : rows.length / (2 * pos)
  const wNeg = neg === 0 ? 0 : rows.length / (2 * neg)
  const order = [...rows]
  const rand = prng(options.seed)
  const eta = options.learningRate
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      const t = order[i] ?? 0
      order[i] = order[j] ?? 0
      order[j] = t
    }
    for (const r of order) {
      const v = vectors[r]
      if (v === undefined) continue
      const y = ys[r] === 1 ? 1 : 0
      const p = sigmoid(bias + dot(w, v))
      const g = (p - y) * (y === 1 ? wPos : wNeg)
      const { index, value } = v
      for (let j = 0; j < index.length; j++) {
        const b = index[j] ?? 0
        const wb = w[b] ?? 0
        const grad = g * (value[j] ?? 0) + options.l2 * wb
        const acc = (g2[b] ?? 0) + grad * grad
        g2[b] = acc
        w[b] = wb - (eta * grad) / Math.sqrt(acc + 1e-8)
      }
      gb += g * g
      bias -= (eta * g) / Math.sqrt(gb + 1e-8)
    }
  }
  return { w, bias }
}

/** Platt scaling fitted by Newton's method with smoothed targets. */
export const fitPlatt = (zs: ArrayLike<number>, ys: ArrayLike<number>): { a: number; b: number } => {
  let nPos = 0
  for (let k = 0; k < ys.length; k++) nPos += ys[k] === 1 ? 1 : 0
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
      const t = ys[k] === 1 ? hi : lo
      const p = sigmoid(a * z + b)
      const d = p - t
      const q = p * (1 - p)
      ga += d * z
      gb += d
      haa += q * z * z
      hab += q * z
      hbb += q
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

/** A trained classifier: the attack head, its calibration and the jailbreak-vs-injection head. */
export interface Model {
  readonly attack: Head
  readonly calibration: { readonly a: number; readonly b: number }
  readonly kind: Head
}

/** Labels of a training row: attack or not, and for attacks jailbreak (1) or injection (0). */
export interface Labels {
  readonly attack: ArrayLike<number>
  readonly jailbreak: ArrayLike<number>
}

/**
 * Trains a model on `rows`: the calibration is fitted on a seeded fifth of
 * them scored by a model trained on the other four fifths, then the final
 * heads are trained on all of `rows`.
 */
export const train = (
  vectors: ReadonlyArray<Vector>,
  labels: Labels,
  rows: ReadonlyArray<number>,
  options: TrainOptions = defaultTrainOptions
): Model => {
  const rand = prng(options.seed ^ 0x5bd1_e995)
  const calib: Array<number> = []
  const fitPart: Array<number> = []
  for (const r of rows) (rand() < 0.2 ? calib : fitPart).push(r)
  const partial = fitHead(vectors, labels.attack, fitPart, options)
  const zs = calib.map((r) => {
    const v = vectors[r]
    return v === undefined ? 0 : partial.bias + dot(partial.w, v)
  })
  const calibration = fitPlatt(zs, calib.map((r) => labels.attack[r] ?? 0))
  const attack = fitHead(vectors, labels.attack, rows, options)
  const kind = fitHead(vectors, labels.jailbreak, rows.filter((r) => labels.attack[r] === 1), { ...options, epochs: 3 })
  return { attack, calibration, kind }
}

/** The calibrated attack probability of a vector. */
export const probabilityOf = (m: Model, v: Vector): number =>
  sigmoid(m.calibration.a * (m.attack.bias + dot(m.attack.w, v)) + m.calibration.b)

// ---------------------------------------------------------------------------
// the model file

/**
 * The model file (`models/prompt-classifier.bin`): the magic bytes `PXLM`, a
 * little-endian uint32 header length, a UTF-8 JSON header ({@link ModelHeader}),
 * zero padding to an even offset, then each head's int16 little-endian
 * weights (attack, then kind). Binary, not base64 inside JSON: a third
 * smaller, read without decoding text, and not a text file that a text
 * comparison can match against anything.
 */
export const MAGIC = "PXLM"

/** The file's JSON header. */
export interface ModelHeader {
  readonly format: "patinox-prompt-linear"
  readonly version: 2
  readonly bits: number
  readonly dense: number
  /** Per head: the bias and the quantisation step of its int16 weights. */
  readonly attack: { readonly bias: number; readonly scale: number }
  readonly kind: { readonly bias: number; readonly scale: number }
  readonly calibration: { readonly a: number; readonly b: number }
  readonly meta?: Readonly<Record<string, unknown>>
}

/** The serialised model as JSON (version 1, weights in base64): still read, no longer written by the trainer. */
export interface ModelJson {
  readonly format: "patinox-prompt-linear"
  readonly version: 1
  readonly bits: number
  readonly dense: number
  /** Per head: bias, the quantisation step, and base64 of little-endian int16 weights. */
  readonly attack: { readonly bias: number; readonly scale: number; readonly weights: string }
  readonly kind: { readonly bias: number; readonly scale: number; readonly weights: string }
  readonly calibration: { readonly a: number; readonly b: number }
  readonly meta?: Readonly<Record<string, unknown>>
}

interface Quantised {
  readonly bias: number
  readonly scale: number
  readonly weights: Int16Array
}

const quantise = (h: Head): Quantised => {
  let max = 0
  for (const x of h.w) max = Math.max(max, Math.abs(x))
  const scale = max === 0 ? 1 : max / 32_767
  const q = new Int16Array(h.w.length)
  for (let i = 0; i < h.w.length; i++) q[i] = Math.round((h.w[i] ?? 0) / scale)
  return { bias: h.bias, scale, weights: q }
}

/** Reads `SIZE` int16 little-endian weights at `offset` of `bytes`. */
const dequantise = (bytes: Uint8Array, offset: number, bias: number, scale: number): Head => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const w = new Float32Array(SIZE)
  for (let i = 0; i < SIZE; i++) w[i] = view.getInt16(offset + i * 2, true) * scale
  return { w, bias }
}

const int16Bytes = (q: Int16Array): Uint8Array => {
  const out = new Uint8Array(q.length * 2)
  const view = new DataView(out.buffer)
  for (let i = 0; i < q.length; i++) view.setInt16(i * 2, q[i] ?? 0, true)
  return out
}

/** The model as its binary file. */
export const toBytes = (m: Model, meta?: Readonly<Record<string, unknown>>): Uint8Array => {
  const attack = quantise(m.attack)
  const kind = quantise(m.kind)
  const header: ModelHeader = {
    format: "patinox-prompt-linear",
    version: 2,
    bits: BITS,
    dense: DENSE,
    attack: { bias: attack.bias, scale: attack.scale },
    kind: { bias: kind.bias, scale: kind.scale },
    calibration: m.calibration,
    ...(meta === undefined ? {} : { meta })
  }
  const json = new TextEncoder().encode(JSON.stringify(header))
  const start = 8 + json.length + ((8 + json.length) % 2)
  const out = new Uint8Array(start + SIZE * 4)
  out.set(new TextEncoder().encode(MAGIC), 0)
  new DataView(out.buffer).setUint32(4, json.length, true)
  out.set(json, 8)
  out.set(int16Bytes(attack.weights), start)
  out.set(int16Bytes(kind.weights), start + SIZE * 2)
  return out
}

/** The model as a version-1 JSON value (base64 weights); kept for tools that want one text file. */
export const toJson = (m: Model, meta?: Readonly<Record<string, unknown>>): ModelJson => {
  const head = (h: Head): ModelJson["attack"] => {
    const q = quantise(h)
    return { bias: q.bias, scale: q.scale, weights: Buffer.from(int16Bytes(q.weights)).toString("base64") }
  }
  return {
    format: "patinox-prompt-linear",
    version: 1,
    bits: BITS,
    dense: DENSE,
    attack: head(m.attack),
    kind: head(m.kind),
    calibration: m.calibration,
    ...(meta === undefined ? {} : { meta })
  }
}

const headOf = (u: unknown, withWeights: boolean): { bias: number; scale: number; weights?: string } | undefined => {
  if (typeof u !== "object" || u === null) return undefined
  const o = u as Record<string, unknown>
  const bias = o["bias"]
  const scale = o["scale"]
  const weights = o["weights"]
  if (typeof bias !== "number" || typeof scale !== "number" || !(scale > 0)) return undefined
  if (!withWeights) return { bias, scale }
  return typeof weights === "string" ? { bias, scale, weights } : undefined
}

/** The checks a header (binary file) or a whole JSON model share; returns a reason when invalid. */
const checkHeader = (
  u: unknown,
  version: 1 | 2
): { attack: { bias: number; scale: number; weights?: string }; kind: { bias: number; scale: number; weights?: string }; calibration: { a: number; b: number } } | string => {
  if (typeof u !== "object" || u === null) return "model is not an object"
  const o = u as Record<string, unknown>
  if (o["format"] !== "patinox-prompt-linear") return "unknown model format (expected patinox-prompt-linear)"
  if (o["version"] !== version) return "unsupported model version"
  if (o["bits"] !== BITS || o["dense"] !== DENSE) return `model must use ${BITS} hash bits and ${DENSE} dense features`
  const cal = o["calibration"]
  if (typeof cal !== "object" || cal === null) return "calibration missing"
  const c = cal as Record<string, unknown>
  const a = c["a"]
  const b = c["b"]
  if (typeof a !== "number" || typeof b !== "number") return "calibration must have numeric a and b"
  const attack = headOf(o["attack"], version === 1)
  const kind = headOf(o["kind"], version === 1)
  if (attack === undefined || kind === undefined) {
    return version === 1 ? "attack and kind heads must have bias, scale and weights" : "attack and kind heads must have bias and scale"
  }
  return { attack, kind, calibration: { a, b } }
}

/** Parses and checks a version-1 model JSON value; returns a reason when invalid. */
export const fromJson = (u: unknown): Model | string => {
  const h = checkHeader(u, 1)
  if (typeof h === "string") return h
  const heads: Array<Head> = []
  for (const j of [h.attack, h.kind]) {
    const bytes = Buffer.from(j.weights ?? "", "base64")
    if (bytes.length !== SIZE * 2) return `weights must hold ${SIZE} int16 values`
    heads.push(dequantise(bytes, 0, j.bias, j.scale))
  }
  const [attack, kind] = heads
  return attack === undefined || kind === undefined ? "weights missing" : { attack, kind, calibration: h.calibration }
}

/** Parses and checks a binary model file; returns a reason when invalid. */
export const fromBytes = (bytes: Uint8Array): Model | string => {
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) return `not a model file (expected the magic bytes ${MAGIC})`
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true)
  if (8 + length > bytes.length) return "model header is truncated"
  let header: unknown
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + length)))
  } catch {
    return "model header is not JSON"
  }
  const h = checkHeader(header, 2)
  if (typeof h === "string") return h
  const start = 8 + length + ((8 + length) % 2)
  if (bytes.length !== start + SIZE * 4) return `weights must hold 2 x ${SIZE} int16 values`
  return {
    attack: dequantise(bytes, start, h.attack.bias, h.attack.scale),
    kind: dequantise(bytes, start + SIZE * 2, h.kind.bias, h.kind.scale),
    calibration: h.calibration
  }
}

/** Whether `bytes` start like a binary model file (else they may be a version-1 JSON model). */
export const isBinary = (bytes: Uint8Array): boolean =>
  bytes.length >= 4 && new TextDecoder().decode(bytes.subarray(0, 4)) === MAGIC

/** The outcome of scoring one text. */
export interface Score {
  /** Calibrated probability that the text is an attack. */
  readonly probability: number
  readonly category: "jailbreak" | "injection"
}

/** Scores a folded text and its dense structural values (both heads in one pass over the features). */
export const score = (m: Model, text: string, dense: ReadonlyArray<number>): Score => {
  const wa = m.attack.w
  const wk = m.kind.w
  let sa = 0
  let sk = 0
  const total = hashedFeatures(text, (b, s) => {
    sa += s * (wa[b] ?? 0)
    sk += s * (wk[b] ?? 0)
  })
  const norm = Math.sqrt(Math.max(1, total))
  let za = m.attack.bias + sa / norm
  let zk = m.kind.bias + sk / norm
  for (let d = 0; d < dense.length && d < DENSE; d++) {
    za += (wa[(1 << BITS) + d] ?? 0) * (dense[d] ?? 0)
    zk += (wk[(1 << BITS) + d] ?? 0) * (dense[d] ?? 0)
  }
  return {
    probability: sigmoid(m.calibration.a * za + m.calibration.b),
    category: zk >= 0 ? "jailbreak" : "injection"
  }
}
