import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Redaction from "@patinox/core/Redaction"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Clock, Effect } from "effect"
import { insert, prepare } from "./batch.js"

/** The sink's counters, updated by whichever writer commits a batch. */
export interface Tally {
  written: number
  failed: number
  batches: number
  lastFlushMs: number
  lastFlushAt: number
}

/** A tally of nothing yet. */
export const emptyTally = (): Tally => ({ written: 0, failed: 0, batches: 0, lastFlushMs: 0, lastFlushAt: 0 })

/** Where the sink's batches go. */
export interface Writer {
  /** Takes a batch; waits at most for room (the write thread bounds its batches in flight). */
  readonly write: (events: ReadonlyArray<TelemetryEvent>) => Effect.Effect<void>
  /** Waits until every batch taken so far is committed or counted as failed. */
  readonly settle: Effect.Effect<void>
  /** Waits until the writer can commit at once (a write thread has started, or was given up). */
  readonly ready: Effect.Effect<void>
}

/** Redacts, builds the rows and inserts them on this thread, through the `SqlClient` given. */
export const inline = (sql: SqlClient.SqlClient, redactor: Redaction.Redactor, tally: Tally): Writer => ({
  write: (events) =>
    Effect.suspend(() => {
      const started = performance.now()
      const rows = prepare(redactor.event, events)
      return insert(sql, rows).pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.tap((now) =>
          Effect.sync(() => {
            tally.written += events.length - rows.failed
            tally.failed += rows.failed
            tally.batches++
            tally.lastFlushMs = performance.now() - started
            tally.lastFlushAt = now
          })
        ),
        Effect.zipRight(
          rows.failed === 0
            ? Effect.void
            : Effect.logWarning(`TelemetrySink: ${rows.failed} events could not be serialised: ${rows.failure}`)
        ),
        Effect.catchAllCause((cause) =>
          Effect.zipRight(
            Effect.sync(() => {
              tally.failed += events.length
            }),
            Effect.logWarning(`TelemetrySink: a batch of ${events.length} events was not written`, cause)
          )
        )
      )
    }).pipe(
      // A batch taken off the queue is written whole, even during shutdown.
      Effect.uninterruptible
    ),
  settle: Effect.void,
  ready: Effect.void
})
