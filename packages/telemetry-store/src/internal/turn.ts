import { Effect } from "effect"

/**
 * Gives the event loop a turn (I/O callbacks, timers, messages from the
 * other thread) before going on; Effect's own yield stays in microtasks. The
 * 1 ms timer is for a loop that timers keep from ever reaching its check
 * phase, where `setImmediate` runs. Timers of the real clock: a `TestClock`
 * does not hold it up.
 */
export const turn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const cancel = () => {
    clearImmediate(immediate)
    clearTimeout(timer)
  }
  const done = () => {
    cancel()
    resume(Effect.void)
  }
  const immediate = setImmediate(done)
  const timer = setTimeout(done, 1)
  return Effect.sync(cancel)
})
