/**
 * Writes a tiny sequence-classification model that transformers.js loads
 * like a real one: `config.json`, a BERT-style WordPiece `tokenizer.json`
 * (+ `tokenizer_config.json`) and `onnx/model.onnx`, a few kilobytes in all.
 * The repository's tests and the `local-model` bench run on it, so the
 * loading and scoring code is exercised without downloaded weights.
 *
 * The graph: embedding lookup -> weighted sum over tokens -> linear -> logits.
 * Each word's embedding is its push on each label's logit, so a known word
 * (e.g. "override") flips the label. The token weights are the attention
 * mask (`kind: "single"`), or the token type ids (`kind: "pair"`: only the
 * second text, the hypothesis, counts, as in an NLI cross-encoder).
 *
 * The ONNX protobuf is written by hand (a few message types, opset 13): no
 * protobuf library and no Python. Output is deterministic.
 * `scripts/make-tiny-model.ts` writes one from the command line.
 *
 * @since 0.1.0
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** One tiny model's recipe. */
export interface TinyModelSpec {
  /** `single`: every token counts; `pair`: only the second text's tokens (token type 1). */
  readonly kind: "single" | "pair"
  /** Label names, by output index. */
  readonly labels: ReadonlyArray<string>
  /** The logits' bias (one per label). */
  readonly bias: ReadonlyArray<number>
  /** Words in the vocabulary and their push on each label's logit; unlisted words push nothing. */
  readonly words: Readonly<Record<string, ReadonlyArray<number>>>
  /**
   * Optional dead weight for latency measurements: `layers` [hidden x hidden]
   * matrix products per token whose result is multiplied by zero, so the
   * logits are unchanged but ONNX Runtime does a real model's kind of work.
   */
  readonly compute?: { readonly hidden: number; readonly layers: number } | undefined
}

const COMMON = ["the", "a", "is", "of", "in", "and", "to", "what", "please", "weather", "paris", "capital", "france", "tell", "me", "about", "summarise", "this", "text", "it", "was", "built", "year"]

/** A prompt-injection classifier: "ignore", "override" and "jailbreak" push MALICIOUS. */
export const injectionSpec: TinyModelSpec = {
  kind: "single",
  labels: ["BENIGN", "MALICIOUS"],
  bias: [1, 0],
  words: {
    ...Object.fromEntries(COMMON.map((w) => [w, [0, 0]])),
    ignore: [0, 2],
    override: [0, 4],
    jailbreak: [0, 4],
    instructions: [0, 0.5]
  }
}

/** An NLI-style grounding model: "not", "never" and "no" in the hypothesis push contradiction. */
export const groundingSpec: TinyModelSpec = {
  kind: "pair",
  labels: ["contradiction", "entailment"],
  bias: [0, 2],
  words: {
    ...Object.fromEntries(COMMON.map((w) => [w, [0, 0]])),
    not: [4, 0],
    never: [4, 0],
    no: [4, 0]
  }
}

const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] as const

// ---------------------------------------------------------------------------
// protobuf writer (the subset ONNX needs)
// ---------------------------------------------------------------------------

type Field = Uint8Array

const varint = (value: number | bigint): Uint8Array => {
  let v = BigInt.asUintN(64, BigInt(value))
  const out: Array<number> = []
  do {
    const byte = Number(v & 0x7fn)
    v >>= 7n
    out.push(v === 0n ? byte : byte | 0x80)
  } while (v !== 0n)
  return Uint8Array.from(out)
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const key = (field: number, wire: number) => varint((field << 3) | wire)
const int = (field: number, value: number | bigint): Field => concat([key(field, 0), varint(value)])
const bytes = (field: number, value: Uint8Array): Field => concat([key(field, 2), varint(value.length), value])
const str = (field: number, value: string): Field => bytes(field, new TextEncoder().encode(value))
const msg = (field: number, parts: ReadonlyArray<Field>): Field => bytes(field, concat(parts))

const FLOAT = 1
const INT64 = 7

const tensor = (field: number, name: string, dims: ReadonlyArray<number>, type: number, raw: Uint8Array): Field =>
  msg(field, [...dims.map((d) => int(1, d)), int(2, type), str(8, name), bytes(9, raw)])

const floats = (values: ReadonlyArray<number>) => new Uint8Array(Float32Array.from(values).buffer)
const int64s = (values: ReadonlyArray<number>) => new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer)

/** A graph input or output: name, element type, dims (a string is a symbolic dim). */
const valueInfo = (field: number, name: string, type: number, dims: ReadonlyArray<number | string>): Field =>
  msg(field, [
    str(1, name),
    msg(2, [msg(1, [int(1, type), msg(2, dims.map((d) => msg(1, [typeof d === "number" ? int(1, d) : str(2, d)])))])])
  ])

const node = (
  op: string,
  inputs: ReadonlyArray<string>,
  outputs: ReadonlyArray<string>,
  attributes: ReadonlyArray<Field> = []
): Field => msg(1, [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, `${op}_${outputs[0]}`), str(4, op), ...attributes])

/** An INT attribute (type 2). */
const intAttribute = (name: string, value: number): Field => msg(5, [str(1, name), int(3, value), int(20, 2)])

// ---------------------------------------------------------------------------
// the files
// ---------------------------------------------------------------------------

/** The vocabulary, specials first, in a fixed order. */
export const vocabularyOf = (spec: TinyModelSpec): ReadonlyArray<string> => [...SPECIALS, ...Object.keys(spec.words).sort()]

/** The `compute` branch: embedding -> `layers` MatMuls -> sum -> x 0, added to the logits. */
const deadWeight = (vocab: number, { hidden, layers }: { readonly hidden: number; readonly layers: number }) => {
  const matrices = Array.from({ length: layers }, (_, i) => `dead_w${i}`)
  const chain = matrices.map((w, i) => node("MatMul", [i === 0 ? "dead_embedded" : `dead_h${i - 1}`, w], [`dead_h${i}`]))
  return [
    node("Gather", ["dead_embeddings", "input_ids"], ["dead_embedded"]),
    ...chain,
    node("ReduceSum", [`dead_h${layers - 1}`], ["dead_sum"], [intAttribute("keepdims", 0)]),
    node("Mul", ["dead_sum", "zero"], ["dead_zero"]),
    node("Add", ["light", "dead_zero"], ["logits"]),
    tensor(5, "dead_embeddings", [vocab, hidden], FLOAT, floats(Array.from({ length: vocab * hidden }, (_, i) => (i % 7) / 100))),
    ...matrices.map((w) => tensor(5, w, [hidden, hidden], FLOAT, floats(Array.from({ length: hidden * hidden }, (_, i) => (i % 5) / 1000)))),
    tensor(5, "zero", [], FLOAT, floats([0]))
  ]
}

/** The ONNX model's bytes. */
export const onnxModel = (spec: TinyModelSpec): Uint8Array => {
  const vocab = vocabularyOf(spec)
  const labels = spec.labels.length
  const embedding = vocab.flatMap((word) => {
    const push = spec.words[word] ?? []
    return spec.labels.map((_, i) => push[i] ?? 0)
  })
  // The linear layer is the identity: the embedding already holds each word's push per label.
  const linear = spec.labels.flatMap((_, i) => spec.labels.map((_, j) => (i === j ? 1 : 0)))
  const weightSource = spec.kind === "pair" ? "token_type_ids" : "attention_mask"
  const graph = [
    node("Gather", ["embeddings", "input_ids"], ["embedded"]),
    node("Cast", [weightSource], ["weights"], [intAttribute("to", FLOAT)]),
    node("Unsqueeze", ["weights", "last_axis"], ["weights3"]),
    node("Mul", ["embedded", "weights3"], ["weighted"]),
    node("ReduceSum", ["weighted", "sequence_axis"], ["pooled"], [intAttribute("keepdims", 0)]),
    node("MatMul", ["pooled", "linear"], ["projected"]),
    node("Add", ["projected", "bias"], [spec.compute === undefined ? "logits" : "light"]),
    str(2, "tiny_classifier"),
    tensor(5, "embeddings", [vocab.length, labels], FLOAT, floats(embedding)),
    tensor(5, "linear", [labels, labels], FLOAT, floats(linear)),
    tensor(5, "bias", [labels], FLOAT, floats(spec.bias)),
    tensor(5, "last_axis", [1], INT64, int64s([2])),
    tensor(5, "sequence_axis", [1], INT64, int64s([1])),
    valueInfo(11, "input_ids", INT64, ["batch", "sequence"]),
    valueInfo(11, "attention_mask", INT64, ["batch", "sequence"]),
    valueInfo(11, "token_type_ids", INT64, ["batch", "sequence"]),
    valueInfo(12, "logits", FLOAT, ["batch", labels]),
    ...(spec.compute === undefined ? [] : deadWeight(vocab.length, spec.compute))
  ]
  return concat([
    int(1, 8), // ir_version
    str(2, "patinox-make-tiny-model"),
    msg(7, graph),
    msg(8, [str(1, ""), int(2, 13)]) // opset_import: default domain, opset 13
  ])
}

const special = (content: string, id: number) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true
})

/** A BERT-style WordPiece `tokenizer.json`. */
export const tokenizerJson = (spec: TinyModelSpec) => {
  const vocab = vocabularyOf(spec)
  const ids = Object.fromEntries(vocab.map((word, id) => [word, id]))
  const cls = { id: "[CLS]", ids: [ids["[CLS]"]], tokens: ["[CLS]"] }
  const sep = { id: "[SEP]", ids: [ids["[SEP]"]], tokens: ["[SEP]"] }
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((s) => special(s, ids[s] ?? 0)),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } }
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } }
      ],
      special_tokens: { "[CLS]": cls, "[SEP]": sep }
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab: ids }
  }
}

/** The files of one model directory, by relative path. */
export const files = (spec: TinyModelSpec): ReadonlyArray<readonly [string, string | Uint8Array]> => {
  const id2label = Object.fromEntries(spec.labels.map((label, i) => [String(i), label]))
  const label2id = Object.fromEntries(spec.labels.map((label, i) => [label, i]))
  const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n"
  return [
    ["config.json", json({
      model_type: "bert",
      architectures: ["BertForSequenceClassification"],
      id2label,
      label2id,
      vocab_size: vocabularyOf(spec).length,
      max_position_embeddings: 512
    })],
    ["tokenizer.json", json(tokenizerJson(spec))],
    ["tokenizer_config.json", json({
      tokenizer_class: "BertTokenizer",
      do_lower_case: true,
      model_max_length: 512,
      cls_token: "[CLS]",
      sep_token: "[SEP]",
      pad_token: "[PAD]",
      unk_token: "[UNK]"
    })],
    ["onnx/model.onnx", onnxModel(spec)]
  ]
}

/** Writes the model into `dir` (created if missing) and returns `dir`. */
export const writeTinyModel = (dir: string, spec: TinyModelSpec): string => {
  mkdirSync(join(dir, "onnx"), { recursive: true })
  for (const [path, content] of files(spec)) writeFileSync(join(dir, path), content)
  return dir
}
