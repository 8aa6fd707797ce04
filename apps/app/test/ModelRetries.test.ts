// Issue 23, item 4: one retry layer between an agent and the model, and a run
// deadline that bounds everything inside it. The real `openai` SDK talks to the
// fake server, so every attempt is a real HTTP request the fake counts.
import { assert, describe, it } from "@effect/vitest"
import { Agent } from "@patinox/agent"
import { Errors, Monitor, Recovery, ValidationPipeline } from "@patinox/core"
import { OpenAiLanguageModel } from "@patinox/provider-openai"
import { FakeOpenAi } from "@patinox/testing"
import { Effect, Fiber, Layer, Option, Redacted, Stream, TestClock } from "effect"

const assistant = Agent.make("assistant").model("gpt-test").instructions("Answer briefly.").build()

/** The provider's default policy is the only one: its attempts are every attempt a failing call makes. */
const attempts = Recovery.defaultRetryPolicy.maxRetries + 1

/** Lets the sockets make progress between clock steps (a real timer: the fake's I/O is real). */
const ioTurn = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))

/** Steps the test clock (backoff sleeps) and lets I/O run, until the fiber is done. */
const settle = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    for (;;) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return done.value
      yield* TestClock.adjust("1 second")
      yield* ioTurn
    }
  })

/** Waits (in I/O turns, not on the clock) until `check` holds. */
const until = (check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* ioTurn
  })

const withFake = (reply: FakeOpenAi.Reply) =>
  Effect.gen(function*() {
    const fake = yield* FakeOpenAi.make({ responder: () => reply })
    const model = OpenAiLanguageModel.layer({ apiKey: Redacted.make("sk-test"), baseURL: fake.url, model: "gpt-test" })
    const services = Layer.mergeAll(model, ValidationPipeline.passThrough, Monitor.layerMemory())
    return { fake, services }
  })

describe("model failures through the real SDK", () => {
  const failing: ReadonlyArray<readonly [string, FakeOpenAi.Reply, string]> = [
    ["an HTTP 500", FakeOpenAi.error(500, "The server had an error"), "ModelUnavailable"],
    ["malformed JSON", FakeOpenAi.malformedJson(), "ModelResponseMalformed"],
    [
      "an HTML page instead of JSON",
      FakeOpenAi.raw(200, "<!doctype html><html><body>Bad gateway</body></html>", {
        headers: { "content-type": "text/html" }
      }),
      "ModelResponseMalformed"
    ],
    ["a dropped socket", FakeOpenAi.dropStream(), "ModelConnectionFailed"]
  ]

  for (const [what, reply, tag] of failing) {
    it.scoped(`make as many upstream calls as the provider's one retry policy allows on ${what}`, () =>
      Effect.gen(function*() {
        const { fake, services } = yield* withFake(reply)
        const fiber = yield* Effect.fork(Effect.provide(Agent.run(assistant, "Hello", { deadline: "2 minutes" }), services))
        const failure = yield* Effect.flip(yield* settle(fiber))
        assert.strictEqual(failure._tag, tag)
        // Before: the agent loop retried the provider's 4 attempts once more, 8 calls.
        assert.strictEqual((yield* fake.requests).length, attempts)
      }))
  }
})

describe("the run deadline", () => {
  it.scoped("cuts a hanging model call, aborts its HTTP request and records the run as ended", () =>
    Effect.gen(function*() {
      const { fake, services } = yield* withFake(FakeOpenAi.hang)
      const run = Effect.gen(function*() {
        const fiber = yield* Effect.fork(Agent.run(assistant, "Hello", { deadline: "2 minutes" }))
        yield* until(Effect.map(fake.requests, (requests) => requests.length === 1))
        // The provider's per-call timeout is a real timer of 60 s; the deadline runs on the test clock.
        yield* TestClock.adjust("2 minutes")
        const failure = yield* Effect.flip(Fiber.join(fiber))
        assert.instanceOf(failure, Errors.RunDeadlineExceeded)
        assert.strictEqual(failure instanceof Errors.RunDeadlineExceeded ? failure.deadlineMs : 0, 120_000)
        // The interruption reached the socket: the fake saw the client go away.
        yield* until(Effect.map(fake.disconnects, (n) => n === 1))
        assert.strictEqual((yield* fake.requests).length, 1)
        const events = yield* Effect.flatMap(Monitor.MemoryMonitor, (memory) => memory.events)
        const ended = events.find((event) => event.type === "run.error")
        assert.strictEqual(ended?.result?._tag === "Failure" ? ended.result.error : undefined, "RunDeadlineExceeded")
      })
      yield* Effect.provide(run, services)
    }))

  it.scoped("also bounds a streamed run", () =>
    Effect.gen(function*() {
      const { fake, services } = yield* withFake(FakeOpenAi.hang)
      const run = Effect.gen(function*() {
        const fiber = yield* Effect.fork(Stream.runDrain(Agent.stream(assistant, "Hello", { deadline: "30 seconds" })))
        yield* until(Effect.map(fake.requests, (requests) => requests.length === 1))
        yield* TestClock.adjust("30 seconds")
        const failure = yield* Effect.flip(Fiber.join(fiber))
        assert.instanceOf(failure, Errors.RunDeadlineExceeded)
        yield* until(Effect.map(fake.disconnects, (n) => n === 1))
        assert.strictEqual((yield* fake.requests).length, 1)
      })
      yield* Effect.provide(run, services)
    }))
})
