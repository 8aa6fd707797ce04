import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Redaction from "@patinox/core/Redaction"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Clock, Effect } from "effect"
import { insert, prepare, type Rows } from "./batch.js"

/** The sink's counters, updated by whichever writer commits a batch. */
export interface Tally {
  written: number
  failed: number
  batches: number
  lastFlushMs: number
  lastFlushAt: number
  /** Events sent to the write thread as they were offered, to be redacted and turned into rows there. */
  preparedOnThread: number
}

/** A tally of nothing yet. */
export const emptyTally = (): Tally => ({
  written: 0,
  failed: 0,
  batches: 0,
  lastFlushMs: 0,
  lastFlushAt: 0,
  preparedOnThread: 0
})

/** Where the sink's batches go. */
export interface Writer {
  /**
   * Takes a batch; waits at most for room (the worker writer bounds its
   * batches in flight). `urgent`: someone waits for it (a flush), so the
   * write thread starts it at once rather than between two scavenges.
   */
  readonly write: (events: ReadonlyArray<TelemetryEvent>, urgent?: boolean) => Effect.Effect<void>
  /** Waits until every batch taken so far is committed or counted as failed. */
  readonly settle: Effect.Effect<void>
  /** Waits until the writer can commit at once (a write thread has started, or was given up). */
  readonly ready: Effect.Effect<void>
}

/** The main thread's writer: also takes rows already built (for `count` events) when a thread writer gives up. */
export interface Inline extends Writer {
  readonly writeRows: (count: number, rows: Rows) => Effect.Effect<void>
}

/** Redacts, builds the rows and inserts them on this thread, through the `SqlClient` given. */
export const inline = (sql: SqlClient.SqlClient, redactor: Redaction.Redactor, tally: Tally): Inline => {
  const writeRows = (count: number, rows: Rows, started = performance.now()) =>
    Effect.suspend(() =>
      insert(sql, rows).pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.tap((now) =>
          Effect.sync(() => {
            tally.written += count - rows.failed
            tally.batches++
            tally.lastFlushMs = performance.now() - started
            tally.lastFlushAt = now
          })
        ),
        Effect.zipRight(
          rows.failed === 0 ? Effect.void : Effect.zipRight(
            Effect.sync(() => {
              tally.failed += rows.failed
            }),
            Effect.logWarning(`TelemetrySink: ${rows.failed} events could not be serialised: ${rows.failure}`)
          )
        )
      )
    ).pipe(
      Effect.catchAllCause((cause) =>
        Effect.zipRight(
          Effect.sync(() => {
            tally.failed += count
          }),
          Effect.logWarning(`TelemetrySink: a batch of ${count} events was not written`, cause)
        )
      ),
      // A batch taken off the queue is written whole, even during shutdown.
      Effect.uninterruptible
    )
  return {
    write: (events) =>
      Effect.suspend(() => {
        const started = performance.now()
        return writeRows(events.length, prepare(redactor, events), started)
      }),
    writeRows,
    settle: Effect.void,
    ready: Effect.void
  }
}
