/**
 * Keeps the store bounded in age and in size. A scoped fiber prunes on a
 * schedule: first events older than `maxAgeDays`, then, while the data in the
 * file is over `maxSizeMb`, the oldest events in chunks; then the trace → run
 * pairs of runs with no event left. Freed pages go back
 * to the file system with `PRAGMA incremental_vacuum` when the file was
 * created with incremental auto-vacuum (every file the store creates is);
 * otherwise they are reused by later writes and `prune` reports it.
 *
 * Deletes run in chunks, each its own short transaction, so the writer and
 * queries interleave with a long prune instead of waiting for it.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { EventType } from "@patinox/core/TelemetryEvent"
import { Clock, Context, Duration, Effect, Layer, Schedule } from "effect"
import { fromCause, type TelemetryStoreError } from "./TelemetryStoreError.js"

/** @since 0.1.0 @category models */
export interface Options {
  readonly maxAgeDays: number
  readonly maxSizeMb: number
  /** Rows per delete statement. Default 5 000. */
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
const MAX_SIZE_ROUNDS = 10_000

const changesOf = (u: unknown): number =>
  typeof u === "object" && u !== null && "changes" in u && typeof u.changes === "number" ? u.changes : 0
const firstNumber = (rows: ReadonlyArray<Record<string, unknown>>): number => {
  const value = rows[0] === undefined ? undefined : Object.values(rows[0])[0]
  return typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : 0
}

/** @since 0.1.0 @category constructors */
export const make = (options: Options): Effect.Effect<Service, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const chunkSize = Math.max(1, Math.floor(options.chunkSize ?? 5_000))
    const maxBytes = options.maxSizeMb * 1024 * 1024

    const pragma = (name: string) => Effect.map(sql.unsafe<Record<string, unknown>>(`PRAGMA ${name}`), firstNumber)
    const usage = Effect.gen(function*() {
      const pageSize = yield* pragma("page_size")
      const pages = yield* pragma("page_count")
      const free = yield* pragma("freelist_count")
      return { usedBytes: (pages - free) * pageSize, fileBytes: pages * pageSize }
    })

    /** Repeats a chunked delete until it deletes nothing; returns the rows deleted. */
    const deleteAll = (statement: Effect.Effect<unknown, unknown>) =>
      Effect.gen(function*() {
        let total = 0
        while (true) {
          const changes = changesOf(yield* statement)
          total += changes
          if (changes === 0) return total
        }
      })

    const pruneByAge = (cutoff: number) =>
      // Per type, so each delete walks the (type, ts) index instead of the table.
      Effect.reduce(EventType.literals, 0, (total, type) =>
        Effect.map(
          deleteAll(sql`DELETE FROM events WHERE id IN (
            SELECT id FROM events WHERE type = ${type} AND ts < ${cutoff} LIMIT ${chunkSize})`.raw),
          (n) => total + n
        ))

    const pruneBySize = Effect.gen(function*() {
      let deleted = 0
      for (let round = 0; round < MAX_SIZE_ROUNDS; round++) {
        const { usedBytes } = yield* usage
        if (usedBytes <= maxBytes) break
        const changes = changesOf(
          yield* sql`DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ${chunkSize})`.raw
        )
        deleted += changes
        if (changes === 0) break
      }
      return deleted
    })

    /**
     * A (trace, run) pair goes with its run's last event. Only pairs first
     * seen before the oldest event left are looked at (one probe of the run
     * index each): later ones still have events, or soon will be looked at.
     */
    const pruneRunTraces = Effect.map(
      sql`DELETE FROM run_traces
        WHERE ts < coalesce((SELECT ts FROM events ORDER BY id LIMIT 1), ${Number.MAX_SAFE_INTEGER})
        AND NOT EXISTS (SELECT 1 FROM events WHERE events.run_id = run_traces.run_id)`.raw,
      changesOf
    )

    const prune = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const cutoff = now - options.maxAgeDays * DAY_MS
      const deletedByAge = yield* pruneByAge(cutoff)
      const alertsDeleted = changesOf(yield* sql`DELETE FROM alerts WHERE ts < ${cutoff}`.raw)
      const deletedBySize = yield* pruneBySize
      const runTracesDeleted = deletedByAge + deletedBySize > 0 ? yield* pruneRunTraces : 0
      const autoVacuum = yield* pragma("auto_vacuum")
      const vacuumed = autoVacuum === 2 && (deletedByAge + deletedBySize + alertsDeleted > 0)
      if (vacuumed) {
        // better-sqlite3 runs a non-reading statement with one step, and each
        // step of `incremental_vacuum` frees one page: step once per free page.
        const free = yield* pragma("freelist_count")
        for (let i = 0; i < free; i++) yield* sql.unsafe("PRAGMA incremental_vacuum")
        yield* sql.unsafe("PRAGMA wal_checkpoint(TRUNCATE)")
      } else if (autoVacuum !== 2 && deletedBySize > 0) {
        yield* Effect.logInfo(
          "Retention: the database file was not created with incremental auto-vacuum; freed pages are reused but the file does not shrink"
        )
      }
      const after = yield* usage
      return { deletedByAge, deletedBySize, alertsDeleted, runTracesDeleted, vacuumed, ...after } satisfies PruneResult
    }).pipe(Effect.mapError(fromCause("prune")), Effect.withSpan("Retention.prune"))

    return {
      prune,
      usage: usage.pipe(Effect.mapError(fromCause("usage")), Effect.withSpan("Retention.usage"))
    }
  })

/**
 * The service, plus a scoped fiber that prunes now and then every
 * `intervalMs`. A failed prune is logged; the schedule goes on.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  options: Options & { readonly intervalMs: number }
): Layer.Layer<Retention, never, SqlClient.SqlClient> =>
  Layer.scoped(
    Retention,
    Effect.gen(function*() {
      const service = yield* make(options)
      yield* service.prune.pipe(
        Effect.tap((result) =>
          result.deletedByAge + result.deletedBySize > 0
            ? Effect.logInfo(
              `Retention: deleted ${result.deletedByAge} events by age and ${result.deletedBySize} by size`
            )
            : Effect.void
        ),
        Effect.catchTag("TelemetryStoreError", (error) => Effect.logWarning("Retention: prune failed", error)),
        Effect.repeat(Schedule.spaced(Duration.millis(options.intervalMs))),
        Effect.forkScoped
      )
      return service
    })
  )
