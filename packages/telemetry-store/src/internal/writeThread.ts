/**
 * The main thread's side of the write thread: redacts each batch and builds
 * its rows, posts them (at most `MAX_IN_FLIGHT` batches at a time), tallies
 * the thread's acknowledgements, and stops it when the scope closes. The
 * rows are built here so that building and inserting run on two cores: the
 * thread alone, doing both, wrote about 0.6 of the plain insert loop.
 */
import type * as Redaction from "@patinox/core/Redaction"
import { Deferred, Duration, Effect, Exit, FiberSet, Predicate, type Scope } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads"
import { describe, prepare } from "./batch.js"
import { isToMain, type Prune, type Stop, type Write, type WriteData } from "./protocol.js"
import type { Outcome, Plan } from "./prune.js"
import type { Tally, Writer } from "./writer.js"

/**
 * Batches posted and not yet acknowledged: enough that the write thread
 * always has the next one (and commits those waiting together); it bounds
 * the memory the thread holds, and what a crash can lose beyond the queue.
 */
export const MAX_IN_FLIGHT = 8
/** How often (ms) a writer waiting for room reads the answers' channel itself. */
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

/**
 * File URL of tsx's ESM API, for running from sources only (tests, benches):
 * tsx is a dev dependency, resolved here and nowhere else.
 */
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

/**
 * Run from sources, `PATINOX_WRITE_WORKER` may name the thread's entry bundled as one
 * JavaScript file (the test runs set it): through tsx, each thread loaded every module
 * through tsx's hooks, 2-4 s a start on two shared cores, where the bundle takes well under one.
 */
const bundledEntry = (): string | undefined => {
  const file = process.env["PATINOX_WRITE_WORKER"]
  return extension === ".ts" && file !== undefined && file !== "" ? pathToFileURL(file).href : undefined
}

/** The write thread's entry, and tsx's loader when it is TypeScript. */
const entry = Effect.try({
  try: () => {
    const bundled = bundledEntry()
    return bundled !== undefined ? { entry: bundled, tsx: undefined } : {
      entry: new URL(`./writeWorker${extension}`, import.meta.url).href,
      tsx: extension === ".ts" ? tsxApi() : undefined
    }
  },
  catch: (cause) => `cannot locate the write thread's entry: ${describe(cause)}`
})

export interface Options {
  readonly filename: string
  readonly redactor: Redaction.Redactor
  readonly tally: Tally
  /** Takes over when the thread fails to start or dies. */
  readonly fallback: Writer
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
    /** Events per batch posted and not acknowledged, by id (ids rise, so the first key is the oldest). */
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
          if (!pending.delete(message.id)) return // counted as failed when the thread died
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
     * Reads the answers already sent, without waiting for the event loop to
     * deliver them: a loop kept busy by back-to-back timers seldom reaches
     * the phase where they are delivered, and the sink would stall with its
     * batches acknowledged but unread.
     */
    const pollAcks = () => {
      for (let received = receiveMessageOnPort(acks); received !== undefined; received = receiveMessageOnPort(acks)) {
        onMessage(received.message)
      }
    }
    /**
     * The next acknowledgement, or `ACK_POLL_MS` on the real clock (timers
     * run even on a saturated loop). Plain callbacks rather than a race of
     * fibers: the writer waits inside an uninterruptible region, where a
     * race's loser cannot be interrupted and would hold the winner back.
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

    const launch = Effect.flatMap(entry, (paths) =>
      spawn({
        ...paths,
        filename: options.filename,
        maxInFlight: MAX_IN_FLIGHT,
        acks: threadAcks
      }))
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

    const writer: ThreadWriter = {
      write: (events) =>
        Effect.gen(function*() {
          if (!(yield* Deferred.await(started)) || !(yield* room) || thread === undefined) {
            return yield* fallback.write(events)
          }
          const t0 = performance.now()
          const rows = prepare(options.redactor.event, events)
          const id = nextId++
          pending.set(id, events.length)
          // Rows are strings, numbers and nulls only: the clone cannot refuse them.
          thread.postMessage(
            { _tag: "Write", id, count: events.length, rows, prepareMs: performance.now() - t0 } satisfies Write
          )
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
