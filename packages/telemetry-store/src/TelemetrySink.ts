/**
 * Writes telemetry events to the store without ever holding up the code that
 * reports them.
 *
 * `offer` puts the event in a bounded queue and returns; when the queue is
 * full the event is dropped and counted. A fiber of the layer's scope takes
 * the queued events in batches, as soon as `batchSize` are waiting or every
 * `flushIntervalMs` otherwise; closing the scope writes whatever is left.
 * Each batch is redacted and turned into rows on the main thread; given the
 * store's `filename`, the rows go to a write thread with its own connection,
 * which inserts them (batches waiting together commit in one transaction)
 * and runs retention's deletes (`TelemetryStore`). Without a filename (or
 * for `:memory:`), batches are inserted on the main thread through the
 * `SqlClient` in context.
 *
 * Crash bound: a process crash loses at most the queue (`queueCapacity`) and
 * the batches in flight (8 at most on the thread, 1 inline); a committed
 * batch survives (WAL, `synchronous = NORMAL`). Write failures are logged
 * and counted in `stats.failed`. If the thread fails to start or dies, the
 * sink logs it, counts the batches it held as failed, and writes inline.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Monitor from "@patinox/core/Monitor"
import * as Redaction from "@patinox/core/Redaction"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Chunk, Context, Effect, Layer, Option, Queue, type Scope } from "effect"
import * as WriteThread from "./internal/writeThread.js"
import * as Writer from "./internal/writer.js"
import type * as Retention from "./Retention.js"

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
  /** Batches committed (batches committed together count one each). */
  readonly batches: number
  /** Events waiting in the queue now (not counting the batches in flight). */
  readonly queued: number
  /** Redaction, rows and insert time of the last committed batch, in milliseconds. */
  readonly lastFlushMs: number
  /** When the last batch was committed (epoch ms), 0 before the first. */
  readonly lastFlushAt: number
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
   * The SQLite file the `SqlClient` in context has open (migrated). With it,
   * the sink writes on a thread of its own; without it (or for `:memory:`),
   * on the main thread through the `SqlClient`.
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
    // An invalid custom pattern is a defect here; `TelemetryStore.layer` checks them first, with a typed error.
    const redactor = options.redactor ??
      (options.redaction === undefined ? Redaction.defaultRedactor : yield* Effect.sync(() => Redaction.make(options.redaction)))

    const queue = yield* Queue.dropping<TelemetryEvent>(queueCapacity)
    const queued = () => Option.getOrElse(queue.unsafeSize(), () => 0)
    const batchReady = yield* Effect.makeLatch(false)
    const writing = yield* Effect.makeSemaphore(1)
    const tally = Writer.emptyTally()
    let dropped = 0

    const inline = Writer.inline(sql, redactor, tally)
    const filename = options.filename
    // Acquired before the writer fiber starts, so the thread stops only after the final drain.
    const thread = filename !== undefined && !inMemory(filename)
      ? yield* WriteThread.make({
        filename,
        redactor,
        tally,
        fallback: inline
      })
      : undefined
    const writer: Writer.Writer = thread ?? inline

    /** Hands over batches until the queue is empty; one writer at a time. */
    const drain = writing.withPermits(1)(Effect.gen(function*() {
      while (queued() > 0) {
        // A batch taken off the queue is handed over whole, even during shutdown.
        yield* Effect.uninterruptible(Effect.flatMap(Queue.takeUpTo(queue, batchSize), (batch) =>
          writer.write(Chunk.toReadonlyArray(batch))))
      }
    }))

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
      if (!Queue.unsafeOffer(queue, event)) dropped++
      else if (queued() >= batchSize) batchReady.unsafeOpen()
    }

    const service: Service = {
      // Not an `Effect.fn`: this runs for every event on every agent's hot
      // path, where a span per call would cost more than the call itself.
      offer: (event) => Effect.sync(() => enqueue(event)),
      offerAll: (events) =>
        Effect.sync(() => {
          for (const event of events) enqueue(event)
        }),
      flush: Effect.withSpan(Effect.zipRight(drain, writer.settle), "TelemetrySink.flush"),
      ready: writer.ready,
      stats: Effect.sync(() => ({
        written: tally.written,
        dropped,
        failed: tally.failed,
        batches: tally.batches,
        queued: queued(),
        lastFlushMs: tally.lastFlushMs,
        lastFlushAt: tally.lastFlushAt
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
