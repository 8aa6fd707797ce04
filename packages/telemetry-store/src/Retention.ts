/**
 * Keeps the store bounded in age and in size. A scoped fiber prunes on a
 * schedule: first events older than `maxAgeDays`, then, while the data in the
 * file is over `maxSizeMb`, the oldest events in chunks; then the trace → run
 * pairs of runs with no event left. Freed pages go back
 * to the file system with `PRAGMA incremental_vacuum` when the file was
 * created with incremental auto-vacuum (every file the store creates is);
 * otherwise they are reused by later writes and `prune` reports it.
 *
 * Deletes run in chunks, each its own short statement, with a turn of the
 * event loop between two, so other work interleaves with a long prune. When
 * a size round ends no smaller than the one before (the sink wrote more
 * between two chunks than a chunk deletes, as in a burst), the next deletes
 * twice as many rows, up to 8 chunks, so a burst cannot outrun it.
 * Where the store's sink writes on a thread of its own (`TelemetryStore`
 * with a file), the deletes run there, on its connection: a delete needs the
 * file's one write lock, which on the main thread SQLite would wait for
 * synchronously, holding up the agents, while the sink commits. Otherwise
 * they run on the main connection.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Context, Duration, Effect, Layer, Schedule, type Scope } from "effect"
import * as Prune from "./internal/prune.js"
import { turn } from "./internal/turn.js"
import { fromCause, type TelemetryStoreError } from "./TelemetryStoreError.js"

/** @since 0.1.0 @category models */
export interface Options {
  readonly maxAgeDays: number
  readonly maxSizeMb: number
  /** Rows per delete statement (up to 8 times as many while the size limit is not gaining). Default 5 000. */
  readonly chunkSize?: number | undefined
}

/** @since 0.1.0 @category models */
export interface PruneResult {
  readonly deletedByAge: number
  readonly deletedBySize: number
  readonly alertsDeleted: number
  /** `run_traces` rows (trace → run) whose run has no event left. */
  readonly runTracesDeleted: number
  /** Bytes in use by data after pruning: (pages − free pages) × page size. */
  readonly usedBytes: number
  /** Size of the database file after pruning (without the WAL). */
  readonly fileBytes: number
  /** Whether free pages were returned to the file system. */
  readonly vacuumed: boolean
  /** Whether the deletes ran on the sink's write thread (else on the main connection). */
  readonly onWriteThread: boolean
}

/** @since 0.1.0 @category models */
export interface Service {
  readonly prune: Effect.Effect<PruneResult, TelemetryStoreError>
  /** Measures without deleting anything. */
  readonly usage: Effect.Effect<{ readonly usedBytes: number; readonly fileBytes: number }, TelemetryStoreError>
}

/** @since 0.1.0 @category tags */
export class Retention extends Context.Tag("@patinox/telemetry-store/Retention")<Retention, Service>() {}

const DAY_MS = 86_400_000

const changesOf = (u: unknown): number =>
  typeof u === "object" && u !== null && "changes" in u && typeof u.changes === "number" ? u.changes : 0

/**
 * Runs a prune plan somewhere other than the main connection (the sink's
 * write thread). `undefined` when that is not running (the prune then runs
 * on the main connection); fails with the reason when the prune failed
 * there, or the thread stopped during it (not tried again on the main
 * connection, where it would hold up the agents to fail the same way).
 *
 * @internal
 */
export type Route = (plan: Prune.Plan) => Effect.Effect<Prune.Outcome | undefined, string>

/**
 * The service; deletes go through `route` when given (see `Route`).
 *
 * @internal
 */
export const makeRouted = (
  options: Options,
  route: Route | undefined
): Effect.Effect<Service, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const chunkSize = Math.max(1, Math.floor(options.chunkSize ?? 5_000))
    const maxBytes = options.maxSizeMb * 1024 * 1024
    const db: Prune.Db<unknown> = {
      run: (text, params) => Effect.map(sql.unsafe(text, params).raw, changesOf),
      number: (text) => Effect.map(sql.unsafe(text), (rows) => Prune.numberIn(rows[0])),
      pause: turn
    }
    // One prune at a time, wherever it runs.
    const one = yield* Effect.makeSemaphore(1)

    const here = (plan: Prune.Plan) =>
      Effect.gen(function*() {
        const outcome = yield* Prune.prune(db, plan)
        return { outcome, onWriteThread: false }
      })
    const routed = (plan: Prune.Plan) =>
      route === undefined ? here(plan) : Effect.flatMap(
        route(plan),
        (outcome) =>
          outcome === undefined
            ? Effect.zipRight(Effect.logDebug("Retention: no write thread; pruning on the main connection"), here(plan))
            : Effect.succeed({ outcome, onWriteThread: true })
      )

    const prune = one.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const plan: Prune.Plan = { cutoff: now - options.maxAgeDays * DAY_MS, maxBytes, chunkSize }
      const { onWriteThread, outcome } = yield* routed(plan)
      const { incrementalVacuum, ...counts } = outcome
      if (!incrementalVacuum && outcome.deletedBySize > 0) {
        yield* Effect.logInfo(
          "Retention: the database file was not created with incremental auto-vacuum; freed pages are reused but the file does not shrink"
        )
      }
      return { ...counts, onWriteThread } satisfies PruneResult
    })).pipe(Effect.mapError(fromCause("prune")), Effect.withSpan("Retention.prune"))

    return {
      prune,
      usage: Prune.usage(db).pipe(Effect.mapError(fromCause("usage")), Effect.withSpan("Retention.usage"))
    }
  })

/** @since 0.1.0 @category constructors */
export const make = (options: Options): Effect.Effect<Service, never, SqlClient.SqlClient> => makeRouted(options, undefined)

/** Prunes now and then every `intervalMs`. A failed prune is logged; the schedule goes on. */
const schedule = (service: Service, intervalMs: number): Effect.Effect<void> =>
  service.prune.pipe(
    Effect.tap((result) =>
      result.deletedByAge + result.deletedBySize > 0
        ? Effect.logInfo(
          `Retention: deleted ${result.deletedByAge} events by age and ${result.deletedBySize} by size` +
            (result.onWriteThread ? " (on the write thread)" : "")
        )
        : Effect.void
    ),
    Effect.catchTag("TelemetryStoreError", (error) => Effect.logWarning("Retention: prune failed", error)),
    Effect.repeat(Schedule.spaced(Duration.millis(intervalMs))),
    Effect.asVoid
  )

/**
 * The service, plus a scoped fiber that prunes now and then every
 * `intervalMs`. A failed prune is logged; the schedule goes on.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  options: Options & { readonly intervalMs: number }
): Layer.Layer<Retention, never, SqlClient.SqlClient> =>
  Layer.scoped(Retention, makeScheduled(options, undefined))

/**
 * `makeRouted`, with a fiber of the current scope pruning on the schedule.
 *
 * @internal
 */
export const makeScheduled = (
  options: Options & { readonly intervalMs: number },
  route: Route | undefined
): Effect.Effect<Service, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.tap(makeRouted(options, route), (service) => Effect.forkScoped(schedule(service, options.intervalMs)))
