/**
 * Overhead of the full validation pipeline per action: circuit breaker, rate
 * limiter, jailbreak validator (committed classifier) and hallucination
 * validator (a temp-file SQLite knowledge base of 300 synthetic documents),
 * beside `ValidationPipeline.passThrough` in the same process and run. Four
 * action kinds: a ~2 KB user input, a tool result, a model call and a final
 * answer the knowledge base supports. All texts are generated here; no
 * evaluation rows. Rounds alternate between the two pipelines so drift (JIT,
 * GC, the other core) hits both alike.
 */
import { CircuitBreaker, HallucinationValidator, JailbreakValidator, KnowledgeBase, Pipeline, RateLimiter } from "@patinox/validation"
import { AgentAction, Ids, Message, Monitor, ValidationPipeline } from "@patinox/core"
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { Benchmark, BenchRow } from "./harness.js"
import { percentile, round } from "./harness.js"

const ROUNDS = 5
const PER_ROUND = 100
const WARMUP = 50
const DOCUMENTS = 300

// -- synthetic knowledge base --------------------------------------------------

const NAMES = ["Alder", "Birchwood", "Cobalt", "Dunmere", "Elmstead", "Fernhill", "Greyholm", "Hartwell", "Ivybridge", "Juniper"]
const TOWNS = ["Brenmoor", "Calder", "Dunstow", "Eskvale", "Farrow", "Glenrith", "Holloway", "Kestrel Bay", "Lowmarsh", "Mistral"]
const KINDS = ["railway station", "reservoir", "library", "observatory", "market hall", "ferry terminal"]

const factsOf = (i: number) => {
  const name = `${NAMES[i % NAMES.length]} ${KINDS[Math.floor(i / NAMES.length) % KINDS.length]}`
  const town = TOWNS[Math.floor(i / 7) % TOWNS.length] ?? "Brenmoor"
  return { name, town, year: 1820 + ((i * 37) % 190), visitors: 200 + ((i * 613) % 9_000), architect: `${NAMES[(i * 3) % NAMES.length]} Calloway` }
}

const documentOf = (i: number): KnowledgeBase.Document => {
  const f = factsOf(i)
  return {
    id: `doc-${i}`,
    title: `The ${f.name} of ${f.town}`,
    text: `The ${f.name} of ${f.town} opened in ${f.year}. It was designed by the architect ${f.architect}. ` +
      `About ${f.visitors} people use it every day. The building was restored after a storm damaged its roof, ` +
      `and the town council pays for its upkeep. Guided tours are held on the first Saturday of each month.`
  }
}

// -- actions ---------------------------------------------------------------------

const PROSE = [
  "Please read the attached notes about our quarterly planning and tell me what the main risks are.",
  "The team expects the migration to finish before the holidays, provided the vendor ships the new drivers.",
  "Two offices reported slower builds after the upgrade; the cause seems to be the shared cache settings.",
  "We also need a short summary for the board, no longer than half a page, in plain language.",
  "The budget for the second half is unchanged, but travel should be cut by about a fifth."
]
const prose = (bytes: number): string => {
  let out = ""
  for (let i = 0; out.length < bytes; i++) out += `${PROSE[i % PROSE.length]} `
  return out.slice(0, bytes)
}

const facts = factsOf(42)
const actions: ReadonlyArray<readonly [string, AgentAction.AgentAction, string]> = [
  ["user-input-2KB", new AgentAction.UserInput({ input: prose(2_048) }), "summarise"],
  [
    "tool-result",
    new AgentAction.ToolResult({
      step: 1,
      toolCallId: Ids.ToolCallId.make("call-1"),
      name: "search",
      content: documentOf(42).text,
      isError: false
    }),
    "search"
  ],
  [
    "model-call",
    new AgentAction.ModelCall({
      step: 2,
      messages: [Message.system("You answer from the knowledge base."), Message.user(prose(600))],
      tools: ["search"]
    }),
    "model"
  ],
  [
    "final-answer",
    new AgentAction.FinalAnswer({
      step: 3,
      content: `The ${facts.name} of ${facts.town} opened in ${facts.year} and was designed by ${facts.architect}.`
    }),
    `When did the ${facts.name} of ${facts.town} open?`
  ]
]

const ids = { agentId: Ids.AgentId.make("bench"), runId: Ids.RunId.make("bench-run") }

const timeChecks = (action: AgentAction.AgentAction, input: string, n: number, out: Array<number> | undefined) =>
  Effect.gen(function*() {
    const pipeline = yield* ValidationPipeline.ValidationPipeline
    const context = { ...ids, input, stage: AgentAction.stageOf(action) }
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const verdict = yield* pipeline.check(action, context)
      const elapsed = performance.now() - t0
      if (verdict._tag !== "Proceed") return yield* Effect.dieMessage(`benchmark action was not approved: ${verdict._tag}`)
      out?.push(elapsed)
    }
  })

const benchmark: Benchmark = {
  name: "validation-pipeline",
  description: "four-validator pipeline (breaker, rate limiter, jailbreak, hallucination + SQLite KB) vs passThrough, per action",
  run: async (progress) => {
    const dir = mkdtempSync(join(tmpdir(), "patinox-bench-validation-"))
    const kb = Layer.effectDiscard(
      Effect.flatMap(KnowledgeBase.KnowledgeBase, (kb) => kb.addMany(Array.from({ length: DOCUMENTS }, (_, i) => documentOf(i))))
    ).pipe(
      Layer.provideMerge(KnowledgeBase.layer),
      Layer.provide(SqliteClient.layer({ filename: join(dir, "kb.sqlite") }))
    )
    const full = Pipeline.stack(
      Pipeline.empty,
      CircuitBreaker.layerValidator,
      RateLimiter.layer({ requests: { capacity: 1e9, refillPerSecond: 1e9 }, waitBudget: "1 second" }),
      JailbreakValidator.layer(),
      HallucinationValidator.layer()
    ).pipe(Layer.provide(Layer.merge(CircuitBreaker.layer(), kb)), Layer.provide(Monitor.layerMemory()))
    const bare = ValidationPipeline.passThrough
    const fullRuntime = ManagedRuntime.make(full)
    const bareRuntime = ManagedRuntime.make(bare)
    try {
      const t0 = performance.now()
      const names = await fullRuntime.runPromise(Effect.map(ValidationPipeline.ValidationPipeline, (p) => p.validators))
      progress(`pipeline [${names.join(", ")}] built with ${DOCUMENTS} documents in ${round(performance.now() - t0, 0)} ms`)
      const rows: Array<BenchRow> = []
      for (const [kind, action, input] of actions) {
        await fullRuntime.runPromise(timeChecks(action, input, WARMUP, undefined))
        await bareRuntime.runPromise(timeChecks(action, input, WARMUP, undefined))
        const fullSamples: Array<number> = []
        const bareSamples: Array<number> = []
        for (let r = 0; r < ROUNDS; r++) {
          await fullRuntime.runPromise(timeChecks(action, input, PER_ROUND, fullSamples))
          await bareRuntime.runPromise(timeChecks(action, input, PER_ROUND, bareSamples))
        }
        for (const p of [50, 99] as const) {
          const value = percentile(fullSamples, p)
          const baseline = percentile(bareSamples, p)
          rows.push({
            name: `validation-pipeline/${kind}`,
            metric: `p${p}`,
            value: round(value, 4),
            unit: "ms",
            baseline: round(baseline, 4),
            ratio: round(baseline > 0 ? value / baseline : Number.NaN, 1)
          })
        }
        progress(
          `${kind}: p50 ${round(percentile(fullSamples, 50), 3)} ms, p99 ${round(percentile(fullSamples, 99), 3)} ms ` +
            `(passThrough p50 ${round(percentile(bareSamples, 50), 4)} ms)`
        )
      }
      return rows
    } finally {
      await fullRuntime.dispose()
      await bareRuntime.dispose()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default benchmark
