import { assert, describe, it } from "@effect/vitest"
import { AgentAction, Errors, Ids, Message, Monitor, ValidationPipeline } from "@patinox/core"
import { Deferred, Effect, Exit, Fiber, Layer, Ref, TestClock } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Pipeline from "../src/Pipeline.js"

const model = CircuitBreaker.modelDependency
const unavailable = new Errors.ModelUnavailable({ provider: "openai", status: 503, reason: "overloaded" })

const breakerWith = (config: CircuitBreaker.Config) =>
  Layer.provideMerge(CircuitBreaker.layer(config), Monitor.layerMemory())

const succeed = (dependency = model) =>
  Effect.flatMap(CircuitBreaker.CircuitBreaker, (breaker) => breaker.protect(dependency, Effect.succeed("ok")))
const fail = (dependency = model) =>
  Effect.flatMap(CircuitBreaker.CircuitBreaker, (breaker) => Effect.flip(breaker.protect(dependency, Effect.fail(unavailable))))
const stateOf = (dependency = model) => Effect.flatMap(CircuitBreaker.CircuitBreaker, (breaker) => breaker.state(dependency))
const stateChanges = Effect.flatMap(Monitor.MemoryMonitor, (memory) => memory.events).pipe(
  Effect.map((events) =>
    events.filter((event) => event.type === "state.change").map((event) =>
      `${String(event.context["dependency"])}:${String(event.context["from"])}->${String(event.context["to"])}`
    )
  )
)

const quick = { windowSize: 4, minimumCalls: 4, failureRateThreshold: 0.5, openDuration: "10 seconds" } as const

describe("CircuitBreaker", () => {
  it.effect("stays closed until the window holds the minimum number of calls", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 4; i++) yield* fail()
      assert.strictEqual(yield* stateOf(), "closed")
      yield* fail()
      assert.strictEqual(yield* stateOf(), "open")
    }).pipe(Effect.provide(breakerWith({ windowSize: 10, minimumCalls: 5, failureRateThreshold: 0.5 }))))

  it.effect("opens when the failure rate over the window reaches the threshold, and reports it", () =>
    Effect.gen(function*() {
      yield* succeed()
      yield* succeed()
      yield* fail()
      assert.strictEqual(yield* stateOf(), "closed")
      yield* fail()
      assert.strictEqual(yield* stateOf(), "open")
      assert.deepStrictEqual(yield* stateChanges, ["model:closed->open"])
      const events = yield* Effect.flatMap(Monitor.MemoryMonitor, (memory) => memory.events)
      assert.strictEqual(events[0]?.context["failureRate"], 0.5)
    }).pipe(Effect.provide(breakerWith(quick))))

  it.effect("computes the failure rate over the last N calls only", () =>
    Effect.gen(function*() {
      // [F F S S] 0.5, then [F S S S], [S S S F]: 0.25 each, below 0.75.
      yield* fail()
      yield* fail()
      yield* succeed()
      yield* succeed()
      yield* succeed()
      yield* fail()
      assert.strictEqual(yield* stateOf(), "closed")
      // [S F F F]: 0.75.
      yield* fail()
      assert.strictEqual(yield* stateOf(), "closed")
      yield* fail()
      assert.strictEqual(yield* stateOf(), "open")
    }).pipe(Effect.provide(breakerWith({ ...quick, failureRateThreshold: 0.75 }))))

  it.effect("fails fast while open, without running the call", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 4; i++) yield* fail()
      const runs = yield* Ref.make(0)
      yield* TestClock.adjust("4 seconds")
      const breaker = yield* CircuitBreaker.CircuitBreaker
      const error = yield* Effect.flip(breaker.protect(model, Ref.update(runs, (n) => n + 1)))
      assert.instanceOf(error, Errors.CircuitOpen)
      assert.strictEqual(error.dependency, model)
      assert.strictEqual(error.retryAfterMs, 6_000)
      assert.strictEqual(yield* Ref.get(runs), 0)
    }).pipe(Effect.provide(breakerWith(quick))))

  it.effect("goes half-open after the open duration and closes when the probe succeeds", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 4; i++) yield* fail()
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(yield* stateOf(), "open")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* stateOf(), "half_open")
      assert.strictEqual(yield* succeed(), "ok")
      assert.strictEqual(yield* stateOf(), "closed")
      assert.deepStrictEqual(yield* stateChanges, ["model:closed->open", "model:open->half_open", "model:half_open->closed"])
      // Closed again with an empty window: one failure does not reopen it.
      yield* fail()
      assert.strictEqual(yield* stateOf(), "closed")
    }).pipe(Effect.provide(breakerWith(quick))))

  it.effect("opens again when a probe fails", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 4; i++) yield* fail()
      yield* TestClock.adjust("10 seconds")
      const error = yield* fail()
      assert.strictEqual(error._tag, "ModelUnavailable")
      assert.strictEqual(yield* stateOf(), "open")
      assert.deepStrictEqual(yield* stateChanges, ["model:closed->open", "model:open->half_open", "model:half_open->open"])
      const breaker = yield* CircuitBreaker.CircuitBreaker
      const refused = yield* Effect.flip(breaker.protect(model, Effect.void))
      assert.strictEqual(refused._tag, "CircuitOpen")
      if (refused._tag === "CircuitOpen") assert.strictEqual(refused.retryAfterMs, 10_000)
    }).pipe(Effect.provide(breakerWith(quick))))

  it.effect("lets only halfOpenProbes calls through at a time, and closes when they all succeed", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 4; i++) yield* fail()
      yield* TestClock.adjust("10 seconds")
      const breaker = yield* CircuitBreaker.CircuitBreaker
      const gate = yield* Deferred.make<void>()
      const probe1 = yield* Effect.fork(breaker.protect(model, Deferred.await(gate)))
      const probe2 = yield* Effect.fork(breaker.protect(model, Deferred.await(gate)))
      yield* Effect.yieldNow()
      const third = yield* Effect.flip(breaker.protect(model, Effect.void))
      assert.strictEqual(third._tag, "CircuitOpen")
      assert.strictEqual(yield* stateOf(), "half_open")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(probe1)
      yield* Fiber.join(probe2)
      assert.strictEqual(yield* stateOf(), "closed")
    }).pipe(Effect.provide(breakerWith({ ...quick, halfOpenProbes: 2 }))))

  it.effect("counts network and execution failures and defects, not the caller's own errors", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.CircuitBreaker
      const badRequest = new Errors.ModelRequestRejected({ provider: "openai", status: 400, reason: "bad" })
      for (let i = 0; i < 8; i++) yield* Effect.flip(breaker.protect(model, Effect.fail(badRequest)))
      assert.strictEqual(yield* stateOf(), "closed")
      const tool = CircuitBreaker.toolDependency("search")
      for (let i = 0; i < 4; i++) {
        const exit = yield* Effect.exit(breaker.protect(tool, Effect.dieMessage("boom")))
        assert.isTrue(Exit.isFailure(exit))
      }
      assert.strictEqual(yield* stateOf(tool), "open")
      const states = yield* breaker.states
      assert.deepStrictEqual(Object.fromEntries(states), { model: "closed", "tool:search": "open" })
    }).pipe(Effect.provide(breakerWith(quick))))

  it.effect("does not count an interrupted call", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 4; i++) yield* fail()
      yield* TestClock.adjust("10 seconds")
      const breaker = yield* CircuitBreaker.CircuitBreaker
      const fiber = yield* Effect.fork(breaker.protect(model, Effect.never))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      // The probe slot was given back: a new probe is admitted and closes the circuit.
      assert.strictEqual(yield* succeed(), "ok")
      assert.strictEqual(yield* stateOf(), "closed")
    }).pipe(Effect.provide(breakerWith(quick))))

  it.effect("as a validator, refuses a model request or tool call while its circuit is open", () =>
    Effect.gen(function*() {
      const agentId = Ids.AgentId.make("agent-1")
      const runId = Ids.RunId.make("run-1")
      const request = new AgentAction.ModelCall({ step: 1, messages: [Message.user("hi")], tools: [] })
      const toolCall = (name: string) =>
        new AgentAction.ToolCallAction({
          step: 1,
          toolCall: new Message.ToolCall({ id: Ids.ToolCallId.make("call-1"), name, arguments: "{}" })
        })
      const layer = Pipeline.stack(Pipeline.empty, CircuitBreaker.layerValidator)
      yield* Effect.gen(function*() {
        assert.strictEqual((yield* ValidationPipeline.check(request, { agentId, runId }))._tag, "Proceed")
        for (let i = 0; i < 4; i++) yield* fail()
        for (let i = 0; i < 4; i++) yield* fail(CircuitBreaker.toolDependency("search"))
        const error = yield* Effect.flip(ValidationPipeline.check(request, { agentId, runId }))
        assert.instanceOf(error, Errors.ValidationRejected)
        if (error._tag === "ValidationRejected") {
          assert.strictEqual(error.validator, "circuit-breaker")
          assert.strictEqual(error.stage, "model_request")
          assert.strictEqual(error.reason, `circuit for "model" is open; retry in 10000 ms`)
        }
        const toolError = yield* Effect.flip(ValidationPipeline.check(toolCall("search"), { agentId, runId }))
        assert.strictEqual(toolError._tag, "ValidationRejected")
        assert.strictEqual((yield* ValidationPipeline.check(toolCall("calculator"), { agentId, runId }))._tag, "Proceed")
        // Checking does not take the probe slot: after the open duration the real call still gets it.
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual((yield* ValidationPipeline.check(request, { agentId, runId }))._tag, "Proceed")
        assert.strictEqual(yield* succeed(), "ok")
        assert.strictEqual(yield* stateOf(), "closed")
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.provide(breakerWith(quick))))

  it.effect("dies on an invalid configuration", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(CircuitBreaker.make({ windowSize: 3, minimumCalls: 5 }))
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.provide(Monitor.layerMemory())))
})
