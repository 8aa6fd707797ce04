import { assert, describe, it } from "@effect/vitest"
import { AgentAction, Decision, Errors, Ids, Message, Monitor, ValidationPipeline } from "@patinox/core"
import { Effect, Fiber, TestClock } from "effect"
import * as Pipeline from "../src/Pipeline.js"
import * as RateLimiter from "../src/RateLimiter.js"
import type * as Validator from "../src/Validator.js"

const agentId = Ids.AgentId.make("agent-1")
const runId = Ids.RunId.make("run-1")
const context = (agent = agentId): Validator.ValidationContext => ({ agentId: agent, runId, stage: "model_request" })
const callOf = (chars: number) =>
  new AgentAction.ModelCall({ step: 1, messages: [Message.user("x".repeat(chars))], tools: [] })
const small = callOf(4)

const requestsOnly = {
  requests: { capacity: 2, refillPerSecond: 1 },
  waitBudget: "5 seconds"
} satisfies RateLimiter.Config

describe("RateLimiter", () => {
  it.effect("approves while the bucket has requests, then asks to retry when one will have refilled", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make(requestsOnly)
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Approved")
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Approved")
      const third = yield* limiter.validate(small, context())
      assert.isTrue(Decision.isDecision("Retry")(third))
      if (third._tag === "Retry") {
        assert.strictEqual(third.delayMs, 1_000)
        assert.match(third.feedback, /rate limit for key agent:agent-1: .*retry in 1000 ms/)
      }
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Approved")
    }))

  it.effect("rejects, naming the key and the wait, when the refill takes longer than the wait budget", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requests: { capacity: 1, refillPerSecond: 0.1 }, waitBudget: "2 seconds" })
      yield* limiter.validate(small, context())
      const decision = yield* limiter.validate(small, context())
      assert.strictEqual(decision._tag, "Rejected")
      if (decision._tag === "Rejected") {
        assert.match(decision.reason, /^rate limit for key agent:agent-1: .*retry in 10000 ms, beyond the wait budget of 2000 ms$/)
      }
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
      const second = yield* limiter.validate(callOf(2_400), context())
      assert.strictEqual(second._tag, "Retry")
      // 400 tokens left, 600 needed, 100 per second: 2 seconds.
      if (second._tag === "Retry") assert.strictEqual(second.delayMs, 2_000)
      const { tokens } = yield* limiter.available("agent:agent-1")
      assert.strictEqual(tokens, 400)
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

  it.effect("keeps one bucket per key: agents, users and custom keys", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requests: { capacity: 1, refillPerSecond: 1 }, waitBudget: 0 })
      const other = Ids.AgentId.make("agent-2")
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Approved")
      assert.strictEqual((yield* limiter.validate(small, context(other)))._tag, "Approved")
      assert.strictEqual((yield* limiter.validate(small, context()))._tag, "Rejected")
      // A context that carries a user id gets its own bucket per user.
      const alice = { ...context(), userId: "alice" }
      assert.strictEqual(RateLimiter.defaultKeyOf(small, alice), "agent:agent-1|user:alice")
      assert.strictEqual((yield* limiter.validate(small, alice))._tag, "Approved")

      const shared = yield* RateLimiter.make({
        requests: { capacity: 1, refillPerSecond: 1 },
        waitBudget: 0,
        keyOf: () => "everyone"
      })
      assert.strictEqual((yield* shared.validate(small, context()))._tag, "Approved")
      assert.strictEqual((yield* shared.validate(small, context(other)))._tag, "Rejected")
    }))

  it.effect("stays within maxKeys, forgetting buckets that refilled first", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({
        requests: { capacity: 1, refillPerSecond: 1 },
        waitBudget: 0,
        maxKeys: 2,
        keyOf: (_, ctx) => ctx.agentId
      })
      const agent = (n: number) => context(Ids.AgentId.make(`agent-${n}`))
      yield* limiter.validate(small, agent(1))
      yield* TestClock.adjust("1 second") // agent-1's bucket is full again
      yield* limiter.validate(small, agent(2))
      yield* limiter.validate(small, agent(3))
      assert.strictEqual(yield* limiter.size, 2)
      // agent-2 was kept (still empty), so it is still limited.
      assert.strictEqual((yield* limiter.validate(small, agent(2)))._tag, "Rejected")
      for (let n = 4; n < 20; n++) yield* limiter.validate(small, agent(n))
      assert.isAtMost(yield* limiter.size, 2)
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

  it.effect("as a layer, rejects through the pipeline with ValidationRejected", () =>
    Effect.gen(function*() {
      const layer = Pipeline.stack(
        Pipeline.empty,
        RateLimiter.layer({ requests: { capacity: 1, refillPerSecond: 0.001 }, waitBudget: "1 second" })
      )
      const error = yield* Effect.gen(function*() {
        yield* ValidationPipeline.check(small, { agentId, runId })
        return yield* Effect.flip(ValidationPipeline.check(small, { agentId, runId }))
      }).pipe(Effect.provide(layer))
      assert.instanceOf(error, Errors.ValidationRejected)
      if (error._tag === "ValidationRejected") {
        assert.strictEqual(error.validator, "rate-limiter")
        assert.match(error.reason, /rate limit for key agent:agent-1/)
      }
    }).pipe(Effect.provide(Monitor.layerMemory())))
})
