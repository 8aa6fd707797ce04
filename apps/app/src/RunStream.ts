/**
 * `POST /agents/:name/runs/stream`: a run's steps as Server-Sent Events,
 * in the order `run`, `step`*, then `result` or `error`. The steps are the
 * run's monitoring events, read from a bus subscription of the response's
 * own: the subscription and the run belong to the response stream's scope,
 * so a client that goes away (the server interrupts the stream) leaves no
 * subscriber or fiber behind.
 */
import { HttpServerResponse } from "@effect/platform"
import type { Redaction, TelemetryEvent } from "@patinox/core"
import { RunResult } from "@patinox/agent"
import type { EventBus } from "@patinox/monitoring"
import { Runs } from "@patinox/patinox"
import { InternalError, RunStreamStart, type RunStreamStep } from "@patinox/patinox/Api"
import { Cause, Chunk, Effect, Fiber, Option, Queue, Schema, Stream } from "effect"

/** One Server-Sent Event: its name and its data as one line of JSON. */
export const frame = (event: "run" | "step" | "result" | "error", data: unknown): string =>
  `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** What the stream needs besides the run: the bus its steps come from, and how to price and redact them. */
export interface Options {
  readonly bus: EventBus.Service
  readonly costOf: Runs.CostOf
  readonly redactor: Redaction.Redactor
}

const encodeResult = Schema.encode(RunResult.RunResult)

/** At most this many events are read from the subscription at a time. */
const batch = 256

/**
 * The response for a run about to start: `run` is not started until the
 * stream is, after the subscription, so that none of its events is missed.
 * Its error channel carries the API's error bodies (`toHttpError`'s), sent
 * as the `error` event.
 */
export const response = <E extends object>(
  options: Options,
  start: RunStreamStart,
  run: Effect.Effect<RunResult.RunResult, E>
): HttpServerResponse.HttpServerResponse => {
  const ofRun = (event: TelemetryEvent.TelemetryEvent) => event.runId === start.runId
  const isEnd = (event: TelemetryEvent.TelemetryEvent) => event.type === "run.end" || event.type === "run.error"
  const toFrame = (event: TelemetryEvent.TelemetryEvent): Option.Option<string> => {
    const step = Runs.streamStep(event, options.costOf)
    if (step === undefined) return Option.none()
    // Bus events are not redacted yet (the store redacts what it writes): a reason can quote user data.
    const redacted: RunStreamStep = step.type === "decision" && step.reason !== undefined
      ? { ...step, reason: options.redactor.text(step.reason) }
      : step
    return Option.some(frame("step", redacted))
  }

  const events = Stream.unwrapScoped(Effect.gen(function*() {
    const queue = yield* options.bus.subscribe
    const fiber = yield* Effect.forkScoped(run)
    let ended = false
    // This run's events up to its end event. Should that event be lost (a full queue drops), the run's
    // own end stops the stream, after what is still queued (the yield lets a take that already has an
    // event win the race; the rest is read outside the race, so nothing read is lost to it).
    const pull = Effect.suspend(() => {
      if (ended) return Effect.fail(Option.none())
      return Effect.raceFirst(
        Effect.map(Queue.takeBetween(queue, 1, batch), Option.some),
        Effect.as(Effect.zipRight(Fiber.await(fiber), Effect.yieldNow()), Option.none<Chunk.Chunk<TelemetryEvent.TelemetryEvent>>())
      ).pipe(
        Effect.flatMap(Option.match({
          onSome: Effect.succeed,
          onNone: () => Effect.zipLeft(Queue.takeAll(queue), Effect.sync(() => void (ended = true)))
        })),
        Effect.map((chunk) => {
          const mine = Chunk.filter(chunk, ofRun)
          const endAt = Chunk.findFirstIndex(mine, isEnd)
          if (Option.isNone(endAt)) return mine
          ended = true
          return Chunk.take(mine, endAt.value + 1)
        }),
        // The bus closed (the service is stopping): the run's end still follows.
        Effect.catchAllCause(() =>
          Effect.sync(() => {
            ended = true
            return Chunk.empty<TelemetryEvent.TelemetryEvent>()
          })
        )
      )
    })
    // A run error is already the API's error body; a defect is logged and sent as an internal error.
    const last = Fiber.join(fiber).pipe(
      Effect.flatMap((result) => Effect.orDie(encodeResult(result))),
      Effect.match({
        onFailure: (error) => frame("error", error),
        onSuccess: (result) => frame("result", result)
      }),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.as(
          Effect.logError(`run ${start.runId} of ${start.agent} failed`, cause),
          frame("error", new InternalError({ message: "Internal error; the service logged the cause", runId: start.runId }))
        )
      )
    )
    return Stream.make(frame("run", start)).pipe(
      Stream.concat(Stream.repeatEffectChunkOption(pull).pipe(Stream.filterMap(toFrame))),
      Stream.concat(Stream.fromEffect(last))
    )
  }))

  return HttpServerResponse.stream(Stream.encodeText(events), {
    contentType: "text/event-stream",
    // Each event is sent as it comes: no cache, no proxy buffering.
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
  })
}
