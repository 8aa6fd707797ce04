/**
 * How the runtime acts on an error's `recoveryStrategy`. Only errors whose
 * strategy is `retry` are retried; a server's `retry-after` is honoured, but
 * never past `maxDelay` (a longer wait than that fails the call instead of
 * parking a fiber for minutes).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Random, Schedule } from "effect"
import type { Recoverable } from "./Errors.js"

/** @since 0.1.0 @category models */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number
  /** First backoff delay; doubles on every retry, with jitter. */
  readonly baseDelay: Duration.DurationInput
  /** No single wait is longer than this. */
  readonly maxDelay: Duration.DurationInput
}

/** @since 0.1.0 @category defaults */
export const defaultRetryPolicy: RetryPolicy = {
  maxRetries: 3,
  baseDelay: "250 millis",
  maxDelay: "30 seconds"
}

const retryAfterOf = (error: Recoverable): number | undefined =>
  "retryAfterMs" in error && typeof error.retryAfterMs === "number" ? error.retryAfterMs : undefined

/**
 * A schedule over errors: exponential backoff with jitter, replaced by the
 * error's own `retryAfterMs` when it names one, bounded in count and delay.
 *
 * @since 0.1.0 @category schedules
 */
export const retrySchedule = <E extends Recoverable>(policy: RetryPolicy = defaultRetryPolicy) => {
  const maxDelay = Duration.toMillis(policy.maxDelay)
  return Schedule.exponential(policy.baseDelay).pipe(
    Schedule.jittered,
    Schedule.zipRight(Schedule.identity<E>()),
    Schedule.modifyDelay((error, delay) => {
      const after = retryAfterOf(error)
      return Duration.millis(Math.min(after ?? Duration.toMillis(delay), maxDelay))
    }),
    Schedule.whileInput((error: E) => {
      if (error.recoveryStrategy !== "retry") return false
      const after = retryAfterOf(error)
      return after === undefined || after <= maxDelay
    }),
    Schedule.intersect(Schedule.recurs(policy.maxRetries))
  )
}

/**
 * Retries `self` according to each failure's recovery strategy: the same
 * policy as `retrySchedule`, written as a plain loop that is entered only
 * after a failure, so a call that succeeds pays for one `catchIf` and nothing
 * else (this wraps every model call).
 *
 * @since 0.1.0 @category combinators
 */
export const withRetries = <A, E extends Recoverable, R>(
  self: Effect.Effect<A, E, R>,
  policy: RetryPolicy = defaultRetryPolicy
): Effect.Effect<A, E, R> => {
  const baseMs = Duration.toMillis(policy.baseDelay)
  const maxMs = Duration.toMillis(policy.maxDelay)
  const attempt = (retry: number): Effect.Effect<A, E, R> =>
    Effect.catchIf(self, (error) => error.recoveryStrategy === "retry" && retry < policy.maxRetries, (error) => {
      const after = retryAfterOf(error)
      if (after !== undefined && after > maxMs) return Effect.fail(error)
      const wait = after !== undefined
        ? Effect.succeed(after)
        : Effect.map(Random.nextRange(0.8, 1.2), (jitter) => Math.min(maxMs, baseMs * 2 ** retry * jitter))
      return wait.pipe(
        Effect.flatMap((ms) => Effect.sleep(Duration.millis(ms))),
        Effect.zipRight(Effect.suspend(() => attempt(retry + 1)))
      )
    })
  return attempt(0)
}
