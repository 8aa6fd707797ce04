/**
 * The sink's write thread: its own `SqliteClient` connection to the store's
 * file, one transaction per prepared batch, a `Done` to the main thread after
 * each. The main connection keeps migrations, queries and retention; WAL lets
 * both work on the file, and a busy file is waited for (better-sqlite3's 5 s
 * busy timeout).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Clock, Effect, Queue } from "effect"
import type { MessagePort } from "node:worker_threads"
import { describe, insert } from "./batch.js"
import type { Crashed, Done, PreparedBatch, Ready, ToWrite, WriteData } from "./protocol.js"

/** The answer for a batch none of whose events were written. */
const failedBatch = (id: number, count: number, failure: string): Done => ({
  _tag: "Done",
  id,
  written: 0,
  failed: count,
  failure,
  ms: 0,
  at: Date.now()
})

/** The prepare thread's messages as a queue; the port listener lives as long as the scope. */
const inbox = (port: MessagePort, parent: MessagePort, capacity: number) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      // The sink never has more than `maxInFlight` batches out, plus the stop.
      const queue = yield* Queue.bounded<ToWrite>(capacity + 1)
      const onMessage = (message: ToWrite) => {
        if (Queue.unsafeOffer(queue, message)) return
        // Only a broken protocol gets here; the batch is refused, and counted, rather than lost.
        if (message._tag === "Rows") parent.postMessage(failedBatch(message.id, message.count, "write thread inbox full"))
      }
      // A batch that cannot be read would never be acknowledged: stop, so the sink counts it and writes inline.
      const onError = (error: Error) => {
        parent.postMessage({ _tag: "Crashed", reason: `unreadable batch: ${describe(error)}` } satisfies Crashed)
        process.exit(1)
      }
      port.on("message", onMessage)
      port.on("messageerror", onError)
      return { queue, onMessage, onError }
    }),
    ({ onError, onMessage }) =>
      Effect.sync(() => {
        port.off("message", onMessage)
        port.off("messageerror", onError)
        port.close()
      })
  ).pipe(Effect.map(({ queue }) => queue))

const write = (sql: SqlClient.SqlClient, parent: MessagePort, batch: PreparedBatch) =>
  Effect.suspend(() => {
    const started = performance.now()
    const { rows } = batch
    return insert(sql, rows).pipe(
      Effect.match({
        onFailure: (error) => ({ written: 0, failed: batch.count, failure: `${error.message}: ${describe(error.cause)}` }),
        onSuccess: () => ({ written: batch.count - rows.failed, failed: rows.failed, failure: rows.failure })
      }),
      Effect.zip(Clock.currentTimeMillis),
      Effect.map(([result, at]): Done => ({
        _tag: "Done",
        id: batch.id,
        ...result,
        ms: batch.prepareMs + performance.now() - started,
        at
      })),
      Effect.catchAllDefect((defect) => Effect.succeed(failedBatch(batch.id, batch.count, Cause.pretty(Cause.die(defect))))),
      Effect.flatMap((done) => Effect.sync(() => parent.postMessage(done)))
    )
  })

/** Runs until the prepare thread forwards the sink's stop, then closes the connection. */
export const run = (data: WriteData, parent: MessagePort) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // Per connection: as the main connection, commits survive a process crash
    // (WAL) without an fsync each.
    yield* sql.unsafe("PRAGMA synchronous = NORMAL")
    const queue = yield* inbox(data.input, parent, data.maxInFlight)
    parent.postMessage({ _tag: "Ready" } satisfies Ready)
    while (true) {
      const message = yield* Queue.take(queue)
      if (message._tag === "Stop") return
      yield* write(sql, parent, message)
    }
  }).pipe(
    Effect.scoped,
    Effect.provide(SqliteClient.layer({ filename: data.filename }))
  )
