/**
 * Where this thread is in its young-generation cycle, so that the bus's
 * deferred work (the consumers' rounds) keeps out of the agent runs a
 * scavenge falls in.
 *
 * With every run CPU-bound, the slowest runs are the ones holding a
 * scavenge (about 5 % of runs, each paused 2-3 ms), and a round woken by
 * the linger tick lands in a run with a probability that grows with the
 * run's length: a fifth of the rounds fell in those runs, on top of their
 * pause. The tick therefore waits (a little, bounded by the caller) while
 * a scavenge has just ended (the run it fell in is still going) or is due
 * soon (the run it will fall in has started): the same work then falls in
 * ordinary runs instead.
 *
 * "Just ended" comes from the `gc` performance entries, and from the young
 * generation having emptied since the last reading (entries arrive a turn
 * of the event loop late). "Due soon" from the young generation's fill: V8
 * schedules a scavenge as a task once it is `TRIGGER` full (its
 * `--minor-gc-task-trigger`), to run at the next turn of the event loop, so
 * the room left before that, over the rate it has been filling at. (Taking
 * the space left before it is full instead overestimated the time to the
 * next scavenge by about a third at the median, five times at worst.)
 * Reading the heap's spaces costs about 3 µs, once per tick and per
 * millisecond waited.
 *
 * @internal
 */
import { getHeapSpaceStatistics } from "node:v8"
import { constants, PerformanceObserver } from "node:perf_hooks"

/**
 * The share of the young generation at which V8 schedules a scavenge
 * (`--minor-gc-task-trigger`, 80 by default in Node 20's V8).
 *
 * @internal
 */
export const TRIGGER = 0.8

/** @internal */
export interface Options {
  /** A scavenge that ended less than this long ago (ms) counts as just ended. */
  readonly afterMs: number
  /** A scavenge expected within this long (ms) counts as due soon. */
  readonly beforeMs: number
}

/** @internal The young generation now: bytes in use, and bytes left before the next scavenge. */
export interface Reading {
  readonly used: number
  readonly available: number
}

/**
 * The decision, apart from V8: fed the end of each collection and a reading
 * of the young generation at each question.
 *
 * @internal
 */
export class Tracker {
  private lastEnd = Number.NEGATIVE_INFINITY
  /** A collection was reported since the last reading. */
  private collectedSinceReading = false
  /** The last reading's time (NaN before the first) and bytes in use. */
  private previousAt = Number.NaN
  private previousUsed = 0
  /** Bytes per ms the young generation fills at (a moving average), 0 while unknown. */
  private rate = 0

  constructor(readonly options: Options) {}

  /** A collection (minor or major: either empties the young generation) ended at `end` (ms, `performance.now()`). */
  collected(end: number): void {
    this.collectedSinceReading = true
    if (end > this.lastEnd) this.lastEnd = end
  }

  /** Whether deferred work should wait now (ms, `performance.now()`), given the young generation's `reading`. */
  busy(now: number, reading: Reading): boolean {
    const { previousAt, previousUsed, collectedSinceReading } = this
    this.collectedSinceReading = false
    this.previousAt = now
    this.previousUsed = reading.used
    if (now - this.lastEnd < this.options.afterMs) return true
    // With a collection reported between the two readings, their difference is no rate.
    if (!collectedSinceReading && !Number.isNaN(previousAt)) {
      // Emptied since the last reading, and not reported yet: a collection ended a moment ago.
      if (reading.used < previousUsed) return true
      if (now > previousAt) {
        const rate = (reading.used - previousUsed) / (now - previousAt)
        this.rate = this.rate === 0 ? rate : this.rate * 0.7 + rate * 0.3
      }
    }
    const left = TRIGGER * (reading.used + reading.available) - reading.used
    // Past the trigger, a scavenge is waiting for the next turn of the event loop.
    return left <= 0 || (this.rate > 0 && left / this.rate < this.options.beforeMs)
  }
}

/** @internal This thread's young generation, from V8. */
export const newSpace = (): Reading | undefined => {
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === "new_space") return { used: space.space_used_size, available: space.space_available_size }
  }
  return undefined
}

/**
 * A tracker fed by this thread's collections until `stop`; `busy()` reads
 * the young generation now (never busy where V8 does not report it).
 *
 * @internal
 */
export const observe = (options: Options): { readonly busy: () => boolean; readonly stop: () => void } => {
  const tracker = new Tracker(options)
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail: unknown = "detail" in entry ? entry.detail : undefined
      const kind = typeof detail === "object" && detail !== null && "kind" in detail ? detail.kind : undefined
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR || kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        tracker.collected(entry.startTime + entry.duration)
      }
    }
  })
  observer.observe({ entryTypes: ["gc"] })
  return {
    busy: () => {
      const reading = newSpace()
      return reading !== undefined && tracker.busy(performance.now(), reading)
    },
    stop: () => observer.disconnect()
  }
}
