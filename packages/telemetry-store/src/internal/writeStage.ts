/**
 * The sink's write thread: its own connection to the store's file (see
 * `fileInserter.ts` for why not the `SqlClient`), the batches' rows inserted
 * one transaction per group of batches waiting together, and a `Done` to the
 * main thread for each. Retention's deletes run here too, a chunk at a time
 * between the batches. WAL lets the main connection (migrations, queries)
 * work on the file beside it.
 */
import { Cause, Data, Effect, Queue } from "effect"
import type { MessagePort } from "node:worker_threads"
import { describe } from "./batch.js"
import * as FileInserter from "./fileInserter.js"
import type { Crashed, Done, Prune, Pruned, Ready, Stop, ToWrite, Write, WriteData } from "./protocol.js"
import * as Pruning from "./prune.js"
import { turn } from "./turn.js"

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

type Batch = Write | Stop

/** Retention's connection on this thread: the inserter's, `pause` between two chunks. */
export const pruneDb = (inserter: FileInserter.FileInserter, pause: Effect.Effect<void>): Pruning.Db<string> => ({
  run: (text, params) => Effect.try({ try: () => inserter.run(text, params), catch: describe }),
  number: (text) => Effect.try({ try: () => inserter.number(text), catch: describe }),
  pause
})

/**
 * The main thread's messages as queues, batches and prunes apart (a prune
 * runs beside the batches); the listeners live as long as the scope (the
 * entry closes the port).
 */
const inbox = (parent: MessagePort, acks: MessagePort, capacity: number) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      // The sink never has more than `maxInFlight` batches out, plus the stop.
      const queue = yield* Queue.bounded<Batch>(capacity + 1)
      // Retention asks for one prune at a time.
      const prunes = yield* Queue.unbounded<Prune>()
      const onMessage = (message: ToWrite) => {
        if (message._tag === "Prune") return void Queue.unsafeOffer(prunes, message)
        if (Queue.unsafeOffer(queue, message)) return
        // Only a broken protocol gets here; the batch is refused, and counted, rather than lost.
        if (message._tag !== "Stop") acks.postMessage(failedBatch(message.id, message.count, "write thread inbox full"))
      }
      // A batch that cannot be read would never be acknowledged: stop, so the sink counts it and writes inline.
      const onError = (error: Error) => {
        acks.postMessage({ _tag: "Crashed", reason: `unreadable batch: ${describe(error)}` } satisfies Crashed)
        process.exit(1)
      }
      parent.on("message", onMessage)
      parent.on("messageerror", onError)
      return { queue, prunes, onMessage, onError }
    }),
    ({ onError, onMessage }) =>
      Effect.sync(() => {
        parent.off("message", onMessage)
        parent.off("messageerror", onError)
      })
  ).pipe(Effect.map(({ prunes, queue }) => ({ queue, prunes })))

/** SQLite refused the file or a batch. */
class WriteError extends Data.TaggedError("WriteError")<{ readonly message: string }> {}

const connect = (filename: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => FileInserter.open(filename),
      catch: (cause) => new WriteError({ message: `cannot open ${filename}: ${describe(cause)}` })
    }),
    (inserter) => Effect.sync(() => inserter.close())
  )

/** The batch's Done, posted once its fate is known. */
const answer = (acks: MessagePort, batch: Write, started: number, failure?: string) => {
  const { rows } = batch
  acks.postMessage(
    failure === undefined
      ? {
        _tag: "Done",
        id: batch.id,
        written: batch.count - rows.failed,
        failed: rows.failed,
        failure: rows.failure,
        ms: batch.prepareMs + performance.now() - started,
        at: Date.now()
      } satisfies Done
      : failedBatch(batch.id, batch.count, failure)
  )
}

/**
 * Writes the batches in one transaction: those waiting when the thread gets
 * to them commit together (group commit: fewer commits, each index page
 * rewritten less often). If the group fails, each batch is tried on its own,
 * so one bad batch does not take the others with it.
 */
const writeGroup = (
  inserter: FileInserter.FileInserter,
  acks: MessagePort,
  batches: ReadonlyArray<Write>
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.try({
      try: () =>
        inserter.insert(batches.map(({ rows }) => rows)),
      catch: (cause) => new WriteError({ message: describe(cause) })
    }).pipe(
      Effect.matchEffect({
        onSuccess: () => Effect.sync(() => batches.forEach((batch) => answer(acks, batch, started))),
        onFailure: (error) =>
          batches.length === 1
            ? Effect.sync(() => answer(acks, batches[0]!, started, error.message))
            : Effect.forEach(batches, (batch) => writeGroup(inserter, acks, [batch]), { discard: true })
      }),
      Effect.catchAllDefect((defect) =>
        Effect.sync(() => batches.forEach((batch) => answer(acks, batch, started, Cause.pretty(Cause.die(defect)))))
      )
    )
  })

/**
 * Runs until the sink's stop, then closes the connection. Batches come in on
 * `parent`; everything going back (ready, done, crashed) goes on `data.acks`,
 * which the main thread can read without waiting for its event loop.
 */
export const run = (data: WriteData, parent: MessagePort) =>
  Effect.gen(function*() {
    const inserter = yield* connect(data.filename)
    const acks = data.acks
    const { prunes, queue } = yield* inbox(parent, acks, data.maxInFlight)
    // Retention's deletes, a chunk at a time with a turn of the event loop between two: the batches
    // that arrive meanwhile are written between the chunks.
    const db = pruneDb(inserter, turn)
    yield* Queue.take(prunes).pipe(
      Effect.flatMap((message) =>
        Pruning.prune(db, message.plan).pipe(
          Effect.match({
            onFailure: (failure): Pruned => ({ _tag: "Pruned", id: message.id, outcome: undefined, failure }),
            onSuccess: (outcome): Pruned => ({ _tag: "Pruned", id: message.id, outcome, failure: undefined })
          }),
          Effect.flatMap((answer) => Effect.sync(() => acks.postMessage(answer)))
        )
      ),
      Effect.forever,
      Effect.forkScoped
    )
    acks.postMessage({ _tag: "Ready" } satisfies Ready)
    while (true) {
      const waiting = [yield* Queue.take(queue), ...(yield* Queue.takeAll(queue))]
      const batches: Array<Write> = []
      for (const message of waiting) if (message._tag !== "Stop") batches.push(message)
      if (batches.length > 0) yield* writeGroup(inserter, acks, batches)
      // The stop comes after every batch of the sink's.
      if (batches.length < waiting.length) return
    }
  }).pipe(Effect.scoped)
