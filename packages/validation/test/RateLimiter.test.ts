import { assert, describe, it } from "@effect/vitest"
import { AgentAction, Errors, Ids, Message, Monitor, ValidationPipeline } from "@patinox/core"
import { Effect, Fiber, TestClock } from "effect"
import * as Pipeline from "../src/Pipeline.js"
import * as RateLimiter from "../src/RateLimiter.js"
import type * as Validator from "../src/Validator.js"

const agentId = Ids.AgentId.make("agent-1")
const runId = Ids.RunId.make("run-1")
const context = (userId?: string, agent = agentId): Validator.ValidationContext => ({
  agentId: agent,
  runId,
  stage: "model_request",
  ...(userId === undefined ? {} : { userId })
})
const callOf = (chars: number) =>
  new AgentAction.ModelCall({ step: 1, messages: [Message.user("x".repeat(chars))], tools: [] })
const small = callOf(4)

const requestsOnly = {
  requests: { capacity: 2, refillPerSecond: 1 },
  waitBudget: "5 seconds"
} satisfies RateLimiter.Config

describe("RateLimiter", () => {
  it.effect("approves while the bucket has requests, then waits on the clock for the next one to refill", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make(requestsOnly)
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Approved")
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Approved")
      const third = yield* Effect.fork(limiter.validate(small, context()))
      yield* TestClock.adjust("999 millis")
      assert.isNull(third.unsafePoll())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(third))._tag, "Approved")
    }))

  it.effect("serves waiting callers in turn: each reserves its request, so the next waits one refill longer", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requests: { capacity: 1, refillPerSecond: 1 }, waitBudget: "5 seconds" })
      yield* limiter.validate(small, context())
      const second = yield* Effect.fork(limiter.validate(small, context()))
      yield* Effect.yieldNow()
      const third = yield* Effect.fork(limiter.validate(small, context()))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(second))._tag, "Approved")
      assert.isNull(third.unsafePoll())
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(third))._tag, "Approved")
      // Nothing is left over: the two reservations used exactly the two refills.
      assert.strictEqual((yield* limiter.available(RateLimiter.sharedKey)).requests, 0)
    }))

  it.effect("rejects at once, with retryAfterMs, when the wait would exceed the budget", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requests: { capacity: 1, refillPerSecond: 0.1 }, waitBudget: "2 seconds" })
      yield* limiter.validate(small, context("alice"))
      // Under TestClock a wait would never end: getting a decision at all shows there was none.
      const decision = yield* limiter.validate(small, context("alice"))
      assert.strictEqual(decision._tag, "Rejected")
      if (decision._tag === "Rejected") {
        assert.strictEqual(decision.retryAfterMs, 10_000)
        assert.match(
          decision.reason,
          /^rate limit for key user:alice: 0\/1 requests left; retry in 10000 ms, beyond the wait budget of 2000 ms$/
        )
      }
    }))

  it.effect("counts the reservations of callers already waiting when it decides to reject", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requests: { capacity: 1, refillPerSecond: 1 }, waitBudget: "1500 millis" })
      yield* limiter.validate(small, context())
      const waiting = yield* Effect.fork(limiter.validate(small, context()))
      yield* Effect.yieldNow() // the waiter reserves before the next caller asks
      const decision = yield* limiter.validate(small, context())
      assert.strictEqual(decision._tag, "Rejected")
      if (decision._tag === "Rejected") assert.strictEqual(decision.retryAfterMs, 2_000)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(waiting))._tag, "Approved")
    }))

  it.effect("limits estimated tokens as well as requests", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({
        requests: { capacity: 100, refillPerSecond: 100 },
        tokens: { capacity: 1_000, refillPerSecond: 100 },
        waitBudget: "10 seconds"
      })
      // 2 400 characters ≈ 600 tokens.
      assert.strictEqual(RateLimiter.estimateTokens(callOf(2_400)), 600)
      assert.strictEqual((yield* limiter.validate(callOf(2_400), context()))._tag, "Approved")
      assert.strictEqual((yield* limiter.available(RateLimiter.sharedKey)).tokens, 400)
      // 400 tokens left, 600 needed, 100 per second: 2 seconds.
      const second = yield* Effect.fork(limiter.validate(callOf(2_400), context()))
      yield* TestClock.adjust("1999 millis")
      assert.isNull(second.unsafePoll())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(second))._tag, "Approved")
    }))

  it.effect("rejects at once a request larger than the bucket can ever hold", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({
        requests: { capacity: 10, refillPerSecond: 1 },
        tokens: { capacity: 100, refillPerSecond: 10 },
        waitBudget: "1 hour"
      })
      const decision = yield* limiter.validate(callOf(4_000), context())
      assert.strictEqual(decision._tag, "Rejected")
      if (decision._tag === "Rejected") assert.match(decision.reason, /needs 1000 tokens, more than the 100 tokens/)
    }))

  it.effect("accepts a cost function instead of the estimate", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({
        requests: { capacity: 10, refillPerSecond: 1 },
        tokens: { capacity: 10, refillPerSecond: 1 },
        waitBudget: "1 second",
        costOf: () => 7
      })
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Approved")
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Rejected")
    }))

  it.effect("keeps one bucket per user, and one shared bucket for every caller without one", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requests: { capacity: 1, refillPerSecond: 1 }, waitBudget: 0 })
      assert.strictEqual(RateLimiter.defaultKeyOf(small, context("alice")), "user:alice")
      assert.strictEqual(RateLimiter.defaultKeyOf(small, context()), "shared")
      assert.strictEqual((yield* limiter.validate(small, context("alice")))._tag, "Approved")
      // Alice spending her bucket leaves Bob's and the shared one untouched.
      assert.strictEqual((yield* limiter.validate(small, context("bob")))._tag, "Approved")
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Approved")
      assert.strictEqual((yield* limiter.validate(small, context("alice")))._tag, "Rejected")
      // The key is the user, not the agent: another agent of Alice's draws on the same bucket.
      assert.strictEqual((yield* limiter.validate(small, context("alice", Ids.AgentId.make("agent-2"))))._tag, "Rejected")
      assert.strictEqual((yield* limiter.validate(small, context(undefined, Ids.AgentId.make("agent-2"))))._tag, "Rejected")

      const custom = yield* RateLimiter.make({
        requests: { capacity: 1, refillPerSecond: 1 },
        waitBudget: 0,
        keyOf: (_, ctx) => ctx.agentId
      })
      assert.strictEqual((yield* custom.validate(small, context("alice")))._tag, "Approved")
      assert.strictEqual((yield* custom.validate(small, context("bob")))._tag, "Rejected")
    }))

  it.effect("stays within maxKeys, forgetting buckets that refilled first, then the least recently used", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({
        requests: { capacity: 1, refillPerSecond: 1 },
        waitBudget: 0,
        maxKeys: 2
      })
      yield* limiter.validate(small, context("u1"))
      yield* TestClock.adjust("1 second") // u1's bucket is full again
      yield* limiter.validate(small, context("u2"))
      yield* TestClock.adjust("100 millis")
      yield* limiter.validate(small, context("u3"))
      assert.strictEqual(yield* limiter.size, 2)
      // u2 was kept (still empty), so it is still limited.
      assert.strictEqual((yield* limiter.validate(small, context("u2")))._tag, "Rejected")
      // Every bucket busy: the least recently charged (u2) goes, u3 stays limited.
      yield* limiter.validate(small, context("u4"))
      assert.strictEqual(yield* limiter.size, 2)
      assert.strictEqual((yield* limiter.validate(small, context("u3")))._tag, "Rejected")
      for (let n = 5; n < 1_000; n++) yield* limiter.validate(small, context(`u${n}`))
      assert.strictEqual(yield* limiter.size, 2)
    }))

  it.effect("as a layer, makes the pipeline wait for the refill on the clock, at model requests only", () =>
    Effect.gen(function*() {
      const layer = Pipeline.stack(Pipeline.empty, RateLimiter.layer(requestsOnly))
      const program = Effect.gen(function*() {
        const pipeline = yield* ValidationPipeline.ValidationPipeline
        const run = (action: AgentAction.AgentAction) => pipeline.check(action, { ...context(), stage: AgentAction.stageOf(action) })
        yield* run(small)
        yield* run(small)
        const fiber = yield* Effect.fork(run(small))
        yield* TestClock.adjust("999 millis")
        assert.isNull(fiber.unsafePoll())
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* Fiber.join(fiber))._tag, "Proceed")
        // Final answers are not rate-limited by default.
        for (let i = 0; i < 5; i++) {
          assert.strictEqual((yield* run(new AgentAction.FinalAnswer({ step: 1, content: "ok" })))._tag, "Proceed")
        }
      })
      yield* program.pipe(Effect.provide(layer))
    }).pipe(Effect.provide(Monitor.layerMemory())))

  it.effect("as a layer, rejects through the pipeline with ValidationRejected carrying retryAfterMs", () =>
    Effect.gen(function*() {
      const layer = Pipeline.stack(
        Pipeline.empty,
        RateLimiter.layer({ requests: { capacity: 1, refillPerSecond: 0.5 }, waitBudget: "1 second" })
      )
      const error = yield* Effect.gen(function*() {
        yield* ValidationPipeline.check(small, { agentId, runId, userId: "carol" })
        return yield* Effect.flip(ValidationPipeline.check(small, { agentId, runId, userId: "carol" }))
      }).pipe(Effect.provide(layer))
      assert.instanceOf(error, Errors.ValidationRejected)
      if (error._tag === "ValidationRejected") {
        assert.strictEqual(error.validator, "rate-limiter")
        assert.strictEqual(error.retryAfterMs, 2_000)
        assert.match(error.reason, /rate limit for key user:carol/)
      }
    }).pipe(Effect.provide(Monitor.layerMemory())))
})
