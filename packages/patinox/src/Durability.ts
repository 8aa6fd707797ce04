/**
 * Durable runs: a run's events are committed to SQLite before its HTTP
 * response is sent, so that a client that got an answer can find the run in
 * the store even if the process is killed right after.
 *
 * Commits are grouped: a caller queues a waiter and wakes one committer
 * fiber, which takes every waiter queued so far, moves what the bus holds to
 * the sink and the monitors (`EventBus.flush`: `/monitoring` then reflects
 * the run too), writes the sink's queue (`TelemetrySink.flush`,
 * one transaction for what is waiting together) and answers them all. Runs
 * that end while a commit is under way share the next one.
 *
 * The bus and the sink never wait for a slow consumer; they drop and count.
 * A durable run whose window saw any such loss (the sink's feed missing
 * events on the bus, the sink dropping or failing to write) fails with
 * `TelemetryNotDurable` instead of answering as if it were stored. The check
 * is coarse: a loss during the run fails it even if the lost events were
 * another run's, since the bus cannot tell whose they were.
 *
 * At start, runs the store holds a `run.start` for but neither a `run.end`
 * nor a `run.error` (the process stopped under them) get a `run.error`
 * event `RunAbandoned`, are logged and counted.
 */
import { SqlClient } from "@effect/sql"
import { ActionResult, Ids, type TelemetryEvent } from "@patinox/core"
import { EventBus } from "@patinox/monitoring"
import { TelemetrySink } from "@patinox/telemetry-store"
import { Clock, Context, Deferred, Effect, Exit, Layer, Metric, Schema } from "effect"

/** The bus consumer that feeds the sink (`Telemetry.ts` starts it; its misses are in `EventBus.stats`'s `consumers`). */
export const feedName = "telemetry-sink"

/** A run whose events may not all be in the store: it must not be answered as stored. */
export class TelemetryNotDurable extends Schema.TaggedError<TelemetryNotDurable>("@patinox/patinox/TelemetryNotDurable")(
  "TelemetryNotDurable",
  { message: Schema.String }
) {}

export const abandonedRuns = Metric.counter("patinox_telemetry_abandoned_runs_total", {
  description: "Runs found at start with a run.start and no run.end or run.error (the process stopped under them)",
  incremental: true
})

export const notDurableRuns = Metric.counter("patinox_telemetry_not_durable_runs_total", {
  description: "Durable runs answered with an error because telemetry was dropped while they ran",
  incremental: true
})

export interface Stats {
  readonly enabled: boolean
  /** Group commits done: each one bus flush and one sink flush, for every waiter queued before it began. */
  readonly commits: number
  /** Waiters answered by those commits (runs, when every caller is a run). */
  readonly committed: number
  /** Runs failed with `TelemetryNotDurable`. */
  readonly notDurable: number
  /** Runs marked `RunAbandoned` at start. */
  readonly abandoned: number
}

export interface Service {
  /**
   * Runs `run`; after it ends, succeeded or failed, waits until every event
   * published so far is committed, then returns its outcome. Disabled: `run`
   * unchanged.
   */
  readonly durable: <A, E, R>(run: Effect.Effect<A, E, R>) => Effect.Effect<A, E | TelemetryNotDurable, R>
  /** Waits until every event published before the call is committed (grouped with concurrent callers). */
  readonly commit: Effect.Effect<void, TelemetryNotDurable>
  readonly stats: Effect.Effect<Stats>
}

export class Durability extends Context.Tag("@patinox/patinox/Durability")<Durability, Service>() {}

/** Events lost between the bus and the database so far: the feed's misses, the sink's drops and failures. */
const lossesOf = (bus: EventBus.Service, sink: TelemetrySink.Service) =>
  Effect.zipWith(bus.stats, sink.stats, (busStats, sinkStats) =>
    (busStats.consumers.find((consumer) => consumer.name === feedName)?.missed ?? 0) + sinkStats.dropped +
    sinkStats.failed)

const abandonedReason = "the process stopped before the run ended"

/**
 * Marks the runs a previous process left without an end; returns how many.
 * Runs before the service accepts requests, so every open run is a dead one.
 */
const markAbandoned = (sql: SqlClient.SqlClient, sink: TelemetrySink.Service) =>
  Effect.gen(function*() {
    const rows = yield* sql<{ run_id: string; agent_id: string; trace_id: string; span_id: string }>`
      SELECT s.run_id, s.agent_id, s.trace_id, s.span_id FROM events s
      WHERE s.type = 'run.start' AND s.run_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM events e WHERE e.run_id = s.run_id AND e.type IN ('run.end', 'run.error'))`.withoutTransform
    if (rows.length === 0) return 0
    const now = yield* Clock.currentTimeMillis
    const events = rows.map((row): TelemetryEvent.TelemetryEvent => ({
      timestamp: now,
      traceId: Ids.TraceId.make(row.trace_id, true),
      spanId: Ids.SpanId.make(row.span_id, true),
      type: "run.error",
      agentId: Ids.AgentId.make(row.agent_id, true),
      runId: Ids.RunId.make(row.run_id, true),
      result: new ActionResult.Failure({ error: "RunAbandoned", message: abandonedReason, category: "execution" }, true),
      metrics: {},
      context: { abandoned: true }
    }))
    yield* sink.offerAll(events)
    yield* sink.flush
    yield* Metric.incrementBy(abandonedRuns, rows.length)
    yield* Effect.logWarning(
      `Telemetry: ${rows.length} run(s) started and never ended (${abandonedReason}); marked run.error RunAbandoned: ` +
        rows.slice(0, 10).map((row) => row.run_id).join(", ") + (rows.length > 10 ? ", …" : "")
    )
    return rows.length
  }).pipe(
    // A store that cannot be read here fails later, where a caller can see it; the service still starts.
    Effect.catchAllCause((cause) => Effect.as(Effect.logError("Telemetry: could not check for abandoned runs", cause), 0))
  )

/**
 * The committer and the start-up check, for the life of the scope. With
 * `enabled` false, `durable` runs the run unchanged (`commit` still works).
 */
export const make = (options: { readonly enabled: boolean }) =>
  Effect.gen(function*() {
    const bus = yield* EventBus.EventBus
    const sink = yield* TelemetrySink.TelemetrySink
    const sql = yield* SqlClient.SqlClient
    const abandoned = yield* markAbandoned(sql, sink)
    // Before the server listens: the first durable runs would otherwise wait for the write thread to start.
    if (options.enabled) yield* sink.ready

    let waiting: Array<Deferred.Deferred<void, TelemetryNotDurable>> = []
    let commits = 0
    let committed = 0
    let notDurable = 0
    const wake = yield* Effect.makeLatch(false)

    const answer = (group: ReadonlyArray<Deferred.Deferred<void, TelemetryNotDurable>>, exit: Exit.Exit<void, TelemetryNotDurable>) =>
      Effect.sync(() => {
        commits++
        committed += group.length
        for (const waiter of group) Deferred.unsafeDone(waiter, exit)
      })
    const stopped = Exit.fail(new TelemetryNotDurable({ message: "telemetry is shutting down" }))
    /** One group: every waiter queued before it starts. */
    const commitGroup = Effect.suspend(() => {
      const group = waiting
      waiting = []
      if (group.length === 0) return Effect.void
      return Effect.zipRight(bus.flush, sink.flush).pipe(
        Effect.onExit((exit) => answer(group, Exit.isSuccess(exit) ? Exit.void : stopped)),
        Effect.uninterruptible
      )
    })
    yield* wake.await.pipe(
      Effect.zipRight(Effect.sync(() => wake.unsafeClose())),
      Effect.zipRight(commitGroup),
      Effect.forever,
      Effect.forkScoped
    )
    // Registered after the fork, so it runs first: waiters left get a last commit, not a hang.
    yield* Effect.addFinalizer(() => commitGroup)

    const commit: Service["commit"] = Effect.flatMap(Deferred.make<void, TelemetryNotDurable>(), (waiter) =>
      Effect.zipRight(
        Effect.sync(() => {
          waiting.push(waiter)
          wake.unsafeOpen()
        }),
        Deferred.await(waiter)
      ))

    const durable: Service["durable"] = (run) =>
      !options.enabled ? run : Effect.gen(function*() {
        const before = yield* lossesOf(bus, sink)
        const exit = yield* Effect.exit(run)
        yield* commit
        const lost = (yield* lossesOf(bus, sink)) - before
        if (lost > 0) {
          notDurable++
          yield* Metric.increment(notDurableRuns)
          return yield* Effect.zipRight(
            Effect.logError(`Telemetry: ${lost} event(s) dropped while a durable run ran; answering it as not stored`),
            new TelemetryNotDurable({
              message: `${lost} telemetry event(s) were dropped while this run ran: it may not be fully stored`
            })
          )
        }
        return yield* exit
      })

    const service: Service = {
      durable,
      commit,
      stats: Effect.sync(() => ({ enabled: options.enabled, commits, committed, notDurable, abandoned }))
    }
    return service
  })

/** See `make`; needs the bus, the sink and the store's `SqlClient` (migrated). */
export const layer = (options: { readonly enabled: boolean }) => Layer.scoped(Durability, make(options))
