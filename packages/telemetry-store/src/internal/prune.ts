/**
 * Retention's deletes, written once for either connection: the main
 * thread's `SqlClient`, or the sink's write thread's own (where they never
 * hold up the agents: a delete needs the file's one write lock, and on the
 * main thread SQLite waits for it synchronously while the write thread
 * commits). Deletes run in chunks, each its own statement, with a `pause`
 * between two (a turn of the event loop: agents' work on the main thread,
 * the sink's batches on the write thread).
 */
import { EventType } from "@patinox/core/TelemetryEvent"
import { Effect } from "effect"

/** A connection, as pruning uses it. */
export interface Db<E> {
  /** Runs a statement; the rows it changed (0 for one that returns rows). */
  readonly run: (text: string, params: ReadonlyArray<string | number>) => Effect.Effect<number, E>
  /** The first column of the first row, as a number (0 when there is none). */
  readonly number: (text: string) => Effect.Effect<number, E>
  /** Between two chunks: lets other work on this thread run. */
  readonly pause: Effect.Effect<void>
}

/** A row's first column as a number (0 when there is no row, or it holds something else). */
export const numberIn = (row: unknown): number => {
  const value = typeof row === "object" && row !== null ? Object.values(row)[0] : undefined
  return typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : 0
}

/** What to delete. */
export interface Plan {
  /** Events and alerts older than this (epoch ms) go. */
  readonly cutoff: number
  /** Then the oldest events, while the data is over this many bytes. */
  readonly maxBytes: number
  /** Rows per delete statement (a positive integer). */
  readonly chunkSize: number
}

export interface Usage {
  /** Bytes in use by data: (pages − free pages) × page size. */
  readonly usedBytes: number
  /** Size of the database file (without the WAL). */
  readonly fileBytes: number
}

export interface Outcome extends Usage {
  readonly deletedByAge: number
  readonly deletedBySize: number
  readonly alertsDeleted: number
  readonly runTracesDeleted: number
  /** Whether free pages were returned to the file system. */
  readonly vacuumed: boolean
  /** Whether the file was created with incremental auto-vacuum (else freed pages are only reused). */
  readonly incrementalVacuum: boolean
}

/** Bounds the size rounds: a store that never gets under the limit stops here (and tries again next time). */
const MAX_SIZE_ROUNDS = 10_000
/**
 * The most a size round's delete grows to, in chunks: enough to outpace a
 * sink writing flat out between two rounds, while one statement stays short
 * (8 chunks of the default 5,000 rows: about 0.2 s of deletes).
 */
const MAX_CHUNK_GROWTH = 8
/** Pages returned to the file system between two pauses. */
const VACUUM_PAGES_PER_PAUSE = 256

export const usage = <E>(db: Db<E>): Effect.Effect<Usage, E> =>
  Effect.gen(function*() {
    const pageSize = yield* db.number("PRAGMA page_size")
    const pages = yield* db.number("PRAGMA page_count")
    const free = yield* db.number("PRAGMA freelist_count")
    return { usedBytes: (pages - free) * pageSize, fileBytes: pages * pageSize }
  })

export const prune = <E>(db: Db<E>, plan: Plan): Effect.Effect<Outcome, E> =>
  Effect.gen(function*() {
    const chunk = plan.chunkSize

    /** Repeats a chunked delete until it deletes nothing; the rows deleted. */
    const deleteAll = (text: string, params: ReadonlyArray<string | number>) =>
      Effect.gen(function*() {
        let total = 0
        while (true) {
          const changes = yield* db.run(text, params)
          total += changes
          if (changes === 0) return total
          yield* db.pause
        }
      })

    // Per type, so each delete walks the (type, ts) index instead of the table.
    let deletedByAge = 0
    for (const type of EventType.literals) {
      deletedByAge += yield* deleteAll(
        `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE type = ? AND ts < ? LIMIT ${chunk})`,
        [type, plan.cutoff]
      )
    }
    const alertsDeleted = yield* db.run("DELETE FROM alerts WHERE ts < ?", [plan.cutoff])

    let deletedBySize = 0
    // Rows per delete: the chunk, doubled (up to `MAX_CHUNK_GROWTH` times) whenever a round ends no
    // smaller than the one before, i.e. the inserts between two chunks outweighed a chunk (a burst).
    let rows = chunk
    let usedBefore = Number.POSITIVE_INFINITY
    for (let round = 0; round < MAX_SIZE_ROUNDS; round++) {
      const used = (yield* usage(db)).usedBytes
      if (used <= plan.maxBytes) break
      if (used >= usedBefore) rows = Math.min(rows * 2, chunk * MAX_CHUNK_GROWTH)
      usedBefore = used
      const changes = yield* db.run(`DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ${rows})`, [])
      deletedBySize += changes
      if (changes === 0) break
      yield* db.pause
    }

    // A (trace, run) pair goes with its run's last event. Only pairs first
    // seen before the oldest event left are looked at (one probe of the run
    // index each): later ones still have events, or soon will be looked at.
    const runTracesDeleted = deletedByAge + deletedBySize === 0 ? 0 : yield* db.run(
      `DELETE FROM run_traces
        WHERE ts < coalesce((SELECT ts FROM events ORDER BY id LIMIT 1), ?)
        AND NOT EXISTS (SELECT 1 FROM events WHERE events.run_id = run_traces.run_id)`,
      [Number.MAX_SAFE_INTEGER]
    )

    const incrementalVacuum = (yield* db.number("PRAGMA auto_vacuum")) === 2
    const vacuumed = incrementalVacuum && deletedByAge + deletedBySize + alertsDeleted > 0
    if (vacuumed) {
      // A connection runs a statement that returns nothing with one step,
      // and each step of `incremental_vacuum` frees one page: once per page.
      const free = yield* db.number("PRAGMA freelist_count")
      for (let i = 0; i < free; i++) {
        yield* db.run("PRAGMA incremental_vacuum", [])
        if ((i + 1) % VACUUM_PAGES_PER_PAUSE === 0) yield* db.pause
      }
      yield* db.run("PRAGMA wal_checkpoint(TRUNCATE)", [])
    }
    const after = yield* usage(db)
    return { deletedByAge, deletedBySize, alertsDeleted, runTracesDeleted, vacuumed, incrementalVacuum, ...after }
  })
