/**
 * Benchmark harness shared by every `bench/*.bench.ts`. A benchmark is an
 * entry point (it may run Effects); it reports rows that `bench/run.ts`
 * prints as a table and appends to `bench-results.json`.
 */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

export interface BenchRow {
  readonly name: string
  readonly metric: string
  readonly value: number
  readonly unit: string
  readonly baseline?: number
  readonly ratio?: number
}

export interface Benchmark {
  readonly name: string
  readonly description: string
  readonly run: (progress: (message: string) => void) => Promise<ReadonlyArray<BenchRow>>
}

const benchDir = dirname(fileURLToPath(import.meta.url))

/** Every `bench/*.bench.ts` module, imported in name order (each module's `default` is its `Benchmark`). */
export const importBenchModules = async (): Promise<Array<{ readonly default?: unknown }>> => {
  const modules: Array<{ readonly default?: unknown }> = []
  for (const file of readdirSync(benchDir).filter((f) => f.endsWith(".bench.ts")).sort()) {
    modules.push(await import(pathToFileURL(join(benchDir, file)).href))
  }
  return modules
}

/** Index of the `p`th percentile (nearest rank) in `length` sorted samples. */
const rankOf = (length: number, p: number): number => Math.min(length - 1, Math.max(0, Math.ceil((p / 100) * length) - 1))

/** Percentile by nearest rank over an unsorted sample. */
export const percentile = (samples: ReadonlyArray<number>, p: number): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[rankOf(sorted.length, p)] ?? Number.NaN
}

/**
 * A 95 % interval for `percentile(a, q) / percentile(b, q)`: the 2.5th and
 * 97.5th percentiles of the ratio over `reps` bootstrap resamples of each
 * side (drawn with replacement, from a seeded generator, so a run repeats).
 * Resampling treats runs as independent: it shows the sampling error of a
 * tail percentile, not the host's drift.
 */
export const bootstrapRatio = (
  a: ReadonlyArray<number>,
  b: ReadonlyArray<number>,
  q: number,
  reps = 200
): { readonly low: number; readonly high: number } => {
  let seed = 0x2545f491
  const next = () => {
    // xorshift32
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 0x1_0000_0000
  }
  const resampled = (samples: ReadonlyArray<number>) => {
    const out = new Float64Array(samples.length)
    for (let i = 0; i < out.length; i++) out[i] = samples[Math.floor(next() * samples.length)]!
    out.sort()
    return out[rankOf(out.length, q)]!
  }
  const ratios: Array<number> = []
  for (let r = 0; r < reps; r++) ratios.push(resampled(a) / resampled(b))
  return { low: percentile(ratios, 2.5), high: percentile(ratios, 97.5) }
}

export const round = (value: number, digits = 3): number => {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/**
 * Deterministic data for a benchmark's store: a seeded linear congruential
 * generator (the same rows on every run and machine), picks from it, and
 * skewed latencies (most calls near `base`, `tail` of them 8x).
 */
export const seeded = (seed: number) => {
  let state = seed
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) & 0x7fffffff
    return state / 0x7fffffff
  }
  return {
    random,
    pick: <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)] ?? items[0]!,
    latency: (base: number, tail: number) => round(base * (0.5 + random()) * (random() < tail ? 8 : 1), 1)
  }
}

/** `n` in hex, zero-padded to `width`: ids shaped like trace, span and run ids. */
export const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0")

/**
 * Times `iterations` sequential calls of `fn` after `warmup` untimed calls.
 * Returns the per-call durations in milliseconds and the wall time.
 */
export const timeSequential = async (
  fn: () => Promise<unknown>,
  options: { readonly warmup: number; readonly iterations: number; readonly onProgress?: (done: number) => void }
): Promise<{ readonly samples: ReadonlyArray<number>; readonly totalMs: number }> => {
  for (let i = 0; i < options.warmup; i++) await fn()
  const samples: Array<number> = []
  const start = performance.now()
  for (let i = 0; i < options.iterations; i++) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
    if (options.onProgress && (i + 1) % Math.max(1, Math.floor(options.iterations / 10)) === 0) {
      options.onProgress(i + 1)
    }
  }
  return { samples, totalMs: performance.now() - start }
}

const gc: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (exposed !== undefined) return exposed
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
})()

/** Heap in use after full garbage collections, in bytes: what is retained, not what awaits collection. */
export const heapAfterGc = (): number => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
