/**
 * The main thread's side of the worker writer: hands each batch to the write
 * thread (at most `MAX_IN_FLIGHT` batches at a time), tallies its
 * acknowledgements, and stops it when the scope closes.
 *
 * Where a batch is redacted and turned into rows depends on who has time:
 * - While the write thread keeps up (fewer than `SPARE` batches in flight,
 *   no other full batch waiting in the queue), the events go as they are,
 *   in structured clones of `SLICE` events, and the thread prepares them.
 *   The agents' thread then spends about a third of what preparing costs
 *   it: on the 13 events of a tool-using agent run, 8 against 24 µs in a
 *   micro-benchmark, about 20 against 42 µs in a CPU profile of the runs.
 * - Once it falls behind, or batches queue up, inserting is the bottleneck:
 *   the rows are built here, in slices that give the event loop back in
 *   between, so the write thread only inserts, and the sustained rate stays
 *   at the plain insert loop's.
 * - Unless this thread is busy with other work (the agents): above
 *   `handOffAboveLoad` of its time (see `loopLoad.ts`), batches go as they
 *   are even while they queue up, one clone per batch. The write thread
 *   then prepares and inserts, and takes from the agents only the clone,
 *   about a third of preparing. In a burst from one publisher, this thread
 *   published 1.36M events/s with the rows built here, 1.62M/s with the
 *   work handed off. For those small events the sink wrote about as much as
 *   before (152k to 177k events/s, against 163k to 168k); for the store
 *   bench's events, with more to redact, the write thread alone writes 0.55
 *   to 0.69 of the plain insert loop (0.88 to 1.04 with the rows built
 *   here), and the sink then drops more.
 * - An event the clone would store differently (see `portable.ts`) makes
 *   its batch prepared here, as does a sink given a ready-made redactor
 *   (functions do not cross threads).
 *
 * Why not a second worker for preparing: the events must be serialised to
 * reach it anyway, and on two cores its CPU competed with the write
 * thread's inserts: the sustained rate measured 0.56 to 0.76 of the plain
 * better-sqlite3 loop with three threads, 0.83 to 0.91 with two.
 */
import type * as Redaction from "@patinox/core/Redaction"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Deferred, Duration, Effect, Exit, FiberSet, Predicate, type Scope } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads"
import { describe, prepare } from "./batch.js"
import * as GcGate from "./gcGate.js"
import { columnNames } from "./columns.js"
import { builder, transferables } from "./packedCells.js"
import * as LoopLoad from "./loopLoad.js"
import { allPortable } from "./portable.js"
import {
  type EventsBatch,
  isToMain,
  type PackedRows,
  type PreparedBatch,
  type Prune,
  type Stop,
  unpackRows,
  type WriteData
} from "./protocol.js"
import type { Outcome, Plan } from "./prune.js"
import { turn } from "./turn.js"
import type { Inline, Tally, Writer } from "./writer.js"

/**
 * Batches handed over and not yet acknowledged: enough that the write thread
 * always has the next one (and can commit those waiting together); it bounds
 * the memory the thread holds, and what a crash can lose beyond the queue.
 */
export const MAX_IN_FLIGHT = 8
/** Batches in flight below which the write thread has room to prepare the next one itself. */
const SPARE = 2
/**
 * Events cloned, or redacted and turned into rows, between two turns of the
 * event loop (about 0.06 and 0.25 ms of work).
 */
const SLICE = 100
/** How often (ms) a writer waiting for an acknowledgement reads the answers' channel itself. */
const ACK_POLL_MS = 1
/** Module loading takes about a second; a thread not ready after this is given up (the sink writes inline). */
const START_TIMEOUT = Duration.seconds(30)
/** After the stop: the write thread closes its connection and exits. */
const STOP_TIMEOUT = Duration.seconds(10)

// Plain `eval` code, so it runs the same under Node, tsx and vitest: loads
// tsx's ESM hooks when the entry is TypeScript, then the entry.
const bootstrap = `const { workerData } = require("node:worker_threads");
(workerData.tsx === undefined
  ? import(workerData.entry)
  : import(workerData.tsx).then((tsx) => { tsx.register(); return import(workerData.entry) }))`

/** File URL of tsx's ESM API, found from this package (tsx is its dependency). */
const tsxApi = (): string => {
  const require = createRequire(import.meta.url)
  const manifest = require.resolve("tsx/package.json")
  const parsed: unknown = JSON.parse(readFileSync(manifest, "utf8"))
  const api = Predicate.isRecord(parsed) && Predicate.isRecord(parsed["exports"]) ? parsed["exports"]["./esm/api"] : undefined
  const file = Predicate.isRecord(api) && Predicate.isRecord(api["import"]) ? api["import"]["default"] : undefined
  if (typeof file !== "string") throw new Error(`${manifest} has no "./esm/api" import`)
  return pathToFileURL(join(dirname(manifest), file)).href
}

/** Compiled `.js` beside this file loads as is; TypeScript sources load through tsx. */
const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"

/** The write thread's entry, and tsx's loader when it is TypeScript. */
const entry = Effect.try({
  try: () => ({
    entry: new URL(`./writeWorker${extension}`, import.meta.url).href,
    tsx: extension === ".ts" ? tsxApi() : undefined
  }),
  catch: (cause) => `cannot locate the write thread's entry: ${describe(cause)}`
})

export interface Options {
  readonly filename: string
  readonly redactor: Redaction.Redactor
  /**
   * The same redaction as `redactor`, as options the write thread can build
   * it from; absent for a ready-made redactor (every batch is then prepared
   * on this thread).
   */
  readonly redaction: Redaction.Options | undefined
  readonly tally: Tally
  /** Takes over when the thread fails to start or dies. */
  readonly fallback: Inline
  /**
   * True while the sink is falling behind (its queue half full): batches are
   * then built without giving the event loop a turn between slices, since
   * those turns, on a loop saturated with work, are what starves the writer.
   */
  readonly behind: () => boolean
  /**
   * True while another full batch waits in the queue behind the one being
   * handed over: throughput then matters, and the rows are built here so
   * the write thread only inserts.
   */
  readonly backlog: () => boolean
  /**
   * The share (0..1) of the event loop's time, spent on other work than the
   * sink's, above which every batch goes as it is, whatever the backlog:
   * the agents then keep the time preparing would take (see `make`).
   */
  readonly handOffAboveLoad: number
  /** Given the thread once it is created (tests use it to stop the thread under the sink). */
  readonly onThread?: ((worker: Worker) => void) | undefined
}

/** The write thread's writer, which also runs retention's deletes on its connection. */
export interface ThreadWriter extends Writer {
  /**
   * Runs the prune on the write thread: `undefined` when the thread is not
   * running; fails with the reason when the prune fails there or the thread
   * stops first.
   */
  readonly prune: (plan: Plan) => Effect.Effect<Outcome | undefined, string>
}

/**
 * A `Writer` on a thread of its own, for a SQLite file. Batches wait on the
 * main thread until the thread is ready; if it fails to start, or dies later,
 * the sink logs it, counts the batches it held as failed, and writes on the
 * main thread (`fallback`) from then on.
 */
export const make = (options: Options): Effect.Effect<ThreadWriter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { fallback, tally } = options
    const runFork = yield* FiberSet.makeRuntime<never>()
    const started = yield* Deferred.make<boolean>()
    /** Whoever waits for progress: resumed by every acknowledgement (and by a failure). */
    const ackWaiters = new Set<() => void>()
    /** Events per batch handed over and not acknowledged, by id (ids rise, so the first key is the oldest). */
    const pending = new Map<number, number>()
    // The thread's answers come on a channel of their own, so they can also be read synchronously (`pollAcks`).
    const { port1: acks, port2: threadAcks } = new MessageChannel()
    let phase: "starting" | "running" | "failed" | "stopping" = "starting"
    let nextId = 0
    let thread: Worker | undefined
    /** Prunes sent and not answered, by id. */
    const prunes = new Map<number, Deferred.Deferred<Outcome, string>>()
    let nextPruneId = 0
    /** Answers every prune still waiting: the thread will not. */
    const failPrunes = (why: string) => {
      for (const waiting of prunes.values()) Deferred.unsafeDone(waiting, Exit.fail(why))
      prunes.clear()
    }
    /** Completed by the thread's `exit` event. */
    const exited = yield* Deferred.make<void>()
    const launchedAt = performance.now()
    const load = yield* LoopLoad.make

    const settledUpTo = (id: number) => {
      for (const first of pending.keys()) return first > id
      return true
    }
    const wake = () => {
      for (const resume of ackWaiters) resume()
    }

    const reasons: Array<string> = []
    const fail = (why: string) => {
      if (phase === "failed" || phase === "stopping") return
      const wasStarting = phase === "starting"
      phase = "failed"
      let lost = 0
      for (const count of pending.values()) lost += count
      pending.clear()
      tally.failed += lost
      failPrunes(`the write thread stopped (${why})`)
      void thread?.terminate()
      wake()
      Deferred.unsafeDone(started, Exit.succeed(false))
      const detail = reasons.length === 0 ? "" : `\n${reasons.join("\n")}`
      runFork(Effect.logError(
        wasStarting
          ? `TelemetrySink: the write thread did not start (${why}); writing on the main thread${detail}`
          : `TelemetrySink: the write thread stopped (${why}); ${lost} events in flight lost; ` +
            `writing on the main thread from now on${detail}`
      ))
    }

    const onMessage = (message: unknown) => {
      if (!isToMain(message)) return
      switch (message._tag) {
        case "Ready": {
          if (phase !== "starting") return
          phase = "running"
          Deferred.unsafeDone(started, Exit.succeed(true))
          const ms = Math.round(performance.now() - launchedAt)
          runFork(Effect.logDebug(`TelemetrySink: write thread ready in ${ms} ms`))
          return
        }
        case "Crashed": {
          reasons.push(message.reason)
          return
        }
        case "Pruned": {
          const waiting = prunes.get(message.id)
          if (waiting === undefined) return
          prunes.delete(message.id)
          Deferred.unsafeDone(
            waiting,
            message.outcome === undefined ? Exit.fail(message.failure ?? "the prune failed") : Exit.succeed(message.outcome)
          )
          return
        }
        case "Done": {
          if (!pending.delete(message.id)) return // counted as failed when a thread died
          tally.written += message.written
          tally.failed += message.failed
          if (message.written > 0) {
            tally.batches++
            tally.lastFlushMs = message.ms
            tally.lastFlushAt = message.at
          }
          if (message.failure !== undefined) {
            runFork(Effect.logWarning(
              `TelemetrySink: ${message.failed} of ${
                message.written + message.failed
              } events in a batch were not written: ${message.failure}`
            ))
          }
          return wake()
        }
      }
    }

    const spawn = (data: WriteData) =>
      Effect.gen(function*() {
        const worker = yield* Effect.try({
          try: () => new Worker(bootstrap, { eval: true, workerData: data, transferList: [data.acks] }),
          catch: (cause) => `cannot start the write thread: ${describe(cause)}`
        })
        thread = worker
        options.onThread?.(worker)
        // The answers' channel, and the worker's own port for a thread that could not read its settings.
        acks.on("message", onMessage)
        worker.on("message", onMessage)
        worker.on("error", (error) => {
          reasons.push(describe(error))
        })
        worker.on("exit", (code) => {
          Deferred.unsafeDone(exited, Exit.void)
          fail(`it exited with code ${code}`)
        })
      })

    /**
     * Redacts the batch and builds its rows, `SLICE` events at a time with a
     * turn of the event loop in between, so a 500-event batch never holds up
     * the agents for more than a fraction of a millisecond at once (unless
     * the sink is falling behind: see `behind`).
     */
    const rowsOf = (events: ReadonlyArray<TelemetryEvent>) =>
      Effect.gen(function*() {
        const packedEvents = builder(events.length * columnNames.length)
        const packedAlerts = builder(0)
        let failed = 0
        let failure: string | undefined
        let ms = 0
        for (let at = 0; at < events.length; at += SLICE) {
          if (at > 0 && !options.behind()) yield* turn
          const t0 = performance.now()
          const slice = prepare(options.redactor, events, at, Math.min(events.length, at + SLICE))
          packedEvents.append(slice.events)
          packedAlerts.append(slice.alerts)
          failed += slice.failed
          failure ??= slice.failure
          ms += performance.now() - t0
        }
        const t0 = performance.now()
        const rows: PackedRows = { events: packedEvents.build(), alerts: packedAlerts.build(), failed, failure }
        ms += performance.now() - t0
        load.own(ms)
        return { rows, ms }
      })

    /**
     * Posts the events as they are, for the write thread to prepare; false
     * (nothing sent) if the clone refuses one of them.
     */
    const handOverEvents = (worker: Worker, events: ReadonlyArray<TelemetryEvent>, mayWait: boolean): boolean => {
      const id = nextId++
      pending.set(id, events.length)
      const t0 = performance.now()
      try {
        worker.postMessage({ _tag: "Events", id, events, mayWait } satisfies EventsBatch)
      } catch {
        pending.delete(id)
        return false
      } finally {
        // The clone is the sink's own work too: the load that decides the hand-off is the agents'.
        load.own(performance.now() - t0)
      }
      tally.preparedOnThread += events.length
      return true
    }
    /**
     * Whether the batch goes to the write thread as it is, and how: in
     * `SLICE`s while the thread keeps up (short pauses here); whole when
     * batches queue up but this thread is busy (the write thread then does
     * all the work, and fewer, larger transactions keep its rate up: in
     * slices of 100 it wrote 0.44 of the plain insert loop on the store
     * bench's events). `undefined`: prepared here. Only for a batch the
     * write thread would store as this thread would.
     */
    const sendMode = (events: ReadonlyArray<TelemetryEvent>): "slices" | "whole" | undefined => {
      if (phase !== "running" || options.redaction === undefined) return undefined
      const keepsUp = pending.size < SPARE && !options.backlog() && !options.behind()
      if (!keepsUp && load.share() <= options.handOffAboveLoad) return undefined
      if (!allPortable(events)) return undefined
      return keepsUp ? "slices" : "whole"
    }

    /** Posts the packed rows: one string and two moved buffers per table. */
    const handOver = (worker: Worker, count: number, rows: PackedRows, prepareMs: number) => {
      const id = nextId++
      pending.set(id, count)
      worker.postMessage(
        { _tag: "Rows", id, count, rows, prepareMs } satisfies PreparedBatch,
        [...transferables(rows.events), ...transferables(rows.alerts)]
      )
    }

    /**
     * Reads the answers already sent, without waiting for the event loop to
     * deliver them: a loop kept busy by timers (a publisher in a tight
     * `setTimeout(0)` loop) may not reach its I/O phase for as long as that
     * lasts, and the sink would stop writing with its batches acknowledged
     * but unread.
     */
    const pollAcks = () => {
      for (let received = receiveMessageOnPort(acks); received !== undefined; received = receiveMessageOnPort(acks)) {
        onMessage(received.message)
      }
    }
    /**
     * The next acknowledgement, or 1 ms on the real clock (timers run even on
     * a saturated loop). Plain callbacks rather than a race of fibers: the
     * writer waits inside an uninterruptible region, where a race's loser
     * cannot be interrupted and would hold the winner back.
     */
    const nextAck: Effect.Effect<void> = Effect.async<void>((resume) => {
      let resumed = false
      const cancel = () => {
        resumed = true
        clearTimeout(timer)
        ackWaiters.delete(go)
      }
      const go = () => {
        if (resumed) return
        cancel()
        resume(Effect.void)
      }
      const timer = setTimeout(go, ACK_POLL_MS)
      ackWaiters.add(go)
      return Effect.sync(cancel)
    })

    /** Polls the answers until `done` holds, waiting for the next one in between. */
    const until = (done: () => boolean): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (done()) return Effect.void
        pollAcks()
        return done() ? Effect.void : Effect.zipRight(nextAck, until(done))
      })

    const stop = Effect.gen(function*() {
      const wasRunning = phase === "running"
      if (phase !== "failed") phase = "stopping"
      const worker = thread
      if (worker !== undefined) {
        // The write thread stops once it has written every batch before the stop.
        if (wasRunning) worker.postMessage({ _tag: "Stop" } satisfies Stop)
        else void worker.terminate()
        yield* Deferred.await(exited).pipe(
          Effect.timeoutTo({
            duration: STOP_TIMEOUT,
            onTimeout: () =>
              Effect.zipRight(
                Effect.logWarning("TelemetrySink: the write thread did not stop; terminating it"),
                Effect.ignore(Effect.tryPromise(() => worker.terminate()))
              ),
            onSuccess: () => Effect.void
          }),
          Effect.flatten
        )
      }
      pollAcks()
      acks.close()
      failPrunes("the write thread stopped")
    })

    // The agents' scavenges, for the write thread to keep its work out of their way (see `gcGate.ts`).
    const gate = yield* Effect.acquireRelease(Effect.sync(GcGate.observe), (gate) => Effect.sync(gate.stop))
    const launch = Effect.flatMap(
      entry,
      (paths) =>
        spawn({
          ...paths,
          gcGate: gate.shared,
          filename: options.filename,
          maxInFlight: MAX_IN_FLIGHT,
          acks: threadAcks,
          redaction: options.redaction
        })
    )
    yield* Effect.acquireRelease(
      Effect.catchAll(launch, (why) => Effect.sync(() => fail(why))),
      () => stop
    )
    yield* Deferred.await(started).pipe(
      Effect.timeout(START_TIMEOUT),
      Effect.catchTag("TimeoutException", () => Effect.sync(() => fail(`not ready after ${Duration.format(START_TIMEOUT)}`))),
      Effect.forkScoped
    )

    /** Waits for room: at most `MAX_IN_FLIGHT` batches out. False when the thread is gone. */
    const room: Effect.Effect<boolean> = until(() => phase !== "running" || pending.size < MAX_IN_FLIGHT).pipe(
      Effect.map(() => phase === "running")
    )

    /** Builds the rows here, then hands them over (or writes them here if the thread died meanwhile). */
    const prepareHere = (events: ReadonlyArray<TelemetryEvent>) =>
      Effect.gen(function*() {
        const { ms, rows } = yield* rowsOf(events)
        const ready = yield* room
        if (!ready || thread === undefined) return yield* fallback.writeRows(events.length, unpackRows(rows))
        handOver(thread, events.length, rows, ms)
      })

    const writer: ThreadWriter = {
      write: (events, urgent = false) =>
        Effect.gen(function*() {
          if (!(yield* Deferred.await(started))) return yield* fallback.write(events)
          const mode = sendMode(events)
          if (mode !== undefined) {
            // `SLICE` events per message, a turn of the event loop between two: each clone is a short pause.
            // Handed off under load, the batch goes in one message: besides the larger transactions, on a
            // saturated loop the writer runs seldom, and `MAX_IN_FLIGHT` slices of 100 a turn would cap
            // the sink far below its rate.
            const slice = mode === "whole" ? events.length : SLICE
            for (let at = 0; at < events.length; at += slice) {
              if (at > 0) yield* turn
              if (!(yield* room) || thread === undefined) return yield* fallback.write(events.slice(at))
              // A whole batch goes as it is, without a copy.
              const part = slice >= events.length ? events : events.slice(at, at + slice)
              if (!handOverEvents(thread, part, mode === "slices" && !urgent)) return yield* prepareHere(events.slice(at))
            }
            return
          }
          return yield* prepareHere(events)
        }),
      ready: Effect.asVoid(Deferred.await(started)),
      settle: Effect.suspend(() => {
        const upTo = nextId - 1
        return until(() => phase === "failed" || settledUpTo(upTo))
      }),
      prune: (plan) =>
        Effect.gen(function*() {
          if (!(yield* Deferred.await(started)) || phase !== "running" || thread === undefined) return undefined
          const id = nextPruneId++
          const answer = yield* Deferred.make<Outcome, string>()
          prunes.set(id, answer)
          thread.postMessage({ _tag: "Prune", id, plan } satisfies Prune)
          return yield* Deferred.await(answer).pipe(Effect.ensuring(Effect.sync(() => prunes.delete(id))))
        })
    }
    return writer
  })
