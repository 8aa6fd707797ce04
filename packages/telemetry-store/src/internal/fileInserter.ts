/**
 * The write thread's connection: better-sqlite3 directly, with its statements
 * prepared once, instead of `@effect/sql`'s client, whose per-call costs
 * (hashing the SQL text, spreading 8 500 parameters, a span) are nothing for
 * queries but a third of the hot insert loop (docs/benchmarks.md).
 * Migrations and queries keep the client on the main thread; retention's
 * deletes come here when the sink has this thread (`run`, `number`).
 *
 * Every function here may throw (SQLite errors); the write stage wraps them.
 */
import Database from "better-sqlite3"
import type { Rows } from "./batch.js"
import {
  alertColumnNames,
  appendVerb,
  type Cell,
  columnNames,
  forEachStatement,
  type InsertVerb,
  insertText,
  memo,
  runTraceColumnNames,
  runTraceRows
} from "./columns.js"
import { numberIn } from "./prune.js"

export interface FileInserter {
  /** Inserts the batches' rows, one transaction. Throws what SQLite throws; the transaction is then rolled back. */
  readonly insert: (batches: ReadonlyArray<Rows>) => void
  /** Runs a statement (prepared once per text): the rows it changed, 0 for one that returns rows. */
  readonly run: (text: string, params: ReadonlyArray<string | number>) => number
  /** The first column of the first row of a query or pragma, as a number (0 when there is none). */
  readonly number: (text: string) => number
  readonly close: () => void
}

/**
 * Checkpoint the WAL every 10 000 pages (~40 MB) instead of SQLite's 1 000:
 * a page many commits touch (an index's leaf) is copied back, and the
 * checkpoint's fsync paid, a tenth as often, at the cost of a larger `-wal`
 * file (docs/benchmarks.md).
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000
/** After a checkpoint, a `-wal` file larger than this (64 MB) is truncated back to it. */
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024

/**
 * Opens the store's file (already migrated, WAL). `synchronous = NORMAL` as on
 * the main connection: a commit survives a process crash without an fsync each.
 * Checkpoints: see `WAL_AUTOCHECKPOINT_PAGES`; the insert verb: `appendVerb`.
 */
export const open = (filename: string): FileInserter => {
  const db = new Database(filename, { timeout: 5_000 })
  try {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`)
    const table = (name: string, columns: ReadonlyArray<string>, verb: InsertVerb = appendVerb) => {
      const statement = memo((rows: number) => db.prepare(insertText(name, columns, rows, verb)))
      return (cells: Array<Cell>) =>
        forEachStatement(cells, columns.length, (rows, part) => void statement(rows).run(part))
    }
    const events = table("events", columnNames)
    const alerts = table("alerts", alertColumnNames)
    const runTraces = table("run_traces", runTraceColumnNames, "INSERT OR IGNORE")
    const insert = db.transaction((batches: ReadonlyArray<Rows>) => {
      for (const rows of batches) {
        events(rows.events)
        const pairs = runTraceRows(rows.events)
        if (pairs.length > 0) runTraces(pairs)
        if (rows.alerts.length > 0) alerts(rows.alerts)
      }
    })
    const statement = memo((text: string) => db.prepare(text))
    return {
      insert: (batches) => insert(batches),
      run: (text, params) => {
        const found = statement(text)
        if (!found.reader) return found.run(...params).changes
        found.all(...params)
        return 0
      },
      number: (text) => numberIn(statement(text).get()),
      close: () => db.close()
    }
  } catch (cause) {
    db.close()
    throw cause
  }
}
