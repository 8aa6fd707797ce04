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
 * onnxruntime-node's `run` is a synchronous native call (only deferred by a
 * `setImmediate`): on the calling thread it holds the event loop for the
 * whole inference (measured in `pnpm bench local-model`: ~35 ms per 2 KB
 * call on a small dead-weight model, ~1 s expected for Prompt Guard 2 86M).
 * So by default each model runs on a worker thread of its own, tokeniser
 * included, and the agents' thread only posts texts and receives logits.
 *
 * @since 0.1.0
 */
import { Effect, Predicate, type Scope } from "effect"
import { existsSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { basename, dirname, join, resolve } from "node:path"
import { Worker } from "node:worker_threads"
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

/** Where inference runs. @since 0.1.0 @category models */
export type Thread = "worker" | "main"

/** A loaded model, wherever it runs: labels and raw logits per batch. */
interface Engine {
  readonly id2label: unknown
  readonly run: (texts: ReadonlyArray<string>, pairs: ReadonlyArray<string> | undefined) => Promise<unknown>
}

const labelsOf = (id2label: unknown): ReadonlyArray<string> =>
  typeof id2label === "object" && id2label !== null
    ? Object.entries(id2label)
      .map(([index, label]) => [Number(index), String(label)] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, label]) => label)
    : []

/** On the calling thread: ONNX Runtime's `run` is synchronous native work, so this holds the event loop. */
const mainEngine = (key: string, dir: string): Effect.Effect<Engine, LocalModelConfigError, Scope.Scope> =>
  Effect.gen(function*() {
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
    return {
      id2label: typeof config === "object" && config !== null && "id2label" in config ? config.id2label : undefined,
      run: async (texts, pairs) => {
        const encoded = pairs === undefined
          ? tokenizer([...texts], { padding: true, truncation: true })
          : tokenizer([...texts], { text_pair: [...pairs], padding: true, truncation: true })
        const output: unknown = await model(encoded)
        return output
      }
    }
  })

// Plain JavaScript evaluated in the worker, so it runs the same from sources (tsx, vitest) and
// from the bundle: it needs only transformers.js, resolved by the main thread.
const workerSource = `const { parentPort, workerData } = require("node:worker_threads");
const message = (e) => String((e && e.message) || e);
(async () => {
  const t = require(workerData.transformers);
  t.env.allowRemoteModels = false;
  t.env.allowLocalModels = true;
  t.env.localModelPath = workerData.root;
  let tokenizer, model;
  try {
    tokenizer = await t.AutoTokenizer.from_pretrained(workerData.id, { local_files_only: true });
    model = await t.AutoModelForSequenceClassification.from_pretrained(workerData.id, { local_files_only: true, dtype: "fp32" });
  } catch (e) {
    parentPort.postMessage({ type: "failed", error: message(e) });
    return;
  }
  parentPort.on("message", async (m) => {
    try {
      const options = m.pairs ? { text_pair: m.pairs, padding: true, truncation: true } : { padding: true, truncation: true };
      const out = await model(tokenizer(m.texts, options));
      parentPort.postMessage({ type: "result", id: m.id, logits: { data: out.logits.data, dims: out.logits.dims.map(Number) } });
    } catch (e) {
      parentPort.postMessage({ type: "result", id: m.id, error: message(e) });
    }
  });
  parentPort.postMessage({ type: "ready", id2label: model.config.id2label ?? null });
})();`

const field = (value: unknown, name: string): unknown => Predicate.hasProperty(value, name) ? value[name] : undefined

/** On a worker thread of its own: the agents' event loop only posts texts and receives logits. */
const workerEngine = (key: string, dir: string): Effect.Effect<Engine, LocalModelConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const fail = (reason: string) => new LocalModelConfigError({ key, path: dir, reason })
    const transformers = yield* Effect.try({
      try: () => createRequire(import.meta.url).resolve("@huggingface/transformers"),
      catch: (error) => fail(`cannot find @huggingface/transformers: ${describe(error)}`)
    })
    const pending = new Map<number, { resolve: (output: unknown) => void; reject: (error: Error) => void }>()
    let next = 0
    let broken: string | undefined
    const breakAll = (reason: string) => {
      broken = reason
      for (const waiter of pending.values()) waiter.reject(new Error(reason))
      pending.clear()
    }
    const { worker, id2label } = yield* Effect.acquireRelease(
      Effect.async<{ readonly worker: Worker; readonly id2label: unknown }, LocalModelConfigError>((resume) => {
        const worker = new Worker(workerSource, {
          eval: true,
          workerData: { transformers, root: dirname(dir), id: basename(dir) }
        })
        const onStart = (m: unknown) => {
          worker.off("error", onError)
          if (field(m, "type") === "ready") resume(Effect.succeed({ worker, id2label: field(m, "id2label") }))
          else {
            void worker.terminate()
            resume(Effect.fail(fail(`the model does not load: ${String(field(m, "error"))}`)))
          }
        }
        const onError = (error: Error) => resume(Effect.fail(fail(`the model thread failed: ${error.message}`)))
        worker.once("message", onStart)
        worker.once("error", onError)
      }),
      ({ worker }) => Effect.promise(() => worker.terminate())
    )
    worker.on("message", (m: unknown) => {
      const id = field(m, "id")
      const waiter = typeof id === "number" ? pending.get(id) : undefined
      if (waiter === undefined || typeof id !== "number") return
      pending.delete(id)
      const error = field(m, "error")
      if (typeof error === "string") waiter.reject(new Error(error))
      else waiter.resolve({ logits: field(m, "logits") })
    })
    worker.on("error", (error) => breakAll(`the model thread failed: ${error.message}`))
    worker.on("exit", (code) => breakAll(`the model thread exited (code ${code})`))
    return {
      id2label,
      run: (texts, pairs) =>
        new Promise((resolve, reject) => {
          if (broken !== undefined) return reject(new Error(broken))
          const id = next++
          pending.set(id, { resolve, reject })
          worker.postMessage({ id, texts, pairs })
        })
    }
  })

/**
 * Loads the model in `path` (relative paths from the working directory);
 * `key` is the config key reported in errors. Inference runs on a worker
 * thread of its own (`thread: "worker"`, the default) or on the calling
 * thread (`"main"`). The session (and thread) is released with the scope.
 *
 * @since 0.1.0 @category constructors
 */
export const load = (
  key: string,
  path: string,
  options: { readonly thread?: Thread | undefined } = {}
): Effect.Effect<Classifier, LocalModelConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = resolve(path)
    yield* checkDirectory(key, dir)
    const engine = yield* (options.thread === "main" ? mainEngine(key, dir) : workerEngine(key, dir))
    const labels = labelsOf(engine.id2label)
    if (labels.length === 0) {
      return yield* new LocalModelConfigError({ key, path: dir, reason: "config.json has no id2label" })
    }
    const id = basename(dir)
    const classify = (inputs: ReadonlyArray<Input>) =>
      Effect.tryPromise({
        try: async () => {
          if (inputs.length === 0) return []
          const texts = inputs.map((input) => input.text)
          const pairs = inputs.map((input) => input.pair)
          const output = await engine.run(texts, pairs.every((pair): pair is string => pair !== undefined) ? pairs : undefined)
          const logits = logitsOf(output, inputs.length)
          if (typeof logits === "string") throw new Error(logits)
          return logits.map((row) => (row.length === 1 ? [sigmoid(row[0] ?? 0)] : softmax(row)))
        },
        catch: (error) => new LocalModelInferenceError({ model: id, reason: describe(error) })
      }).pipe(Effect.withSpan("LocalModel.classify", { attributes: { model: id, inputs: inputs.length } }))

    return { path: dir, labels, classify } satisfies Classifier
  })
