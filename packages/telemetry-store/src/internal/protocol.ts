/**
 * The messages between the sink (main thread) and its write thread. Every
 * batch gets an id on the main thread and exactly one `Done` from the write
 * thread, in order.
 *
 *   main ──Rows/Events/Prune/Stop──▶ write ──Ready/Done/Pruned/Crashed──▶ main
 *
 * A `Prune` (retention's deletes) gets exactly one `Pruned`, unless the
 * thread stops first.
 */
import type * as Redaction from "@patinox/core/Redaction"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Predicate } from "effect"
import type { MessagePort } from "node:worker_threads"
import type { Rows } from "./batch.js"
import type * as GcGate from "./gcGate.js"
import { type PackedCells, unpack } from "./packedCells.js"
import type { Outcome, Plan } from "./prune.js"

export interface Stop {
  readonly _tag: "Stop"
}

/** `Rows` packed for the hop between threads. */
export interface PackedRows {
  readonly events: PackedCells
  readonly alerts: PackedCells
  readonly failed: number
  readonly failure: string | undefined
}

/** The rows as the main thread's writer takes them. */
export const unpackRows = (rows: PackedRows): Rows => ({ ...rows, events: unpack(rows.events), alerts: unpack(rows.alerts) })

export interface PreparedBatch {
  readonly _tag: "Rows"
  readonly id: number
  /** Events in the batch as offered, `rows.failed` included. */
  readonly count: number
  readonly rows: PackedRows
  /** Redaction and row building on the main thread, in milliseconds. */
  readonly prepareMs: number
}

/**
 * A batch as it was offered, for the write thread to redact and turn into
 * rows itself: sent while that thread has room to spare (see `threads.ts`).
 * Only events whose every value survives a structured clone as JSON would
 * see it (`portable.ts`) travel this way.
 */
export interface EventsBatch {
  readonly _tag: "Events"
  readonly id: number
  readonly events: ReadonlyArray<TelemetryEvent>
  /**
   * Sent while the write thread keeps up (a slice): it may wait for the
   * agents' next scavenge before writing it (see `gcGate.ts`). Never under
   * load.
   */
  readonly mayWait: boolean
}

/** Retention's deletes, to run on the write thread's connection between its batches. */
export interface Prune {
  readonly _tag: "Prune"
  readonly id: number
  readonly plan: Plan
}

export interface Pruned {
  readonly _tag: "Pruned"
  readonly id: number
  /** Absent when the prune failed. */
  readonly outcome: Outcome | undefined
  readonly failure: string | undefined
}

export interface Ready {
  readonly _tag: "Ready"
}

export interface Done {
  readonly _tag: "Done"
  readonly id: number
  readonly written: number
  readonly failed: number
  readonly failure: string | undefined
  /** Prepare and insert time of the batch. */
  readonly ms: number
  /** Commit time, epoch ms. */
  readonly at: number
}

/** The thread's own start-up or run failed; it exits after sending it. */
export interface Crashed {
  readonly _tag: "Crashed"
  readonly reason: string
}

export type ToWrite = PreparedBatch | EventsBatch | Prune | Stop
export type ToMain = Ready | Done | Pruned | Crashed

/** `workerData` of the write thread: how to load its entry, and its settings. */
export interface WriteData {
  /** File URL of tsx's ESM API when the entry is TypeScript. */
  readonly tsx: string | undefined
  /** File URL of the entry module. */
  readonly entry: string
  readonly filename: string
  /** Most batches the sink has in flight at once, so the inbox never holds more. */
  readonly maxInFlight: number
  /** Where the thread's answers go (ready, done, crashed). */
  readonly acks: MessagePort
  /** The main thread's scavenges (see `gcGate.ts`), on shared memory. */
  readonly gcGate: GcGate.Shared
  /**
   * The sink's redaction, for the batches sent as `Events`. Absent when the
   * sink was given a ready-made redactor (functions do not cross threads):
   * every batch then comes as `Rows`.
   */
  readonly redaction: Redaction.Options | undefined
}

/** What the main thread accepts from the write thread (anything else is ignored). */
export const isToMain = (u: unknown): u is ToMain =>
  Predicate.isRecord(u) &&
  (u["_tag"] === "Ready" || u["_tag"] === "Done" || u["_tag"] === "Pruned" || u["_tag"] === "Crashed")

const isPort = (u: unknown): u is MessagePort =>
  Predicate.isRecord(u) && typeof u["postMessage"] === "function" && typeof u["close"] === "function"

export const isWriteData = (u: unknown): u is WriteData =>
  Predicate.isRecord(u) && typeof u["filename"] === "string" && typeof u["maxInFlight"] === "number" &&
  isPort(u["acks"])
