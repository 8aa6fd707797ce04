/**
 * A sequence-classification model in a local directory, run in-process with
 * transformers.js on ONNX Runtime (CPU): the layout transformers.js expects,
 * `config.json` (with `id2label`), `tokenizer.json`, `tokenizer_config.json`
 * and `onnx/model.onnx`.
 *
 * It never downloads: remote models are off (`env.allowRemoteModels = false`,
 * `local_files_only`), and the directory is checked before anything is
 * loaded, so a missing one is a `LocalModelConfigError` naming the path at
 * start, not a network attempt. transformers.js (and ONNX Runtime's native
 * library) is imported only when a model is loaded, so a service without a
 * `localModel` section never loads it.
 *
 * Inference is ONNX Runtime's async native work (its own thread pool); only
 * tokenisation runs on the calling thread (see docs/local-model.md for the
 * measured event-loop cost).
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { existsSync, statSync } from "node:fs"
import { basename, dirname, join, resolve } from "node:path"
import { LocalModelConfigError, LocalModelInferenceError } from "./Errors.js"

/** One input: a text, or a (text, pair) for a cross-encoder. @since 0.1.0 @category models */
export interface Input {
  readonly text: string
  readonly pair?: string | undefined
}

/** @since 0.1.0 @category models */
export interface Classifier {
  /** The model directory (absolute). */
  readonly path: string
  /** The model's labels, by output index (from `config.json`'s `id2label`). */
  readonly labels: ReadonlyArray<string>
  /**
   * Each input's probability per label, in `labels` order: softmax over the
   * logits, or a sigmoid when the model has one output (a score model such as HHEM).
   */
  readonly classify: (inputs: ReadonlyArray<Input>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, LocalModelInferenceError>
}

/** The files transformers.js reads for a sequence classifier. @since 0.1.0 @category constants */
export const requiredFiles: ReadonlyArray<string> = ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"]

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const softmax = (logits: ReadonlyArray<number>): ReadonlyArray<number> => {
  const max = Math.max(...logits)
  const exps = logits.map((x) => Math.exp(x - max))
  const sum = exps.reduce((a, b) => a + b, 0)
  return exps.map((x) => x / sum)
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x))

/** The logits tensor of a model output, checked: `{ logits: { data, dims: [batch, labels] } }`. */
const logitsOf = (output: unknown, batch: number): ReadonlyArray<ReadonlyArray<number>> | string => {
  if (typeof output !== "object" || output === null || !("logits" in output)) return "the model has no `logits` output"
  const logits: unknown = output.logits
  if (typeof logits !== "object" || logits === null || !("data" in logits) || !("dims" in logits)) {
    return "`logits` is not a tensor"
  }
  const { data, dims } = logits
  if (!(data instanceof Float32Array) || !Array.isArray(dims) || dims.length !== 2 || dims[0] !== batch) {
    return `\`logits\` must be float32 [${batch}, labels]`
  }
  const width = Number(dims[1])
  return Array.from({ length: batch }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width)))
}

const checkDirectory = (key: string, path: string): Effect.Effect<void, LocalModelConfigError> =>
  Effect.suspend(() => {
    if (!existsSync(path)) {
      return Effect.fail(new LocalModelConfigError({ key, path, reason: "model directory does not exist" }))
    }
    if (!statSync(path).isDirectory()) {
      return Effect.fail(new LocalModelConfigError({ key, path, reason: "not a directory" }))
    }
    const missing = requiredFiles.filter((file) => !existsSync(join(path, file)))
    return missing.length === 0 ? Effect.void : Effect.fail(
      new LocalModelConfigError({
        key,
        path,
        reason: `model directory is missing ${missing.join(", ")} (see docs/local-model.md for the layout)`
      })
    )
  })

/**
 * Loads the model in `path` (relative paths from the working directory);
 * `key` is the config key reported in errors. The session is released with
 * the scope.
 *
 * @since 0.1.0 @category constructors
 */
export const load = (key: string, path: string): Effect.Effect<Classifier, LocalModelConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = resolve(path)
    yield* checkDirectory(key, dir)
    const fail = (reason: string) => new LocalModelConfigError({ key, path: dir, reason })
    const transformers = yield* Effect.tryPromise({
      try: () => import("@huggingface/transformers"),
      catch: (error) => fail(`cannot load @huggingface/transformers: ${describe(error)}`)
    })
    const { env, AutoTokenizer, AutoModelForSequenceClassification } = transformers
    // Process-wide settings: no download, ever; model ids resolve under the directory's parent.
    env.allowRemoteModels = false
    env.allowLocalModels = true
    env.localModelPath = dirname(dir)
    const id = basename(dir)
    const { tokenizer, model } = yield* Effect.tryPromise({
      try: async () => {
        const tokenizer = await AutoTokenizer.from_pretrained(id, { local_files_only: true })
        const model = await AutoModelForSequenceClassification.from_pretrained(id, { local_files_only: true, dtype: "fp32" })
        return { tokenizer, model }
      },
      catch: (error) => fail(`the model does not load: ${describe(error)}`)
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => model.dispose()).pipe(Effect.ignore))
    const config: unknown = model.config
    const id2label = typeof config === "object" && config !== null && "id2label" in config &&
        typeof config.id2label === "object" && config.id2label !== null
      ? Object.entries(config.id2label)
      : []
    const labels = id2label
      .map(([index, label]) => [Number(index), String(label)] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, label]) => label)
    if (labels.length === 0) return yield* fail("config.json has no id2label")

    const classify = (inputs: ReadonlyArray<Input>) =>
      Effect.tryPromise({
        try: async () => {
          if (inputs.length === 0) return []
          const texts = inputs.map((input) => input.text)
          const pairs = inputs.map((input) => input.pair)
          const encoded = pairs.every((pair): pair is string => pair !== undefined)
            ? tokenizer(texts, { text_pair: pairs, padding: true, truncation: true })
            : tokenizer(texts, { padding: true, truncation: true })
          const output: unknown = await model(encoded)
          const logits = logitsOf(output, inputs.length)
          if (typeof logits === "string") throw new Error(logits)
          return logits.map((row) => (row.length === 1 ? [sigmoid(row[0] ?? 0)] : softmax(row)))
        },
        catch: (error) => new LocalModelInferenceError({ model: id, reason: describe(error) })
      }).pipe(Effect.withSpan("LocalModel.classify", { attributes: { model: id, inputs: inputs.length } }))

    return { path: dir, labels, classify } satisfies Classifier
  })
