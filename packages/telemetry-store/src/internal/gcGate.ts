/**
 * Keeps the write thread's work out of the way of the agents' scavenges.
 *
 * The main thread's young-generation collections are parallel: V8 runs part
 * of each on a helper thread, on the other core. When the write thread is
 * busy there (redacting, building rows, inserting, and allocating as it
 * goes), those scavenges take longer, even at nice 19, and the agent runs
 * they fall in are the slowest ones. So the main thread publishes, on shared
 * memory, when its last scavenge ended and the usual time between two; the
 * write thread, for a batch the main thread sent while it kept up and with
 * nothing else in its inbox, starts only in the first half of that period,
 * and otherwise waits for the next scavenge to end (at most `MAX_WAIT_MS`).
 * A batch that comes in the first `SETTLE_MS` after a scavenge waits until
 * they have passed: the agent run the scavenge fell in is still going then,
 * and those runs are the slowest. (A batch held for the scavenge itself
 * starts as it ends: see below.)
 * Batches sent under load never wait, nor any when the main thread allocates
 * too little for its scavenges to come regularly (the period is unknown or
 * over `MAX_PERIOD_MS`).
 *
 * Agent runs with the model answering at once (bench `monitoring-overhead`'s
 * setup, 8,000 runs each way, one process per figure, three each way,
 * alternating): the monitored side's scavenges were 0.010-0.079 ms longer
 * than monitoring off's with the gate, 0.106-0.199 ms without; the p99
 * ratio 1.010-1.090 against 1.078-1.136. Waiting under load instead (a first
 * version, on any batch with nothing else waiting) cut the sink's sustained
 * rate from 0.90 to 0.67 of the plain insert loop.
 *
 * The settling came later, from the runs a scavenge fell in: less their
 * pause, they took 0.09-0.12 ms longer than monitoring off's, against
 * 0.04-0.05 ms for the runs no pause fell in, since a batch could start the
 * moment a scavenge ended, beside the rest of that run. Same setup, six
 * processes each way, alternating: p99 ratio 1.033-1.071 (mean 1.056) with a
 * 3 ms settle, 1.066-1.092 (mean 1.073) without, lower with it in five of the
 * six pairs. Settling a batch held for the scavenge too lowered p99 further
 * (three pairs: 1.026-1.079, mean 1.049, against 1.065-1.075, mean 1.069)
 * but raised p50 from 1.037-1.046 to 1.055-1.058, over the 1.05 target: that
 * work then fell among the ordinary runs instead.
 */
import { constants, PerformanceObserver } from "node:perf_hooks"
import type { ToWrite } from "./protocol.js"

/** What the main thread publishes: goes to the write thread in its `WriteData`. */
export interface Shared {
  /**
   * On a `SharedArrayBuffer`: [0] when the last scavenge ended, [1] the
   * period (ms, a moving average, 0 while unknown), [2] scavenges seen (the
   * write thread waits on it). Times are ms since `origin`, wrapping at 2^31.
   */
  readonly cells: Int32Array
  /** Epoch ms (`performance.timeOrigin` based, the same on every thread). */
  readonly origin: number
}

const LAST = 0
const PERIOD = 1
const COUNT = 2
/** Scavenges further apart than this (ms): the agents are not busy enough for the gate to matter. */
export const MAX_PERIOD_MS = 200
/** The longest the write thread waits for a scavenge. */
export const MAX_WAIT_MS = 50
/**
 * A batch that comes this soon (ms) after a scavenge waits out the rest: the
 * run the scavenge fell in finishes first (runs take about a millisecond
 * with a model answering at once). Only where it leaves a window before the
 * middle of the period.
 */
export const SETTLE_MS = 3

/** Epoch ms of a `performance` time on this thread (`performance.now()` by default): comparable across threads. */
const epochMs = (at: number = performance.now()): number => performance.timeOrigin + at

/** Now, in the gate's wrapping milliseconds. */
export const now = (origin: number): number => (epochMs() - origin) | 0

/** Shared cells with nothing observed yet. */
export const empty = (): Shared => ({
  cells: new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT)),
  origin: epochMs()
})

/** Records a scavenge that ended at `end` (the gate's ms), and wakes a waiting write thread. */
export const scavenged = (shared: Shared, end: number): void => {
  const { cells } = shared
  const previous = Atomics.load(cells, LAST)
  const seen = Atomics.load(cells, COUNT)
  if (seen > 0) {
    const gap = (end - previous) | 0
    const period = Atomics.load(cells, PERIOD)
    // After a quiet spell the period is unknown again, until the next gap; two in the same ms change nothing.
    if (gap > MAX_PERIOD_MS) Atomics.store(cells, PERIOD, 0)
    else if (gap > 0) Atomics.store(cells, PERIOD, period === 0 ? gap : Math.round(period * 0.8 + gap * 0.2))
  }
  Atomics.store(cells, LAST, end)
  Atomics.add(cells, COUNT, 1)
  Atomics.notify(cells, COUNT)
}

/** On the main thread: observes its scavenges until `stop`. */
export const observe = (): { readonly shared: Shared; readonly stop: () => void } => {
  const shared = empty()
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail: unknown = "detail" in entry ? entry.detail : undefined
      const kind = typeof detail === "object" && detail !== null && "kind" in detail ? detail.kind : undefined
      if (kind !== constants.NODE_PERFORMANCE_GC_MINOR) continue
      scavenged(shared, (epochMs(entry.startTime + entry.duration) - shared.origin) | 0)
    }
  })
  observer.observe({ entryTypes: ["gc"] })
  return { shared, stop: () => observer.disconnect() }
}

/**
 * The period and the time (ms) since the last scavenge ended, at `at`; none
 * while the period is unknown or too long for the gate to apply.
 */
const position = (shared: Shared, at: number): { readonly period: number; readonly since: number } | undefined => {
  const period = Atomics.load(shared.cells, PERIOD)
  if (period <= 0 || period > MAX_PERIOD_MS) return undefined
  return { period, since: (at - Atomics.load(shared.cells, LAST)) | 0 }
}

/**
 * How long (ms) the write thread should wait before its next batch: 0 in the
 * first half of the period, when it is unknown, or when the next scavenge is
 * late (past one and a half periods).
 */
export const waitFor = (shared: Shared, at: number = now(shared.origin)): number => {
  const where = position(shared, at)
  if (where === undefined) return 0
  const { period, since } = where
  if (since < period / 2 || since >= period * 1.5) return 0
  return Math.min(MAX_WAIT_MS, Math.ceil(period * 1.5 - since))
}

/**
 * How long (ms) the write thread should still let the last scavenge's run
 * finish: what is left of `SETTLE_MS` since it ended, when the period is
 * known and long enough to leave a window after the settling (else 0).
 */
export const settleFor = (shared: Shared, at: number = now(shared.origin)): number => {
  const where = position(shared, at)
  if (where === undefined || SETTLE_MS >= where.period / 2) return 0
  const { since } = where
  return since >= 0 && since < SETTLE_MS ? SETTLE_MS - since : 0
}

/**
 * Whether the write thread may wait before writing `batch`: only a batch of
 * events sent while it kept up, with nothing else waiting in its inbox.
 */
export const mayHold = (batch: ToWrite, othersWaiting: number): boolean =>
  batch._tag === "Events" && batch.mayWait && othersWaiting === 0

/** A cell nothing notifies: `Atomics.wait` on it is a plain sleep. */
const sleeper = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT))

/**
 * On the write thread: lets the last scavenge's run finish (`settleFor`),
 * then blocks until the next scavenge ends, or for `waitFor`, whichever
 * comes first (and then starts at once: see the module's notes).
 */
export const hold = (shared: Shared): void => {
  const settle = settleFor(shared)
  if (settle > 0) Atomics.wait(sleeper, 0, 0, settle)
  const count = Atomics.load(shared.cells, COUNT)
  const wait = waitFor(shared)
  if (wait > 0) Atomics.wait(shared.cells, COUNT, count, wait)
}
