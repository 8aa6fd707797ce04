/**
 * The messages between the sink (main thread), its prepare thread and its
 * write thread. Every batch gets an id on the main thread and exactly one
 * `Done` from the write thread, in order.
 *
 *   main ──Batch/Stop──▶ prepare ──Rows/Stop──▶ write ──Done──▶ main
 *   prepare, write ──Ready/Crashed──▶ main
 */
import type * as Redaction from "@patinox/core/Redaction"
import { Predicate } from "effect"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import type { MessagePort } from "node:worker_threads"
import type { Rows } from "./batch.js"

export interface Batch {
  readonly _tag: "Batch"
  readonly id: number
  readonly events: ReadonlyArray<TelemetryEvent>
}

export interface Stop {
  readonly _tag: "Stop"
}

export interface PreparedBatch {
  readonly _tag: "Rows"
  readonly id: number
  /** Events in the batch as offered, `rows.failed` included. */
  readonly count: number
  readonly rows: Rows
  readonly prepareMs: number
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

/** A stage's own start-up or run failed; the thread exits after sending it. */
export interface Crashed {
  readonly _tag: "Crashed"
  readonly reason: string
}

export type ToPrepare = Batch | Stop
export type ToWrite = PreparedBatch | Stop
export type ToMain = Ready | Done | Crashed

/** `workerData` of both stages: how to load the entry, and the stage's own settings. */
export interface Bootstrap {
  /** File URL of tsx's ESM API when the entry is TypeScript. */
  readonly tsx: string | undefined
  /** File URL of the stage's entry module. */
  readonly entry: string
}

export interface PrepareData extends Bootstrap {
  readonly redaction: Redaction.Options
  /** To the write stage. */
  readonly output: MessagePort
}

export interface WriteData extends Bootstrap {
  readonly filename: string
  /** From the prepare stage. */
  readonly input: MessagePort
  /** Most batches the sink has in flight at once, so the inbox never holds more. */
  readonly maxInFlight: number
}

const isPort = (u: unknown): u is MessagePort =>
  Predicate.isRecord(u) && typeof u["postMessage"] === "function" && typeof u["on"] === "function"

export const isPrepareData = (u: unknown): u is PrepareData =>
  Predicate.isRecord(u) && isPort(u["output"]) && Predicate.isRecord(u["redaction"])

export const isWriteData = (u: unknown): u is WriteData =>
  Predicate.isRecord(u) && isPort(u["input"]) && typeof u["filename"] === "string" && typeof u["maxInFlight"] === "number"
