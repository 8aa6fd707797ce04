import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Effect } from "effect"
import {
  alertColumnNames,
  appendVerb,
  type Cell,
  columnNames,
  forEachStatement,
  insertText,
  isAlert,
  memo,
  pushAlert,
  pushRow,
  runTraceColumnNames,
  runTraceRows
} from "./columns.js"

/** A batch ready to insert: redacted, its rows flat arrays of cells. */
export interface Rows {
  /** `events` rows, `columnNames.length` cells each. */
  readonly events: Array<Cell>
  /** `alerts` rows, `alertColumnNames.length` cells each. */
  readonly alerts: Array<Cell>
  /** Events that could not be redacted or serialised (left out of `events`). */
  readonly failed: number
  /** Why the first of them failed. */
  readonly failure: string | undefined
}

/** A one-line account of a thrown value, for a log line in another thread. */
export const describe = (cause: unknown): string =>
  cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)

/**
 * Redacts the events and builds their rows. An event that throws (a `BigInt`
 * or a cycle in its context: `JSON.stringify` refuses both) is left out and
 * counted; the rest of the batch goes on.
 */
export const prepare = (
  redact: (event: TelemetryEvent) => TelemetryEvent,
  events: ReadonlyArray<TelemetryEvent>
): Rows => {
  const rows: Array<Cell> = []
  const alerts: Array<Cell> = []
  let failed = 0
  let failure: string | undefined
  for (const original of events) {
    try {
      const event = redact(original)
      const payload = pushRow(rows, event)
      if (isAlert(event)) pushAlert(alerts, event, payload)
    } catch (cause) {
      failed++
      failure ??= describe(cause)
    }
  }
  return { events: rows, alerts, failed, failure }
}

// Statement texts are built once per row count (see `forEachStatement`), so
// the client's statement cache sees at most ten per table, and full batches
// skip `sql.insert`'s per-row compile.
const eventsInsert = memo((rows: number) => insertText("events", columnNames, rows, appendVerb))
const alertsInsert = memo((rows: number) => insertText("alerts", alertColumnNames, rows, appendVerb))
const runTracesInsert = memo((rows: number) => insertText("run_traces", runTraceColumnNames, rows, "INSERT OR IGNORE"))

const insertAll = (
  sql: SqlClient.SqlClient,
  text: (rows: number) => string,
  width: number,
  cells: ReadonlyArray<Cell>
): Effect.Effect<void, SqlError> =>
  Effect.suspend(() => {
    const statements: Array<Effect.Effect<unknown, SqlError>> = []
    forEachStatement(cells, width, (rows, part) => statements.push(sql.unsafe(text(rows), part)))
    return Effect.forEach(statements, (s) => s, { discard: true })
  })

/** Inserts the rows, one transaction for the batch. */
export const insert = (sql: SqlClient.SqlClient, rows: Rows): Effect.Effect<void, SqlError> =>
  sql.withTransaction(
    Effect.all([
      insertAll(sql, eventsInsert, columnNames.length, rows.events),
      insertAll(sql, runTracesInsert, runTraceColumnNames.length, runTraceRows(rows.events)),
      insertAll(sql, alertsInsert, alertColumnNames.length, rows.alerts)
    ], { discard: true })
  )
