/**
 * Writes telemetry events to the store without ever holding up the code that
 * reports them.
 *
 * `offer` puts the event in a bounded in-memory queue and returns; when the
 * queue is full the event is dropped and counted. A background fiber owned by
 * the layer's scope takes the queued events in batches, as soon as
 * `batchSize` events are waiting, or every `flushIntervalMs` otherwise, and
 * each batch is redacted and written in one transaction. Closing the scope
 * writes whatever is left.
 *
 * Where the work happens: given the store's `filename`, the inserts run on a
 * thread of their own, at the lowest OS priority (nice 19), with their own
 * connection to the file (WAL; the `SqlClient` in context keeps migrations
 * and queries; `TelemetryStore` runs retention's deletes on this thread
 * too). While that thread keeps up (fewer than 2 batches
 * in flight, no other full batch waiting in the queue), each batch goes to
 * it as it was offered (structured clones of 100 events here: 0.6-0.9 µs
 * per event in a micro-benchmark, 1.5-1.7 µs among agent runs, where the
 * events have left the cache) and it
 * redacts the events and builds their rows itself; `stats.preparedOnThread`
 * counts those events. Once it falls behind, or batches queue up, the main thread redacts each
 * batch and builds its rows (about 2 µs per event), in slices of 100 events
 * with a turn of the event loop between them (no turns while the queue is
 * half full or more: then draining comes first), and moves them to the
 * write thread packed (one string and two buffers), so that thread only
 * inserts. Unless the main thread is busy with other work (the agents):
 * above `handOffAboveLoad` of its time, every batch goes as it was offered
 * even while batches queue up (one clone per batch), and the write thread
 * prepares and inserts: the agents keep the time, and the sink may write
 * fewer events per second (on the store bench's events, 0.55 to 0.69 of
 * the plain insert loop instead of 0.88 to 1.04). A batch with a
 * context value a clone would change (a class
 * instance, a `Date`, a function) is always prepared on the main thread, as
 * is every batch of a sink given a ready-made `redactor`. At most
 * `MAX_IN_FLIGHT` (8) batches are in
 * flight; batches waiting together commit in one transaction. While it
 * keeps up, the write thread starts a batch only in the first half of the
 * time between two of the main thread's scavenges (waiting at most 50 ms),
 * since its work on the other core lengthens them, and a batch that comes in
 * the 3 ms after one waits while the agent run it fell in finishes (see `internal/gcGate.ts`). `flush` and
 * the final drain wait for the write thread to acknowledge them, and the
 * stats follow those acknowledgements; a sink that waits reads the
 * acknowledgements from their channel itself, so an event loop kept busy by
 * timers (which then seldom reaches its I/O phase) does not stall it. The
 * thread takes about a second to start; offers queue meanwhile. The store
 * must be migrated before (the store's layer does it first).
 * Without a filename (or for `:memory:`), everything runs on the main thread,
 * through the `SqlClient` in context.
 *
 * Crash bound: a process crash loses at most the events still in the queue
 * (at most `queueCapacity`) plus the batches in flight (inline: the one being
 * written; with the thread: at most 8 handed over and not yet committed, each
 * at most `batchSize`); a committed batch survives (WAL,
 * `synchronous = NORMAL`). Write failures are logged and counted in
 * `stats.failed`; the writer keeps going. If the thread fails to start, the
 * sink logs it and writes inline from the start; if it dies later, the
 * batches it held are logged and counted as failed, and the sink writes
 * inline from then on. Neither fails the layer.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Monitor from "@patinox/core/Monitor"
import * as Redaction from "@patinox/core/Redaction"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Context, Effect, Layer, type Scope } from "effect"
import * as BoundedQueue from "./internal/boundedQueue.js"
import type * as Retention from "./Retention.js"
import * as Threads from "./internal/threads.js"
import * as Writer from "./internal/writer.js"

/** @since 0.1.0 @category models */
export interface Stats {
  /** Events committed to the database (on threads: as the write thread acknowledged them). */
  readonly written: number
  /** Events refused because the queue was full. */
  readonly dropped: number
  /**
   * Events lost: their batch failed to write, they could not be serialised,
   * or they were in flight when a writer thread died.
   */
  readonly failed: number
  /** Batches committed (one the write thread prepares itself counts once per slice of 100 events sent). */
  readonly batches: number
  /** Events waiting in the queue now (on threads: not counting the batches in flight). */
  readonly queued: number
  /** Redaction, rows and insert time of the last committed batch, in milliseconds. */
  readonly lastFlushMs: number
  /** When the last batch was committed (epoch ms), 0 before the first. */
  readonly lastFlushAt: number
  /**
   * Events the write thread redacted and turned into rows itself (sent as
   * they were offered, while it kept up); the others were prepared on the
   * main thread.
   */
  readonly preparedOnThread: number
}

/** @since 0.1.0 @category models */
export interface Service {
  /** Queues the event; never waits, never fails. */
  readonly offer: (event: TelemetryEvent) => Effect.Effect<void>
  /** Queues the events, in order, as `offer` does each: one effect for a whole batch from a bus consumer. */
  readonly offerAll: (events: ReadonlyArray<TelemetryEvent>) => Effect.Effect<void>
  /** Writes everything queued now, and waits for it. */
  readonly flush: Effect.Effect<void>
  /**
   * Waits until a `flush` can commit at once: the write thread has started
   * (about a second after the layer) or was given up for inline writes.
   */
  readonly ready: Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
}

/** @since 0.1.0 @category tags */
export class TelemetrySink extends Context.Tag("@patinox/telemetry-store/TelemetrySink")<TelemetrySink, Service>() {}

/** @since 0.1.0 @category models */
export interface Options {
  /** Events per transaction, and the queue length that triggers a write. Default 500. */
  readonly batchSize?: number | undefined
  /** Longest time an event waits in the queue under light load. Default 1000. */
  readonly flushIntervalMs?: number | undefined
  /** Events held in memory before new ones are dropped. Default 10 000. */
  readonly queueCapacity?: number | undefined
  /**
   * The SQLite file the `SqlClient` in context has open. With it, the sink
   * inserts on a thread of its own; without it (or for `:memory:`), on the
   * main thread through the `SqlClient`.
   */
  readonly filename?: string | undefined
  /**
   * Redaction applied to every event before it is written. Default: the
   * built-in detectors.
   */
  readonly redaction?: Redaction.Options | undefined
  /**
   * A ready-made redactor, instead of `redaction`.
   */
  readonly redactor?: Redaction.Redactor | undefined
  /**
   * With a write thread: the share (0..1) of the main thread's time, taken
   * by other work than the sink's (the agents), above which the sink leaves
   * redacting and building rows to the write thread even while batches
   * queue up. The agents keep that time; the sink may write fewer events
   * per second (for events with much to redact), and drops (counts) the
   * rest. Below it, a sink falling behind builds the rows on the main
   * thread, for its full rate. Default 0.5; 1 never hands off for load.
   */
  readonly handOffAboveLoad?: number | undefined
}

const positiveInt = (name: string, value: number) =>
  Number.isInteger(value) && value > 0
    ? Effect.succeed(value)
    : Effect.dieMessage(`TelemetrySink ${name} must be a positive integer, got ${value}`)

const inMemory = (filename: string) => filename === "" || filename === ":memory:" || filename.startsWith("file::memory:")

/**
 * Starts the writer in the current scope; the scope's close writes the rest,
 * then stops the write thread if there is one.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.map(makeRouted(options), ({ service }) => service)

/**
 * `make`, and where retention's deletes can run off the main thread: the
 * write thread's connection, when the sink has one.
 *
 * @internal
 */
export const makeRouted = (
  options: Options = {}
): Effect.Effect<
  { readonly service: Service; readonly route: Retention.Route | undefined },
  never,
  SqlClient.SqlClient | Scope.Scope
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const batchSize = yield* positiveInt("batchSize", options.batchSize ?? 500)
    const queueCapacity = yield* positiveInt("queueCapacity", options.queueCapacity ?? 10_000)
    const flushIntervalMs = yield* positiveInt("flushIntervalMs", options.flushIntervalMs ?? 1_000)
    const handOffAboveLoad = options.handOffAboveLoad ?? 0.5
    if (!(handOffAboveLoad >= 0 && handOffAboveLoad <= 1)) {
      return yield* Effect.dieMessage(`TelemetrySink handOffAboveLoad must be between 0 and 1, got ${handOffAboveLoad}`)
    }
    // An invalid custom pattern is a defect here; `TelemetryStore.layer` checks them first, with a typed error.
    const redactor = options.redactor ??
      (options.redaction === undefined ? Redaction.defaultRedactor : yield* Effect.sync(() => Redaction.make(options.redaction)))

    const queue = BoundedQueue.make<TelemetryEvent>(queueCapacity)
    const batchReady = yield* Effect.makeLatch(false)
    const writing = yield* Effect.makeSemaphore(1)
    const tally = Writer.emptyTally()
    let dropped = 0

    const inline = Writer.inline(sql, redactor, tally)
    const filename = options.filename
    // Acquired before the writer fiber starts, so the threads stop only after the final drain.
    const thread = filename !== undefined && !inMemory(filename)
      ? yield* Threads.make({
        filename,
        redactor,
        // A ready-made redactor cannot cross to the thread: then every batch is prepared here.
        redaction: options.redactor === undefined ? options.redaction ?? {} : undefined,
        tally,
        fallback: inline,
        behind: () => queue.length() * 2 >= queueCapacity,
        backlog: () => queue.length() >= batchSize,
        handOffAboveLoad
      })
      : undefined
    const writer: Writer.Writer = thread ?? inline

    /**
     * Hands over batches until the queue is empty; one writer at a time.
     * `urgent` for a flush: its caller waits, so its batches skip the write
     * thread's wait between the agents' scavenges.
     */
    const drainWith = (urgent: boolean) => writing.withPermits(1)(Effect.gen(function*() {
      while (queue.length() > 0) {
        // A batch taken off the queue is handed over whole, even during shutdown.
        yield* Effect.uninterruptible(Effect.suspend(() => writer.write(queue.takeUpTo(batchSize), urgent)))
      }
    }))
    const drain = drainWith(false)

    const loop = Effect.gen(function*() {
      while (true) {
        yield* Effect.raceFirst(batchReady.await, Effect.sleep(flushIntervalMs))
        batchReady.unsafeClose()
        yield* drain
      }
    })

    yield* Effect.forkScoped(Effect.interruptible(loop))
    // Registered after the fork, so it runs before the loop is interrupted.
    yield* Effect.addFinalizer(() => Effect.zipRight(drain, writer.settle))

    const enqueue = (event: TelemetryEvent) => {
      if (queue.offer(event)) {
        if (queue.length() >= batchSize) batchReady.unsafeOpen()
      } else {
        dropped++
      }
    }

    const service: Service = {
      // Not an `Effect.fn`: this runs for every event on every agent's hot
      // path, where a span per call would cost more than the call itself.
      offer: (event) => Effect.sync(() => enqueue(event)),
      offerAll: (events) =>
        Effect.sync(() => {
          for (let i = 0; i < events.length; i++) enqueue(events[i]!)
        }),
      flush: Effect.withSpan(Effect.zipRight(drainWith(true), writer.settle), "TelemetrySink.flush"),
      ready: writer.ready,
      stats: Effect.sync(() => ({
        written: tally.written,
        dropped,
        failed: tally.failed,
        batches: tally.batches,
        queued: queue.length(),
        lastFlushMs: tally.lastFlushMs,
        lastFlushAt: tally.lastFlushAt,
        preparedOnThread: tally.preparedOnThread
      }))
    }
    return { service, route: thread?.prune }
  })

/** @since 0.1.0 @category layers */
export const layer = (options: Options = {}): Layer.Layer<TelemetrySink, never, SqlClient.SqlClient> =>
  Layer.scoped(TelemetrySink, make(options))

/**
 * A `Monitor` that sends every event to the sink.
 *
 * @since 0.1.0 @category layers
 */
export const layerMonitor: Layer.Layer<Monitor.Monitor, never, TelemetrySink> = Layer.effect(
  Monitor.Monitor,
  Effect.map(TelemetrySink, (sink): Monitor.Service => ({ record: sink.offer }))
)
