/**
 * The write thread's connection: better-sqlite3 directly, with its statements
 * prepared once, instead of `@effect/sql`'s client.
 *
 * Why not the client: it is the hot loop of the store. Measured on 200k
 * events (same rows, same schema, same file settings), a 500-row multi-row
 * insert through `SqlClient.unsafe` wrote 9.5 µs per event; the same rows
 * through a prepared better-sqlite3 statement 6.2 µs. The client's per-call
 * costs (a statement cache keyed by hashing the whole SQL text, spreading 8 500
 * parameters, a span) are nothing for queries and most of the difference here.
 * Migrations, queries and retention keep the client on the main thread.
 *
 * Every function here may throw (SQLite errors); the write stage wraps them.
 */
import Database from "better-sqlite3"
import type { Rows } from "./batch.js"
import { alertColumnNames, type Cell, columnNames, insertText } from "./columns.js"

export interface FileInserter {
  /** Inserts the batches' rows, one transaction. Throws what SQLite throws; the transaction is then rolled back. */
  readonly insert: (batches: ReadonlyArray<Rows>) => void
  readonly close: () => void
}

/**
 * Checkpoint the WAL into the database every 10 000 pages (~40 MB) instead of
 * SQLite's 1 000: a page that many commits touch (an index's leaf) is copied
 * back once per checkpoint rather than once per 1 000 pages, and the fsync that
 * ends each checkpoint comes a tenth as often. Measured on the sink benchmark
 * (3 runs each): 0.78-0.81 of the plain insert loop at 1 000 pages, 0.82-0.92
 * at 4 000, 0.89-0.93 at 10 000. The cost: the `-wal` file holds up to ~40 MB
 * more on disk, and readers look through a longer WAL.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000
/** After a checkpoint, a `-wal` file larger than this (64 MB) is truncated back to it. */
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024

/** Rows per multi-row statement; 500 × 17 columns stays far below SQLite's 32 766 parameters. */
const ROWS_PER_STATEMENT = 500

/**
 * Opens the store's file (already migrated, WAL). `synchronous = NORMAL` as on
 * the main connection: a commit survives a process crash without an fsync each.
 * Checkpoints: see `WAL_AUTOCHECKPOINT_PAGES`.
 */
export const open = (filename: string): FileInserter => {
  const db = new Database(filename, { timeout: 5_000 })
  try {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`)
    const table = (name: string, columns: ReadonlyArray<string>) => {
      const width = columns.length
      // One statement per size, prepared on first use: any row count is a sum of at most
      // ten of them (500, then powers of two), rather than a statement per row.
      const statements = new Map<number, Database.Statement>()
      const statement = (rows: number) => {
        let prepared = statements.get(rows)
        if (prepared === undefined) {
          prepared = db.prepare(insertText(name, columns, rows))
          statements.set(rows, prepared)
        }
        return prepared
      }
      return (cells: Array<Cell>) => {
        const total = cells.length / width
        if (total === ROWS_PER_STATEMENT) return void statement(total).run(cells)
        let at = 0
        for (let left = total; left > 0;) {
          const rows = left >= ROWS_PER_STATEMENT ? ROWS_PER_STATEMENT : 2 ** Math.floor(Math.log2(left))
          statement(rows).run(rows === total ? cells : cells.slice(at, at + rows * width))
          at += rows * width
          left -= rows
        }
      }
    }
    const events = table("events", columnNames)
    const alerts = table("alerts", alertColumnNames)
    const insert = db.transaction((batches: ReadonlyArray<Rows>) => {
      for (const rows of batches) {
        events(rows.events)
        if (rows.alerts.length > 0) alerts(rows.alerts)
      }
    })
    return { insert: (batches) => insert(batches), close: () => db.close() }
  } catch (cause) {
    db.close()
    throw cause
  }
}
