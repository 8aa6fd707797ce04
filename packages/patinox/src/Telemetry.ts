/**
 * The service's embedded monitoring: one SQLite file (WAL) for the
 * telemetry store and the knowledge base, the event bus as the agents'
 * `Monitor` with its async monitors, and a feed from the bus into the
 * batched SQLite sink. Shutdown runs in reverse: the feed stops, the sink
 * flushes its last batch, then the database closes.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { EventBus, Monitoring } from "@patinox/monitoring"
import { TelemetrySink, TelemetryStore } from "@patinox/telemetry-store"
import { Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type { PatinoxConfig } from "./PatinoxConfig.js"
import * as Durability from "./Durability.js"

/** The service's SQLite file, created with its folder if missing. */
export const databaseLayer = (path: string) =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true })
      return SqliteClient.layer({ filename: path })
    })
  )

/** The bus consumer that feeds the sink (its misses are in `EventBus.stats`'s `consumers` under this name). */
export const feedName = Durability.feedName

/**
 * Every event the bus carries goes to the sink, a batch at a time; `offer`
 * never waits, so neither does the bus. On shutdown the feed hands over what
 * is still on the bus before the sink's last flush.
 */
const feed = Layer.scopedDiscard(
  Effect.gen(function*() {
    const bus = yield* EventBus.EventBus
    const sink = yield* TelemetrySink.TelemetrySink
    yield* bus.consume(
      (events) => sink.offerAll(events),
      { name: feedName, batchSize: 1024 }
    )
  })
)

/**
 * Monitoring and the telemetry store, on the SqlClient in context, which has
 * `filename` open (default: the config file's `database.path`). With a file,
 * the sink's inserts run on a thread of its own, off the agents' loop.
 */
export const layer = (file: PatinoxConfig, filename: string = file.database.path) =>
  Layer.merge(feed, Durability.layer({ enabled: file.telemetry.durable })).pipe(
    Layer.provideMerge(
      Layer.merge(
        Monitoring.layer(file.monitoring),
        TelemetryStore.layer(file.telemetry, { filename })
      )
    ),
    Layer.provideMerge(flushed)
  )

/** Built before the store, so released after its last flush: the shutdown log's last step. */
const flushed = Layer.scopedDiscard(Effect.addFinalizer(() => Effect.logInfo("Telemetry flushed")))
