/**
 * The local-model stage's latency: the injection validator on a ~2 KB user
 * input and the grounding validator on one (passage, answer) pair, on two
 * generated models (no downloaded weights): the few-kilobyte test model, and
 * the same with dead weight (8 [384 x 384] matrix products per token, ~1.2
 * GFLOP for 512 tokens: a small real classifier's kind of work; Prompt Guard
 * 2 86M is ~40x that).
 *
 * Besides p50/p99 per call, it reports how long each call holds the event
 * loop (event-loop utilisation x wall time / calls) and the worst event-loop
 * delay seen by a timer while calls run, with inference on the calling
 * thread (`main`) and on the model's worker thread (`worker`, the default):
 * onnxruntime-node's `run` is a synchronous native call (deferred by
 * `setImmediate`), so on the calling thread inference blocks the agents'
 * event loop for its whole duration. Baseline: the built-in
 * `PromptGuard.analyze` on the same input.
 */
import { AgentAction, Ids } from "@patinox/core"
import { Classifier, LocalModel, LocalModelConfig, TinyModel } from "@patinox/local-model"
import { PromptGuard } from "@patinox/validation"
import { Effect, Either, Exit, Schema, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import type { Benchmark, BenchRow } from "./harness.js"
import { percentile, round } from "./harness.js"

const ITERATIONS = 200
const WARMUP = 20

const PROSE = "the weather in paris is what it was the year the capital of france was built and this text is about it "
const input = (bytes: number) => PROSE.repeat(Math.ceil(bytes / PROSE.length)).slice(0, bytes)

const ids = { agentId: Ids.AgentId.make("bench"), runId: Ids.RunId.make("bench") }

interface Measured {
  readonly samples: ReadonlyArray<number>
  /** Milliseconds per call the event loop was busy. */
  readonly blockedMs: number
  /** The worst delay a 1 ms-resolution timer saw while the calls ran. */
  readonly maxLoopDelayMs: number
}

const measure = async (fn: () => Promise<unknown>): Promise<Measured> => {
  for (let i = 0; i < WARMUP; i++) await fn()
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  const before = performance.eventLoopUtilization()
  const started = performance.now()
  const samples: Array<number> = []
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  const wall = performance.now() - started
  const elu = performance.eventLoopUtilization(before)
  histogram.disable()
  return { samples, blockedMs: (elu.utilization * wall) / ITERATIONS, maxLoopDelayMs: histogram.max / 1e6 }
}

const rowsOf = (name: string, m: Measured, baseline?: number): ReadonlyArray<BenchRow> => [
  ...([50, 99] as const).map((p): BenchRow => {
    const value = round(percentile(m.samples, p))
    return baseline === undefined
      ? { name, metric: `p${p}`, value, unit: "ms" }
      : { name, metric: `p${p}`, value, unit: "ms", baseline: round(baseline), ratio: round(value / baseline, 1) }
  }),
  { name, metric: "event-loop-held-per-call", value: round(m.blockedMs), unit: "ms" },
  { name, metric: "max-event-loop-delay", value: round(m.maxLoopDelayMs), unit: "ms" }
]

const benchmark: Benchmark = {
  name: "local-model",
  description: "local-model validators (transformers.js + onnxruntime-node) per call, p50/p99 and event-loop hold, tiny and dead-weight models",
  run: async (progress) => {
    const dir = mkdtempSync(join(tmpdir(), "patinox-bench-local-model-"))
    const scope = Effect.runSync(Scope.make())
    const rows: Array<BenchRow> = []
    try {
      const guard = PromptGuard.loadSync()
      if (Either.isLeft(guard)) throw guard.left
      const text = input(2_048)
      const builtIn = await measure(async () => guard.right.analyze(text))
      const builtInP50 = percentile(builtIn.samples, 50)
      const deadWeight = { compute: { hidden: 384, layers: 8 } }
      const models = [
        ["tiny-worker", {}, "worker"],
        ["tiny-main", {}, "main"],
        ["dead-weight-worker", deadWeight, "worker"],
        ["dead-weight-main", deadWeight, "main"]
      ] as const
      for (const [label, extra, thread] of models) {
        const injectionDir = TinyModel.writeTinyModel(join(dir, `${label}-injection`), { ...TinyModel.injectionSpec, ...extra })
        const groundingDir = TinyModel.writeTinyModel(join(dir, `${label}-grounding`), { ...TinyModel.groundingSpec, ...extra })
        const loadStarted = performance.now()
        const [injection, grounding] = await Effect.runPromise(
          Effect.all([
            Effect.flatMap(
              Classifier.load("injection", injectionDir, { thread }),
              (c) => LocalModel.injectionValidator(c, Schema.decodeSync(LocalModelConfig.InjectionConfig)({ path: injectionDir }))
            ),
            Effect.flatMap(
              Classifier.load("grounding", groundingDir, { thread }),
              (c) => LocalModel.groundingValidator(c, Schema.decodeSync(LocalModelConfig.GroundingConfig)({ path: groundingDir }))
            )
          ]).pipe(Scope.extend(scope))
        )
        rows.push({ name: `local-model/load-${label}`, metric: "both models", value: round(performance.now() - loadStarted), unit: "ms" })
        progress(`${label}: loaded`)
        const action = new AgentAction.UserInput({ input: text })
        const injected = await measure(() => Effect.runPromise(injection.validate(action, { ...ids, stage: "user_input" })))
        rows.push(...rowsOf(`local-model/injection-2KB-${label}`, injected, builtInP50))
        progress(`${label}: injection p50 ${round(percentile(injected.samples, 50))} ms`)
        const answer = new AgentAction.FinalAnswer({ step: 1, content: "Paris is the capital of France." })
        const context = { ...ids, stage: "final_answer" as const, input: "capital of France?", toolResults: [input(1_000)] }
        const grounded = await measure(() => Effect.runPromise(grounding.validate(answer, context)))
        rows.push(...rowsOf(`local-model/grounding-1KB-${label}`, grounded))
        progress(`${label}: grounding p50 ${round(percentile(grounded.samples, 50))} ms`)
      }
      rows.push(...rowsOf("local-model/built-in-prompt-guard-2KB", builtIn))
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(dir, { recursive: true, force: true })
    }
    return rows
  }
}

export default benchmark
