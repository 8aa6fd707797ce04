/**
 * The main thread's side of the worker writer: starts the prepare and write
 * threads, hands them batches (at most `MAX_IN_FLIGHT` at a time), tallies
 * their acknowledgements, and stops them when the scope closes.
 */
import type * as Redaction from "@patinox/core/Redaction"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Deferred, Duration, Effect, Exit, FiberSet, Predicate, type Scope } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads"
import { describe } from "./batch.js"
import type { Batch, PrepareData, Stop, ToMain, WriteData } from "./protocol.js"
import type { Tally, Writer } from "./writer.js"

/**
 * Batches handed over and not yet acknowledged. Two keep both threads busy
 * (one being prepared, one being written); the rest absorb jitter. It bounds
 * the memory the threads hold, and what a crash can lose beyond the queue.
 */
export const MAX_IN_FLIGHT = 4
/** Module loading takes about a second; threads not ready after this are given up (the sink writes inline). */
const START_TIMEOUT = Duration.seconds(30)
/** After the stop: the write thread closes its connection, the threads exit. */
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

/** The stages' entries, and tsx's loader (resolved once) when they are TypeScript. */
const entries = Effect.try({
  try: () => {
    const tsx = extension === ".ts" ? tsxApi() : undefined
    const entry = (name: string) => ({ entry: new URL(`./${name}${extension}`, import.meta.url).href, tsx })
    return { prepare: entry("prepareWorker"), write: entry("writeWorker") }
  },
  catch: (cause) => `cannot locate the writer threads' entries: ${describe(cause)}`
})

interface Thread {
  readonly name: string
  readonly worker: Worker
  /** Completed by its `exit` event. */
  readonly exited: Deferred.Deferred<void>
}

export interface Options {
  readonly filename: string
  readonly redaction: Redaction.Options
  readonly tally: Tally
  /** Takes over when a thread fails to start or dies. */
  readonly fallback: Writer
}

/**
 * A `Writer` on two threads, for a SQLite file. Batches wait on the main
 * thread until both threads are ready; if either fails to start, or dies
 * later, the sink logs it, counts the batches it held as failed, and writes
 * on the main thread (`fallback`) from then on.
 */
export const make = (options: Options): Effect.Effect<Writer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { fallback, tally } = options
    const runFork = yield* FiberSet.makeRuntime<never>()
    const started = yield* Deferred.make<boolean>()
    const slot = yield* Effect.makeLatch(true)
    /** Events per batch handed over and not acknowledged, by id (ids rise, so the first key is the oldest). */
    const pending = new Map<number, number>()
    const waiters: Array<{ readonly upTo: number; readonly done: Deferred.Deferred<void> }> = []
    let phase: "starting" | "running" | "failed" | "stopping" = "starting"
    let nextId = 0
    let ready = 0
    let warnedJson = false
    const launchedAt = performance.now()

    const settledUpTo = (id: number) => {
      for (const first of pending.keys()) return first > id
      return true
    }
    const wake = () => {
      slot.unsafeOpen()
      for (let i = waiters.length - 1; i >= 0; i--) {
        const waiter = waiters[i]!
        if (phase === "failed" || settledUpTo(waiter.upTo)) {
          waiters.splice(i, 1)
          Deferred.unsafeDone(waiter.done, Exit.void)
        }
      }
    }

    const threads: Array<Thread> = []
    const reasons: Array<string> = []
    const fail = (why: string) => {
      if (phase === "failed" || phase === "stopping") return
      const wasStarting = phase === "starting"
      phase = "failed"
      let lost = 0
      for (const count of pending.values()) lost += count
      pending.clear()
      tally.failed += lost
      for (const thread of threads) void thread.worker.terminate()
      wake()
      Deferred.unsafeDone(started, Exit.succeed(false))
      const detail = reasons.length === 0 ? "" : `\n${reasons.join("\n")}`
      runFork(Effect.logError(
        wasStarting
          ? `TelemetrySink: the writer threads did not start (${why}); writing on the main thread${detail}`
          : `TelemetrySink: a writer thread stopped (${why}); ${lost} events in flight lost; ` +
            `writing on the main thread from now on${detail}`
      ))
    }

    const onMessage = (name: string) => (message: ToMain) => {
      switch (message._tag) {
        case "Ready": {
          if (phase !== "starting" || ++ready < threads.length) return
          phase = "running"
          Deferred.unsafeDone(started, Exit.succeed(true))
          const ms = Math.round(performance.now() - launchedAt)
          runFork(Effect.logDebug(`TelemetrySink: writer threads ready in ${ms} ms`))
          return
        }
        case "Crashed": {
          reasons.push(`${name}: ${message.reason}`)
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

    const spawn = (name: string, data: PrepareData | WriteData, port: MessagePort) =>
      Effect.gen(function*() {
        const exited = yield* Deferred.make<void>()
        const worker = yield* Effect.try({
          try: () => new Worker(bootstrap, { eval: true, workerData: data, transferList: [port] }),
          catch: (cause) => `cannot start the ${name} thread: ${describe(cause)}`
        })
        threads.push({ name, worker, exited })
        worker.on("message", onMessage(name))
        worker.on("error", (error) => {
          reasons.push(`${name}: ${describe(error)}`)
        })
        worker.on("exit", (code) => {
          Deferred.unsafeDone(exited, Exit.void)
          fail(`the ${name} thread exited with code ${code}`)
        })
        return worker
      })

    /**
     * Hands the batch to the prepare thread. A batch structured clone refuses
     * (a function somewhere in a payload) goes as JSON, which keeps what the
     * stored payload would hold anyway; an event JSON refuses too (a cycle
     * with a function, a `BigInt`) is counted as failed.
     */
    const handOver = (prepareThread: Worker, events: ReadonlyArray<TelemetryEvent>): "cloned" | "json" => {
      const id = nextId++
      pending.set(id, events.length)
      try {
        prepareThread.postMessage({ _tag: "Batch", id, events } satisfies Batch)
        return "cloned"
      } catch {
        const plain: Array<TelemetryEvent> = []
        for (const event of events) {
          try {
            plain.push(JSON.parse(JSON.stringify(event)))
          } catch {
            tally.failed++
          }
        }
        try {
          if (plain.length === 0) pending.delete(id)
          else {
            pending.set(id, plain.length)
            prepareThread.postMessage({ _tag: "Batch", id, events: plain } satisfies Batch)
          }
        } catch {
          pending.delete(id)
          tally.failed += plain.length
        }
        return "json"
      }
    }

    const stop = Effect.gen(function*() {
      const wasRunning = phase === "running"
      if (phase !== "failed") phase = "stopping"
      const prepareThread = threads[0]
      // The prepare thread passes the stop on after its backlog; the write thread stops after its own.
      if (wasRunning && prepareThread !== undefined) prepareThread.worker.postMessage({ _tag: "Stop" } satisfies Stop)
      else for (const thread of threads) void thread.worker.terminate()
      for (const thread of threads) {
        yield* Deferred.await(thread.exited).pipe(
          Effect.timeoutTo({
            duration: STOP_TIMEOUT,
            onTimeout: () =>
              Effect.zipRight(
                Effect.logWarning(`TelemetrySink: the ${thread.name} thread did not stop; terminating it`),
                Effect.ignore(Effect.tryPromise(() => thread.worker.terminate()))
              ),
            onSuccess: () => Effect.void
          }),
          Effect.flatten
        )
      }
    })

    const launch = Effect.gen(function*() {
      const { prepare: prepareEntry, write: writeEntry } = yield* entries
      const { port1, port2 } = new MessageChannel()
      yield* spawn("prepare", { ...prepareEntry, redaction: options.redaction, output: port1 }, port1)
      yield* spawn("write", { ...writeEntry, filename: options.filename, input: port2, maxInFlight: MAX_IN_FLIGHT }, port2)
    })
    yield* Effect.acquireRelease(
      Effect.catchAll(launch, (why) => Effect.sync(() => fail(why))),
      () => stop
    )
    yield* Deferred.await(started).pipe(
      Effect.timeout(START_TIMEOUT),
      Effect.catchTag("TimeoutException", () => Effect.sync(() => fail(`not ready after ${Duration.format(START_TIMEOUT)}`))),
      Effect.forkScoped
    )

    /** Waits for room: at most `MAX_IN_FLIGHT` batches out. False when the threads are gone. */
    const room: Effect.Effect<boolean> = Effect.suspend(() => {
      if (phase !== "running") return Effect.succeed(false)
      if (pending.size < MAX_IN_FLIGHT) return Effect.succeed(true)
      slot.unsafeClose()
      return Effect.zipRight(slot.await, room)
    })

    const writer: Writer = {
      write: (events) =>
        Effect.gen(function*() {
          const ready = (yield* Deferred.await(started)) && (yield* room)
          const prepareThread = threads[0]?.worker
          if (!ready || prepareThread === undefined) {
            return yield* fallback.write(events)
          }
          if (handOver(prepareThread, events) === "json" && !warnedJson) {
            warnedJson = true
            yield* Effect.logWarning(
              "TelemetrySink: an event holds a value that cannot be cloned to the writer thread (a function?); " +
                "such batches go as JSON"
            )
          }
        }),
      settle: Effect.suspend(() => {
        const upTo = nextId - 1
        if (settledUpTo(upTo)) return Effect.void
        return Effect.flatMap(Deferred.make<void>(), (done) =>
          Effect.suspend(() => {
            if (settledUpTo(upTo)) return Effect.void
            waiters.push({ upTo, done })
            return Deferred.await(done)
          }))
      })
    }
    return writer
  })
