import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref, TestClock } from "effect"
import { Errors, Recovery } from "@patinox/core"

describe("Recovery.withRetries", () => {
  it.effect("retries a retryable error, waiting the server's retry-after", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const call = Ref.updateAndGet(attempts, (n) => n + 1).pipe(
        Effect.flatMap((n) =>
          n < 3
            ? Effect.fail(new Errors.ModelRateLimited({ provider: "test", reason: "slow down", retryAfterMs: 2_000 }))
            : Effect.succeed("ok")
        )
      )
      const fiber = yield* Effect.fork(Recovery.withRetries(call))
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(yield* Ref.get(attempts), 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(attempts), 2)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.strictEqual(yield* Ref.get(attempts), 3)
    }))

  it.effect("does not retry an error whose strategy is fail", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const call = Ref.update(attempts, (n) => n + 1).pipe(
        Effect.zipRight(Effect.fail(new Errors.ModelRequestRejected({ provider: "test", status: 400, reason: "bad" })))
      )
      const error = yield* Effect.flip(Recovery.withRetries(call))
      assert.strictEqual(error._tag, "ModelRequestRejected")
      assert.strictEqual(yield* Ref.get(attempts), 1)
    }))

  it.effect("gives up at once when retry-after exceeds the maximum delay", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const call = Ref.update(attempts, (n) => n + 1).pipe(
        Effect.zipRight(Effect.fail(new Errors.ModelRateLimited({ provider: "t", reason: "x", retryAfterMs: 3_600_000 })))
      )
      const error = yield* Effect.flip(Recovery.withRetries(call, { ...Recovery.defaultRetryPolicy, maxDelay: "1 minute" }))
      assert.strictEqual(error._tag, "ModelRateLimited")
      assert.strictEqual(yield* Ref.get(attempts), 1)
    }))

  it.effect("stops after maxRetries", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const call = Ref.update(attempts, (n) => n + 1).pipe(
        Effect.zipRight(Effect.fail(new Errors.ModelUnavailable({ provider: "t", status: 503, reason: "down" })))
      )
      const fiber = yield* Effect.fork(Effect.flip(Recovery.withRetries(call, { maxRetries: 2, baseDelay: "10 millis", maxDelay: "1 second" })))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "ModelUnavailable")
      assert.strictEqual(yield* Ref.get(attempts), 3)
    }))
})
