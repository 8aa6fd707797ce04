// The run stream's body on its own: a real event bus, a scripted run.
import { assert, describe, it } from "@effect/vitest"
import { RunResult } from "@patinox/agent"
import { ActionResult, Ids, Redaction, Usage } from "@patinox/core"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { EventBus } from "@patinox/monitoring"
import { RunRejected, RunStreamStart } from "@patinox/patinox/Api"
import { Chunk, Deferred, Effect, Stream } from "effect"
import * as RunStream from "../src/RunStream.js"

const runId = Ids.RunId.make("run-1")
const start = new RunStreamStart({ runId, agent: "assistant" })

const event = (type: TelemetryEvent["type"], fields: Partial<TelemetryEvent> = {}): TelemetryEvent => ({
  timestamp: 1_000,
  traceId: Ids.TraceId.make("1".padStart(32, "0")),
  spanId: Ids.SpanId.make("1".padStart(16, "0")),
  type,
  agentId: Ids.AgentId.make("assistant"),
  runId,
  metrics: {},
  context: {},
  ...fields
})

const decision = (reason: string) =>
  event("validation.decision", {
    metrics: { decisions: [{ validator: "pii", stage: "user_input", decision: "rejected", reason, latencyMs: 1 }] }
  })

const result = new RunResult.RunResult({
  runId,
  agent: "assistant",
  answer: "42",
  steps: [],
  usage: new Usage.Usage({ inputTokens: 1, outputTokens: 1 }),
  durationMs: 5
})

/** The frames of a response's body, as `{ event, data }`. */
const framesOf = (stream: Stream.Stream<string>) =>
  Effect.map(Stream.runCollect(stream), (chunks) =>
    Chunk.toReadonlyArray(chunks).join("").split("\n\n").filter((block) => block !== "").map((block) => {
      const [name, data] = block.split("\n")
      return { event: name?.slice("event: ".length), data: JSON.parse(data?.slice("data: ".length) ?? "null") as Record<string, unknown> }
    }))

const bodyOf = (response: ReturnType<typeof RunStream.response>) =>
  response.body._tag === "Stream"
    ? Stream.decodeText(Stream.orDie(response.body.stream))
    : Stream.die("the response is not a stream")

describe("RunStream", () => {
  it.scoped("ends with the run's result even when the run's end event was dropped from a full queue", () =>
    Effect.gen(function*() {
      const { bus, monitor } = yield* EventBus.make({ capacity: 2, strategy: "dropping" })
      // Five events at once into a queue of two: the last three, the run's end among them, are dropped.
      const run = Effect.as(
        Effect.forEach(
          [decision("a"), decision("b"), decision("c"), decision("d"), event("run.end")],
          monitor.record,
          { discard: true }
        ),
        result
      )
      const response = RunStream.response({ bus, costOf: () => 0, redactor: Redaction.defaultRedactor }, start, run)
      assert.strictEqual(response.headers["content-type"] ?? response.body.contentType, "text/event-stream")
      const frames = yield* framesOf(bodyOf(response))
      assert.deepStrictEqual(frames.map((f) => f.event), ["run", "step", "step", "result"])
      assert.deepStrictEqual(frames.slice(1, 3).map((f) => f.data.reason), ["a", "b"])
      assert.strictEqual(frames[3]?.data.answer, "42")
      assert.strictEqual((yield* bus.stats).subscribers, 0)
    }))

  it.scoped("sends a run's error as the last event, and redacts decision reasons as the store does", () =>
    Effect.gen(function*() {
      const { bus, monitor } = yield* EventBus.make({ capacity: 16, strategy: "sliding" })
      const run = Effect.zipRight(
        Effect.forEach([decision("mail jane@example.com"), event("run.error", {
          result: new ActionResult.Failure({ error: "ValidationRejected", message: "no" })
        })], monitor.record, { discard: true }),
        Effect.fail(new RunRejected({ error: "ValidationRejected", message: "no", runId, validator: "pii", stage: "user_input" }))
      )
      const frames = yield* framesOf(bodyOf(RunStream.response({ bus, costOf: () => 0, redactor: Redaction.defaultRedactor }, start, run)))
      assert.deepStrictEqual(frames.map((f) => f.event), ["run", "step", "error"])
      assert.notInclude(String(frames[1]?.data.reason), "jane@example.com")
      assert.include(String(frames[1]?.data.reason), "[REDACTED:email]")
      assert.deepStrictEqual(frames[2]?.data, {
        error: "ValidationRejected",
        message: "no",
        runId: "run-1",
        validator: "pii",
        stage: "user_input"
      })
    }))

  it.scoped("interrupts the run and unsubscribes when the stream is cut short", () =>
    Effect.gen(function*() {
      const { bus } = yield* EventBus.make({ capacity: 16, strategy: "sliding" })
      const interrupted = yield* Deferred.make<void>()
      const run = Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)), Effect.as(result))
      const response = RunStream.response({ bus, costOf: () => 0, redactor: Redaction.defaultRedactor }, start, run)
      // Reading only the first event ends the stream early, as a client going away does.
      const first = yield* framesOf(Stream.take(bodyOf(response), 1))
      assert.deepStrictEqual(first.map((f) => f.event), ["run"])
      yield* Deferred.await(interrupted)
      assert.strictEqual((yield* bus.stats).subscribers, 0)
    }))
})
