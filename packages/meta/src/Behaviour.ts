/**
 * Agents' behaviour as versioned, human-edited YAML files: one agent per
 * file in a folder, decoded with a Schema at start. A bad file is a typed
 * error naming the file and the key path, so the service refuses to start
 * with a message a reviewer can act on.
 *
 * YAML rather than JSONC or TOML: comments, multi-line instructions as block
 * scalars, and the `yaml` package's Document API edits one node while keeping
 * every comment and untouched line as written, so a proposal's diff shows
 * only what it changes.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parseDocument } from "yaml"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const Positive = Schema.Number.pipe(Schema.positive())
const NonNegative = Schema.Number.pipe(Schema.nonNegative())
const Text = Schema.String.pipe(Schema.trimmed(), Schema.minLength(1))

/**
 * How an agent uses one of the tools the service registers in code.
 *
 * @since 0.1.0 @category schemas
 */
export const ToolSettings = Schema.Struct({
  /** The tool's name in the service's registry. */
  name: Schema.String.pipe(Schema.pattern(/^[a-zA-Z0-9_-]{1,64}$/)),
  /** Bounds each call (its retries included); the agent's default otherwise. */
  timeoutMs: Schema.optional(Positive),
  /** Retries a failed call `times` more times, `delayMs` apart. */
  retry: Schema.optional(Schema.Struct({ times: NonNegativeInt, delayMs: Schema.optional(NonNegative) })),
  /** Replaces the description the model sees. */
  description: Schema.optional(Text)
})
/** @since 0.1.0 @category schemas */
export type ToolSettings = typeof ToolSettings.Type

/**
 * Per-agent validation settings: a deliberately small, flat subset (a
 * validator on or off, the rate limit's and the breaker's few numbers), so
 * that the meta-layer can propose them without depending on the validation
 * package. The service applies them over its own validation config, on a
 * stack of the agent's own.
 *
 * @since 0.1.0 @category schemas
 */
export const ValidationSettings = Schema.Struct({
  /** By validator name (`prompt-injection`, `hallucination`, ...): whether it runs. */
  validators: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Struct({ enabled: Schema.Boolean }) })),
  rateLimit: Schema.optional(Schema.Struct({
    enabled: Schema.optional(Schema.Boolean),
    capacity: Schema.optional(PositiveInt),
    refillPerSecond: Schema.optional(Positive)
  })),
  circuitBreaker: Schema.optional(Schema.Struct({
    enabled: Schema.optional(Schema.Boolean),
    failureRateThreshold: Schema.optional(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1))),
    openDurationMs: Schema.optional(Positive)
  }))
})
/** @since 0.1.0 @category schemas */
export type ValidationSettings = typeof ValidationSettings.Type

/**
 * One agent's behaviour file.
 *
 * @since 0.1.0 @category schemas
 */
export const AgentBehaviour = Schema.Struct({
  name: Schema.String.pipe(Schema.pattern(/^[a-zA-Z0-9_-]{1,64}$/)),
  description: Text,
  /** The model's name; the service's configured model otherwise. */
  model: Schema.optional(Text),
  modelParameters: Schema.optional(Schema.Struct({
    temperature: Schema.optional(Schema.Number.pipe(Schema.between(0, 2))),
    maxTokens: Schema.optional(PositiveInt)
  })),
  instructions: Text,
  maxSteps: PositiveInt,
  tools: Schema.Array(ToolSettings),
  validation: Schema.optional(ValidationSettings)
})
/** @since 0.1.0 @category schemas */
export type AgentBehaviour = typeof AgentBehaviour.Type

/**
 * A behaviour file that cannot be read, parsed or decoded, or that clashes
 * with another. `key` is the offending key path (`tools[1].timeoutMs`),
 * empty when the problem is the whole file.
 *
 * @since 0.1.0 @category errors
 */
export class BehaviourFileError extends Schema.TaggedError<BehaviourFileError>("@patinox/meta/BehaviourFileError")(
  "BehaviourFileError",
  { file: Schema.String, key: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `${this.file}${this.key === "" ? "" : ` at ${this.key}`}: ${this.reason}`
  }
}

/** A key path as a reviewer reads it: `tools[1].timeoutMs`. */
export const formatKey = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (key, part) => typeof part === "number" ? `${key}[${part}]` : key === "" ? String(part) : `${key}.${String(part)}`,
    ""
  )

/**
 * A decoded file: its path and the behaviour it holds.
 *
 * @since 0.1.0 @category models
 */
export interface Loaded {
  readonly file: string
  readonly behaviour: AgentBehaviour
  /** The file's text as read, which edits start from. */
  readonly text: string
}

const decodeBehaviour = Schema.decodeUnknown(AgentBehaviour, { errors: "all", onExcessProperty: "error" })

/**
 * Parses and decodes one file's text. Every Schema issue is reported; `key`
 * names the first, the others follow in the reason.
 *
 * @since 0.1.0 @category decoding
 */
export const decode = (text: string, file: string): Effect.Effect<AgentBehaviour, BehaviourFileError> =>
  Effect.gen(function*() {
    const doc = parseDocument(text, { prettyErrors: true })
    const [first] = doc.errors
    if (first !== undefined) return yield* new BehaviourFileError({ file, key: "", reason: first.message })
    const behaviour = yield* decodeBehaviour(doc.toJS()).pipe(
      Effect.mapError((error) => {
        const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
        const key = issues[0] === undefined ? "" : formatKey(issues[0].path)
        return new BehaviourFileError({
          file,
          key,
          reason: issues.map((issue) => `${formatKey(issue.path) || "(file)"}: ${issue.message}`).join("; ")
        })
      })
    )
    const seen = new Set<string>()
    for (const [index, tool] of behaviour.tools.entries()) {
      if (seen.has(tool.name)) {
        return yield* new BehaviourFileError({ file, key: `tools[${index}].name`, reason: `tool "${tool.name}" is listed twice` })
      }
      seen.add(tool.name)
    }
    return behaviour
  })

const isBehaviourFile = (name: string) => name.endsWith(".yaml") || name.endsWith(".yml")

/**
 * Reads and decodes every `*.yaml` / `*.yml` file in `dir`, in name order.
 * A missing or empty folder, a bad file, and two files naming the same agent
 * are errors.
 *
 * @since 0.1.0 @category loading
 */
export const load = Effect.fn("Behaviour.load")(function*(dir: string) {
  const names = yield* Effect.try({
    try: () => readdirSync(dir).filter(isBehaviourFile).sort(),
    catch: (error) =>
      new BehaviourFileError({ file: dir, key: "", reason: error instanceof Error ? error.message : String(error) })
  })
  if (names.length === 0) {
    return yield* new BehaviourFileError({ file: dir, key: "", reason: "no agent files (*.yaml, *.yml) in this folder" })
  }
  const loaded: Array<Loaded> = []
  const byName = new Map<string, string>()
  for (const name of names) {
    const file = join(dir, name)
    const text = yield* Effect.try({
      try: () => readFileSync(file, "utf8"),
      catch: (error) =>
        new BehaviourFileError({ file, key: "", reason: error instanceof Error ? error.message : String(error) })
    })
    const behaviour = yield* decode(text, file)
    const other = byName.get(behaviour.name)
    if (other !== undefined) {
      return yield* new BehaviourFileError({ file, key: "name", reason: `agent "${behaviour.name}" is already defined in ${other}` })
    }
    byName.set(behaviour.name, file)
    loaded.push({ file, behaviour, text })
  }
  return loaded as ReadonlyArray<Loaded>
})

/**
 * A path into a behaviour file: keys and array indices, as `Document.setIn`
 * takes them (`["tools", 1, "timeoutMs"]`).
 *
 * @since 0.1.0 @category editing
 */
export type KeyPath = ReadonlyArray<string | number>

/**
 * Sets (or, with `undefined`, removes) one value in a behaviour file's text
 * through the `yaml` Document API, so comments and every untouched line stay
 * as written and a review's diff shows only this change. The result must
 * still decode; otherwise the edit fails naming the key.
 *
 * @since 0.1.0 @category editing
 */
export const edit = (
  text: string,
  path: KeyPath,
  value: unknown,
  file = "(edited)"
): Effect.Effect<string, BehaviourFileError> =>
  Effect.gen(function*() {
    const doc = parseDocument(text)
    const [first] = doc.errors
    if (first !== undefined) return yield* new BehaviourFileError({ file, key: "", reason: first.message })
    const key = formatKey(path)
    yield* Effect.try({
      try: () => value === undefined ? doc.deleteIn(path) : doc.setIn(path, value),
      // `setIn` throws when the path crosses a scalar (`name.first` on a string).
      catch: (error) =>
        new BehaviourFileError({ file, key, reason: error instanceof Error ? error.message : String(error) })
    })
    const edited = keepFormatting(text, String(doc))
    yield* decode(edited, file)
    return edited
  })

const dataOf = (text: string): string => {
  const doc = parseDocument(text)
  return doc.errors.length > 0 ? "\u0000invalid" : JSON.stringify(doc.toJS())
}

interface Hunk {
  readonly from: number
  readonly to: number
  readonly lines: ReadonlyArray<string>
}

/** The differing runs between two line lists, by longest common subsequence (files are small). */
const hunks = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): ReadonlyArray<Hunk> => {
  const n = a.length
  const m = b.length
  const lcs: Array<Array<number>> = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
    }
  }
  const out: Array<Hunk> = []
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      i++
      j++
      continue
    }
    const from = i
    const start = j
    while ((i < n || j < m) && !(i < n && j < m && a[i] === b[j])) {
      if (j >= m || (i < n && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) i++
      else j++
    }
    out.push({ from, to: i, lines: b.slice(start, j) })
  }
  return out
}

const apply = (lines: ReadonlyArray<string>, kept: ReadonlyArray<Hunk>): string => {
  const out: Array<string> = []
  let at = 0
  for (const hunk of kept) {
    out.push(...lines.slice(at, hunk.from), ...hunk.lines)
    at = hunk.to
  }
  out.push(...lines.slice(at))
  return out.join("\n")
}

/**
 * The smallest part of a run with the same effect on the data: a refolded
 * scalar next to an edited key makes one run of both, of which only the
 * key's lines matter. Leading and trailing lines are given back to the
 * original while the data stays the same.
 */
const narrow = (a: ReadonlyArray<string>, run: Hunk): Hunk => {
  // The search parses O(lines^4) candidates: runs longer than this (a rewritten instruction) stay whole.
  if (run.to - run.from + run.lines.length > 16) return run
  const target = dataOf(apply(a, [run]))
  let best = run
  const size = (h: Hunk) => h.to - h.from + h.lines.length
  for (let head = 0; head <= run.to - run.from; head++) {
    for (let drop = 0; drop <= run.lines.length; drop++) {
      for (let tail = 0; head + tail <= run.to - run.from; tail++) {
        for (let cut = 0; drop + cut <= run.lines.length; cut++) {
          const candidate = { from: run.from + head, to: run.to - tail, lines: run.lines.slice(drop, run.lines.length - cut) }
          if (size(candidate) < size(best) && dataOf(apply(a, [candidate])) === target) best = candidate
        }
      }
    }
  }
  return best
}

/**
 * The edited text with every change that is only formatting undone: the
 * printer refolds block scalars and rewraps long lines it did not edit,
 * which would put lines a reviewer never asked about into the diff. Each
 * differing run of lines is kept only if it changes the data; if the runs
 * turn out to depend on each other, the printer's text is used as is.
 */
const keepFormatting = (original: string, printed: string): string => {
  const a = original.split("\n")
  const runs = hunks(a, printed.split("\n"))
  const before = dataOf(original)
  const kept = runs.filter((run) => dataOf(apply(a, [run])) !== before).map((run) => narrow(a, run))
  const result = apply(a, kept)
  return dataOf(result) === dataOf(printed) ? result : printed
}
