import { Effect, type Scope } from "effect"
import { performance } from "node:perf_hooks"

/** The window (ms) each share is measured over. */
const WINDOW_MS = 100

/**
 * How busy this thread's event loop is with work other than the sink's
 * own: over the last window of `WINDOW_MS`, the share of the time the loop
 * was active, less the time the sink reported (`own`) for preparing rows
 * and cloning events. A timer (that keeps no process alive) closes a window every
 * `WINDOW_MS`, so the figure is never older than two windows; it reads 0
 * until the first one closes.
 */
export interface LoopLoad {
  /** Adds `ms` of the sink's own work on this thread (preparing, cloning) to the current window. */
  readonly own: (ms: number) => void
  /** The other work's share of the last window, 0..1. */
  readonly share: () => number
}

/** A `LoopLoad` for the life of the scope. */
export const make: Effect.Effect<LoopLoad, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => {
      let from = performance.eventLoopUtilization()
      let ownMs = 0
      let last = 0
      const timer = setInterval(() => {
        const now = performance.eventLoopUtilization()
        const window = performance.eventLoopUtilization(now, from)
        const total = window.idle + window.active
        if (total > 0) last = Math.min(1, Math.max(0, window.active - ownMs) / total)
        from = now
        ownMs = 0
      }, WINDOW_MS)
      timer.unref()
      const load: LoopLoad = {
        own: (ms) => {
          ownMs += ms
        },
        share: () => last
      }
      return { load, timer }
    }),
    ({ timer }) => Effect.sync(() => clearInterval(timer))
  ),
  ({ load }) => load
)
