import { assert, describe, it } from "@effect/vitest"
import { AgentAction, Decision, Errors, Ids, Message, Monitor, ValidationPipeline } from "@patinox/core"
import { Effect, Fiber, Layer, Ref, TestClock, type Tracer } from "effect"
import * as Pipeline from "../src/Pipeline.js"
import * as Validator from "../src/Validator.js"

const ids = { agentId: Ids.AgentId.make("agent-1"), runId: Ids.RunId.make("run-1") }
const modelCall = new AgentAction.ModelCall({ step: 1, messages: [Message.user("hello")], tools: [] })
const answer = new AgentAction.FinalAnswer({ step: 2, content: "42" })

const check = (action: AgentAction.AgentAction) => ValidationPipeline.check(action, ids)

/** A validator that logs its name and the action it saw, then answers `decide`. */
const logging = (
  log: Ref.Ref<ReadonlyArray<string>>,
  name: string,
  options: {
    readonly priority?: number
    readonly stages?: ReadonlyArray<Validator.Stage>
    readonly mayModify?: boolean
    readonly decide?: (action: AgentAction.AgentAction, attempt: number) => Decision.Decision
  } = {}
) => {
  let attempt = 0
  return Validator.make({
    name,
    priority: options.priority,
    stages: options.stages,
    mayModify: options.mayModify,
    validate: (action) =>
      Ref.update(log, (entries) => [...entries, `${name}:${action._tag === "FinalAnswer" ? action.content : action._tag}`])
        .pipe(Effect.as((options.decide ?? (() => Decision.Approved()))(action, ++attempt)))
  })
}

const withMonitor = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, Monitor.layerMemory())

describe("Pipeline", () => {
  it.effect("runs validators by priority, whatever the order of their layers", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const a = Pipeline.withValidator(logging(log, "a", { priority: 30 }))
      const b = Pipeline.withValidator(logging(log, "b", { priority: 10 }))
      const c = Pipeline.withValidator(logging(log, "c", { priority: 20 }))

      const stacked = Pipeline.stack(Pipeline.empty, a, b, c)
      const chained = b.pipe(Layer.provide(c), Layer.provide(a), Layer.provide(Pipeline.empty))

      for (const layer of [stacked, chained]) {
        yield* Ref.set(log, [])
        const names = yield* Effect.map(ValidationPipeline.ValidationPipeline, (p) => p.validators).pipe(
          Effect.provide(layer)
        )
        assert.deepStrictEqual(names, ["b", "c", "a"])
        yield* check(answer).pipe(Effect.provide(layer))
        assert.deepStrictEqual(yield* Ref.get(log), ["b:42", "c:42", "a:42"])
      }
    })))

  it.effect("keeps the order validators were added in among equal priorities", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(logging(log, "first", { priority: 5 })),
        Pipeline.withValidator(logging(log, "second", { priority: 5 })),
        Pipeline.withValidator(logging(log, "early", { priority: 1 }))
      )
      yield* check(answer).pipe(Effect.provide(layer))
      assert.deepStrictEqual(yield* Ref.get(log), ["early:42", "first:42", "second:42"])
    })))

  it.effect("runs only the validators that apply to the action's stage", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(logging(log, "answers", { stages: ["final_answer"] })),
        Pipeline.withValidator(logging(log, "requests", { stages: ["model_request"] })),
        Pipeline.withValidator(logging(log, "everything"))
      )
      yield* check(modelCall).pipe(Effect.provide(layer))
      assert.deepStrictEqual(yield* Ref.get(log), ["requests:ModelCall", "everything:ModelCall"])
    })))

  it.effect("fails with ModificationNotAllowed when a non-modifier returns Modified", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const rewrite = new AgentAction.FinalAnswer({ step: 2, content: "rewritten" })
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(
          logging(log, "sneaky", { decide: () => Decision.Modified({ action: rewrite, reason: "nicer" }) })
        ),
        Pipeline.withValidator(logging(log, "later", { priority: 200 }))
      )
      const error = yield* Effect.flip(check(answer).pipe(Effect.provide(layer)))
      assert.instanceOf(error, Errors.ModificationNotAllowed)
      assert.strictEqual(error.validator, "sneaky")
      assert.strictEqual(error.stage, "final_answer")
      assert.deepStrictEqual(yield* Ref.get(log), ["sneaky:42"])
    })))

  it.effect("lets later validators see the action a modifier changed", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const redacted = new AgentAction.FinalAnswer({ step: 2, content: "[redacted]" })
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(logging(log, "after", { priority: 50 })),
        Pipeline.withValidator(
          logging(log, "redactor", {
            priority: 1,
            mayModify: true,
            decide: () => Decision.Modified({ action: redacted, reason: "pii" })
          })
        )
      )
      const verdict = yield* check(answer).pipe(Effect.provide(layer))
      assert.deepStrictEqual(yield* Ref.get(log), ["redactor:42", "after:[redacted]"])
      assert.strictEqual(verdict._tag, "Proceed")
      if (verdict._tag === "Proceed") assert.strictEqual(verdict.action, redacted)
    })))

  it.effect("refuses a modification that changes the kind of action", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(
          logging(log, "shapeshifter", {
            mayModify: true,
            decide: () => Decision.Modified({ action: modelCall, reason: "ask again" })
          })
        )
      )
      const error = yield* Effect.flip(check(answer).pipe(Effect.provide(layer)))
      assert.instanceOf(error, Errors.ModificationNotAllowed)
      const events = yield* Effect.flatMap(Monitor.MemoryMonitor, (m) => m.events)
      assert.match(events[0]?.metrics.decisions?.[0]?.reason ?? "", /FinalAnswer into a ModelCall/)
    })))

  it.effect("names the validator, stage, reason and score of a rejection, and stops there", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(
          logging(log, "toxicity", { priority: 1, decide: () => Decision.Rejected({ reason: "insult", score: 0.93 }) })
        ),
        Pipeline.withValidator(logging(log, "never", { priority: 2 }))
      )
      const error = yield* Effect.flip(check(answer).pipe(Effect.provide(layer)))
      assert.instanceOf(error, Errors.ValidationRejected)
      assert.strictEqual(error.validator, "toxicity")
      assert.strictEqual(error.stage, "final_answer")
      assert.strictEqual(error.reason, "insult")
      assert.strictEqual(error.score, 0.93)
      assert.deepStrictEqual(yield* Ref.get(log), ["toxicity:42"])
    })))

  it.effect("fails closed when a validator's own check fails", () =>
    withMonitor(Effect.gen(function*() {
      const broken = Validator.make({
        name: "classifier",
        validate: () => Effect.fail(new Errors.ModelUnavailable({ provider: "clf", status: 503, reason: "down" }))
      })
      const layer = Pipeline.stack(Pipeline.empty, Pipeline.withValidator(broken))
      const error = yield* Effect.flip(check(answer).pipe(Effect.provide(layer)))
      assert.instanceOf(error, Errors.ValidationRejected)
      assert.strictEqual(error.validator, "classifier")
      assert.match(error.reason, /^validator failed: ModelUnavailable: .*HTTP 503/)
      const events = yield* Effect.flatMap(Monitor.MemoryMonitor, (m) => m.events)
      assert.strictEqual(events[0]?.metrics.decisions?.[0]?.decision, "rejected")
    })))

  it.effect("waits a Retry's delay on the clock, then asks the same validator again", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(
          logging(log, "slow", {
            decide: (_, attempt) => attempt === 1 ? Decision.Retry({ delayMs: 1_000, feedback: "busy" }) : Decision.Approved()
          })
        )
      )
      const fiber = yield* Effect.fork(check(modelCall).pipe(Effect.provide(layer)))
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(yield* Ref.get(log), ["slow:ModelCall"])
      yield* TestClock.adjust("1 millis")
      const verdict = yield* Fiber.join(fiber)
      assert.strictEqual(verdict._tag, "Proceed")
      assert.deepStrictEqual(yield* Ref.get(log), ["slow:ModelCall", "slow:ModelCall"])
    })))

  it.effect("gives up after maxRetries retries", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.layer({ maxRetries: 2 }),
        Pipeline.withValidator(logging(log, "stubborn", { decide: () => Decision.Retry({ delayMs: 10, feedback: "no" }) }))
      )
      const fiber = yield* Effect.fork(Effect.flip(check(modelCall).pipe(Effect.provide(layer))))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.instanceOf(error, Errors.ValidationRetriesExhausted)
      assert.strictEqual(error.validator, "stubborn")
      assert.strictEqual(error.attempts, 3)
      assert.strictEqual(error.feedback, "no")
      assert.strictEqual((yield* Ref.get(log)).length, 3)
    })))

  it.effect("gives up before a wait would overrun maxTotalDelay, counted across validators", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.layer({ maxRetries: 10, maxTotalDelay: "5 seconds" }),
        Pipeline.withValidator(
          logging(log, "first", {
            priority: 1,
            decide: (_, attempt) => attempt === 1 ? Decision.Retry({ delayMs: 2_000, feedback: "wait" }) : Decision.Approved()
          })
        ),
        Pipeline.withValidator(
          logging(log, "second", { priority: 2, decide: () => Decision.Retry({ delayMs: 2_000, feedback: "wait more" }) })
        )
      )
      const fiber = yield* Effect.fork(Effect.flip(check(modelCall).pipe(Effect.provide(layer))))
      yield* TestClock.adjust("4 seconds")
      const error = yield* Fiber.join(fiber)
      assert.instanceOf(error, Errors.ValidationRetriesExhausted)
      assert.strictEqual(error.validator, "second")
      // 2 s for "first", 2 s for "second"'s first retry; a third 2 s wait would pass 5 s.
      assert.strictEqual(error.attempts, 2)
      assert.deepStrictEqual(yield* Ref.get(log), ["first:ModelCall", "first:ModelCall", "second:ModelCall", "second:ModelCall"])
    })))

  it.effect("hands a zero-delay Retry with feedback back to the model at a revisable stage", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(
          logging(log, "style", { priority: 1, decide: () => Decision.Retry({ delayMs: 0, feedback: "be concise" }) })
        ),
        Pipeline.withValidator(logging(log, "after", { priority: 2 }))
      )
      const verdict = yield* check(answer).pipe(Effect.provide(layer))
      assert.deepStrictEqual(verdict, ValidationPipeline.Revise({ validator: "style", feedback: "be concise" }))
      assert.deepStrictEqual(yield* Ref.get(log), ["style:42"])
    })))

  it.effect("re-checks a zero-delay Retry at once where the model cannot act on feedback", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(
          logging(log, "gate", {
            decide: (_, attempt) => attempt < 3 ? Decision.Retry({ delayMs: 0, feedback: "again" }) : Decision.Approved()
          })
        )
      )
      const verdict = yield* check(modelCall).pipe(Effect.provide(layer))
      assert.strictEqual(verdict._tag, "Proceed")
      assert.strictEqual((yield* Ref.get(log)).length, 3)
    })))

  it.effect("reports every decision with the validator, decision, reason and latency", () =>
    withMonitor(Effect.gen(function*() {
      const thinking = Validator.make({
        name: "thinker",
        validate: () => Effect.as(Effect.sleep("250 millis"), Decision.Rejected({ reason: "off-topic", score: 0.7 }))
      })
      const layer = Pipeline.stack(Pipeline.empty, Pipeline.withValidator(thinking))
      const fiber = yield* Effect.fork(Effect.flip(check(answer).pipe(Effect.provide(layer))))
      yield* TestClock.adjust("250 millis")
      yield* Fiber.join(fiber)
      const events = yield* Effect.flatMap(Monitor.MemoryMonitor, (m) => m.events)
      assert.strictEqual(events.length, 1)
      const event = events[0]
      assert.strictEqual(event?.type, "validation.decision")
      assert.strictEqual(event?.agentId, ids.agentId)
      assert.strictEqual(event?.runId, ids.runId)
      assert.strictEqual(event?.action, answer)
      assert.strictEqual(event?.metrics.latencyMs, 250)
      assert.strictEqual(event?.context["validator"], "thinker")
      const record = event?.metrics.decisions?.[0]
      assert.strictEqual(record?.validator, "thinker")
      assert.strictEqual(record?.stage, "final_answer")
      assert.strictEqual(record?.decision, "rejected")
      assert.strictEqual(record?.reason, "off-topic")
      assert.strictEqual(record?.score, 0.7)
      assert.strictEqual(record?.latencyMs, 250)
    })))

  it.effect("reports one event per attempt of a retried validator", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(
          logging(log, "slow", {
            decide: (_, attempt) => attempt === 1 ? Decision.Retry({ delayMs: 100, feedback: "busy" }) : Decision.Approved()
          })
        )
      )
      const fiber = yield* Effect.fork(check(modelCall).pipe(Effect.provide(layer)))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(fiber)
      const events = yield* Effect.flatMap(Monitor.MemoryMonitor, (m) => m.events)
      assert.deepStrictEqual(events.map((e) => e.metrics.decisions?.[0]?.decision), ["retry", "approved"])
      assert.deepStrictEqual(events.map((e) => e.context["attempt"]), [1, 2])
      assert.strictEqual(events[0]?.metrics.decisions?.[0]?.reason, "busy")
    })))

  it.effect("runs a pipeline it did not build as the last step", () =>
    withMonitor(Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const foreign = Layer.succeed(ValidationPipeline.ValidationPipeline, {
        validators: ["legacy"],
        check: (action: AgentAction.AgentAction) =>
          Effect.as(Ref.update(log, (entries) => [...entries, `legacy:${action._tag}`]), ValidationPipeline.Proceed({ action }))
      })
      const layer = Pipeline.stack(
        foreign,
        Pipeline.withValidator(logging(log, "b", { priority: 2 })),
        Pipeline.withValidator(logging(log, "a", { priority: 1 }))
      )
      const names = yield* Effect.map(ValidationPipeline.ValidationPipeline, (p) => p.validators).pipe(
        Effect.provide(layer)
      )
      assert.deepStrictEqual(names, ["a", "b", "legacy"])
      yield* check(modelCall).pipe(Effect.provide(layer))
      assert.deepStrictEqual(yield* Ref.get(log), ["a:ModelCall", "b:ModelCall", "legacy:ModelCall"])
    })))

  it.effect("runs a stage's validators in one span named after the stage, which records each decision", () =>
    withMonitor(Effect.gen(function*() {
      const spans = yield* Ref.make<ReadonlyArray<Tracer.Span>>([])
      const spying = (name: string) =>
        Validator.make({
          name,
          validate: () =>
            Effect.currentSpan.pipe(
              Effect.flatMap((span) => Ref.update(spans, (seen) => [...seen, span])),
              Effect.orDie,
              Effect.as(Decision.Approved())
            )
        })
      const layer = Pipeline.stack(Pipeline.empty, Pipeline.withValidator(spying("pii")), Pipeline.withValidator(spying("toxicity")))
      yield* check(answer).pipe(Effect.provide(layer))
      const [first, second] = yield* Ref.get(spans)
      assert.strictEqual(first?.name, "validate final_answer")
      assert.strictEqual(second, first)
      assert.strictEqual(first?.attributes.get("patinox.validators"), "pii,toxicity")
      assert.strictEqual(first?.attributes.get("patinox.decision.pii"), "approved")
      assert.strictEqual(first?.attributes.get("patinox.decision.toxicity"), "approved")
    })))

  it.effect("builds a validator with an effect when its layer is built", () =>
    withMonitor(Effect.gen(function*() {
      const built = yield* Ref.make(0)
      const layer = Pipeline.stack(
        Pipeline.empty,
        Pipeline.withValidator(
          Effect.as(Ref.update(built, (n) => n + 1), Validator.make({ name: "built", validate: () => Effect.succeed(Decision.Approved()) }))
        )
      )
      const verdict = yield* check(modelCall).pipe(Effect.provide(layer))
      assert.strictEqual(verdict._tag, "Proceed")
      assert.strictEqual(yield* Ref.get(built), 1)
    })))
})
