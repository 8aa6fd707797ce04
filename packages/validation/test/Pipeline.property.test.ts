import { assert, describe, it } from "@effect/vitest"
import { AgentAction, Decision, Errors, Ids, Message, Monitor, ValidationPipeline } from "@patinox/core"
import { Cause, Clock, Effect, Exit, Fiber, Layer, Option, Ref, TestClock } from "effect"
import fc from "fast-check"
import * as Pipeline from "../src/Pipeline.js"
import * as Validator from "../src/Validator.js"

// ---------------------------------------------------------------------------
// scripted validators
// ---------------------------------------------------------------------------

type Answer =
  | { readonly kind: "approve" }
  | { readonly kind: "reject"; readonly reason: string }
  | { readonly kind: "retry"; readonly delayMs: number; readonly feedback: string }
  | { readonly kind: "modify"; readonly sameKind: boolean }
  | { readonly kind: "fail" }

interface Spec {
  readonly priority: number
  readonly mayModify: boolean
  readonly stages: ReadonlyArray<Validator.Stage>
  /** Answers in turn, cycling: the n-th call gets script[n % length]. */
  readonly script: ReadonlyArray<Answer>
}

const answer: fc.Arbitrary<Answer> = fc.oneof(
  fc.constant({ kind: "approve" as const }),
  fc.string({ maxLength: 8 }).map((reason) => ({ kind: "reject" as const, reason })),
  fc.record({
    kind: fc.constant("retry" as const),
    delayMs: fc.oneof(fc.constant(0), fc.integer({ min: -10, max: 4_000 })),
    feedback: fc.oneof(fc.constant(""), fc.string({ maxLength: 8 }))
  }),
  fc.boolean().map((sameKind) => ({ kind: "modify" as const, sameKind })),
  fc.constant({ kind: "fail" as const })
)

const spec = (mayModify: fc.Arbitrary<boolean>): fc.Arbitrary<Spec> =>
  fc.record({
    priority: fc.integer({ min: 0, max: 5 }),
    mayModify,
    stages: fc.subarray([...Validator.allStages], { minLength: 1 }),
    script: fc.array(answer, { minLength: 1, maxLength: 6 })
  })

const options = fc.record({
  maxRetries: fc.integer({ min: 0, max: 4 }),
  maxTotalDelayMs: fc.integer({ min: 0, max: 6_000 })
})

const stage = fc.constantFrom(...Validator.allStages)

const actionFor = (stage: Validator.Stage, step = 1): AgentAction.AgentAction => {
  switch (stage) {
    case "user_input":
      return new AgentAction.UserInput({ input: `input ${step}` })
    case "model_request":
      return new AgentAction.ModelCall({ step, messages: [Message.user("hi")], tools: [] })
    case "tool_call":
      return new AgentAction.ToolCallAction({
        step,
        toolCall: new Message.ToolCall({ id: Ids.ToolCallId.make("c1"), name: "search", arguments: "{}" })
      })
    case "tool_result":
      return new AgentAction.ToolResult({
        step,
        toolCallId: Ids.ToolCallId.make("c1"),
        name: "search",
        content: "found",
        isError: false
      })
    case "final_answer":
      return new AgentAction.FinalAnswer({ step, content: "42" })
  }
}

const otherStage = (stage: Validator.Stage): Validator.Stage => stage === "final_answer" ? "model_request" : "final_answer"

const decisionOf = (
  answer: Answer,
  action: AgentAction.AgentAction,
  stage: Validator.Stage
): Effect.Effect<Decision.Decision, Errors.ToolFailed> => {
  switch (answer.kind) {
    case "approve":
      return Effect.succeed(Decision.Approved())
    case "reject":
      return Effect.succeed(Decision.Rejected({ reason: answer.reason }))
    case "retry":
      return Effect.succeed(Decision.Retry({ delayMs: answer.delayMs, feedback: answer.feedback }))
    case "modify":
      return Effect.succeed(Decision.Modified({
        action: answer.sameKind ? actionFor(stage, 99) : actionFor(otherStage(stage), 99),
        reason: "changed"
      }))
    case "fail":
      return Effect.fail(new Errors.ToolFailed({ tool: "classifier", reason: `could not look at ${action._tag}` }))
  }
}

/** Builds the validators, counting every call to `validate` and every `Modified` returned. */
const scripted = (specs: ReadonlyArray<Spec>, calls: Ref.Ref<number>, modified: Ref.Ref<number>) =>
  specs.map((spec, index) => {
    let turn = 0
    return Validator.make({
      name: `v${index}`,
      priority: spec.priority,
      stages: spec.stages,
      mayModify: spec.mayModify,
      validate: (action, context) =>
        Effect.suspend(() => {
          const next = spec.script[turn++ % spec.script.length] ?? { kind: "approve" as const }
          const counted = Ref.update(calls, (n) => n + 1).pipe(
            Effect.zipRight(Ref.update(modified, (n) => next.kind === "modify" ? n + 1 : n))
          )
          return Effect.zipRight(counted, decisionOf(next, action, context.stage))
        })
    })
  })

interface Run {
  readonly exit: Exit.Exit<ValidationPipeline.Verdict, Errors.ValidationError>
  readonly calls: number
  readonly modified: number
  readonly elapsedMs: number
  readonly action: AgentAction.AgentAction
}

/** Runs one check on the TestClock, far enough that every allowed wait is over. */
const runCheck = (
  specs: ReadonlyArray<Spec>,
  stage: Validator.Stage,
  opts: { readonly maxRetries: number; readonly maxTotalDelayMs: number }
): Effect.Effect<Run> =>
  Effect.gen(function*() {
    const calls = yield* Ref.make(0)
    const modified = yield* Ref.make(0)
    const layer = Pipeline.stack(
      Pipeline.layer({ maxRetries: opts.maxRetries, maxTotalDelay: opts.maxTotalDelayMs }),
      ...scripted(specs, calls, modified).map((validator) => Pipeline.withValidator(validator))
    ).pipe(Layer.provide(Monitor.layerMemory()))
    const action = actionFor(stage)
    const fiber = yield* Effect.fork(Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(
        ValidationPipeline.check(action, { agentId: Ids.AgentId.make("a"), runId: Ids.RunId.make("r") })
      )
      const elapsedMs = (yield* Clock.currentTimeMillis) - started
      return { exit, elapsedMs }
    }).pipe(Effect.provide(layer)))
    yield* TestClock.adjust("1 day")
    const { elapsedMs, exit } = yield* Fiber.join(fiber)
    return { exit, elapsedMs, calls: yield* Ref.get(calls), modified: yield* Ref.get(modified), action }
  })

const typedErrors = new Set(["ValidationRejected", "ValidationRetriesExhausted", "ModificationNotAllowed"])

const applicable = (specs: ReadonlyArray<Spec>, stage: Validator.Stage) =>
  specs.filter((spec) => spec.stages.includes(stage)).length

const fastCheck = { fastCheck: { numRuns: 100 } }

describe("Pipeline properties", () => {
  it.effect.prop(
    "a validator that may not modify can never change the action",
    [fc.array(spec(fc.constant(false)), { minLength: 1, maxLength: 4 }), stage, options],
    ([specs, stage, opts]) =>
      Effect.gen(function*() {
        const run = yield* runCheck(specs, stage, opts)
        if (Exit.isSuccess(run.exit) && run.exit.value._tag === "Proceed") {
          assert.strictEqual(run.exit.value.action, run.action)
        }
        // A Modified that was returned is never ignored: it ends the check with ModificationNotAllowed.
        if (run.modified > 0) {
          assert.strictEqual(run.modified, 1)
          assert.isTrue(Exit.isFailure(run.exit))
          if (Exit.isFailure(run.exit)) {
            const error = Cause.failureOption(run.exit.cause)
            assert.isTrue(Option.isSome(error) && error.value._tag === "ModificationNotAllowed")
          }
        }
      }),
    fastCheck
  )

  it.effect.prop(
    "retries are bounded in count and in total delay, whatever the validators answer",
    [fc.array(spec(fc.boolean()), { minLength: 1, maxLength: 4 }), stage, options],
    ([specs, stage, opts]) =>
      Effect.gen(function*() {
        const run = yield* runCheck(specs, stage, opts)
        assert.isAtMost(run.calls, applicable(specs, stage) * (opts.maxRetries + 1))
        assert.isAtMost(run.elapsedMs, opts.maxTotalDelayMs)
      }),
    fastCheck
  )

  it.effect.prop(
    "always ends in Proceed, Revise or a typed validation error",
    [fc.array(spec(fc.boolean()), { minLength: 0, maxLength: 4 }), stage, options],
    ([specs, stage, opts]) =>
      Effect.gen(function*() {
        const run = yield* runCheck(specs, stage, opts)
        if (Exit.isSuccess(run.exit)) {
          const verdict = run.exit.value
          if (verdict._tag === "Proceed") {
            assert.strictEqual(verdict.action._tag, run.action._tag)
          } else {
            assert.isTrue(Pipeline.revisableStages.has(stage))
            assert.notStrictEqual(verdict.feedback.trim(), "")
          }
        } else {
          const error = Cause.failureOption(run.exit.cause)
          assert.isTrue(Option.isSome(error), `not a typed failure: ${Cause.pretty(run.exit.cause)}`)
          if (Option.isSome(error)) assert.isTrue(typedErrors.has(error.value._tag))
        }
        if (applicable(specs, stage) === 0) {
          assert.isTrue(Exit.isSuccess(run.exit) && run.exit.value._tag === "Proceed")
        }
      }),
    fastCheck
  )
})
