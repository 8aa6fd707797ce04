/**
 * The messages between the sink (main thread) and its write thread. Every
 * batch gets an id on the main thread and exactly one `Done`, in order; a
 * `Prune` gets exactly one `Pruned`, unless the thread stops first.
 *
 *   main ──Write/Prune/Stop──▶ write thread ──Ready/Done/Pruned/Crashed──▶ main
 */
import { Predicate } from "effect"
import type { MessagePort } from "node:worker_threads"
import type { Rows } from "./batch.js"
import type { Outcome, Plan } from "./prune.js"

/** A batch's rows, redacted and built on the main thread, for the write thread to insert. */
export interface Write {
  readonly _tag: "Write"
  readonly id: number
  /** Events in the batch as offered, `rows.failed` included. */
  readonly count: number
  readonly rows: Rows
  /** Redaction and row building on the main thread, in milliseconds. */
  readonly prepareMs: number
}

/** Retention's deletes, to run on the write thread's connection between its batches. */
export interface Prune {
  readonly _tag: "Prune"
  readonly id: number
  readonly plan: Plan
}

export interface Stop {
  readonly _tag: "Stop"
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
  /** Redaction and rows (main thread) plus insert time (write thread) of the batch. */
  readonly ms: number
  /** Commit time, epoch ms. */
  readonly at: number
}

export interface Pruned {
  readonly _tag: "Pruned"
  readonly id: number
  /** Absent when the prune failed. */
  readonly outcome: Outcome | undefined
  readonly failure: string | undefined
}

/** The thread's own start-up or run failed; it exits after sending it. */
export interface Crashed {
  readonly _tag: "Crashed"
  readonly reason: string
}

export type ToWrite = Write | Prune | Stop
export type ToMain = Ready | Done | Pruned | Crashed

/** `workerData` of the write thread: how to load its entry, and its settings. */
export interface WriteData {
  /** File URL of tsx's ESM API when the entry is TypeScript (running from sources). */
  readonly tsx: string | undefined
  /** File URL of the entry module. */
  readonly entry: string
  readonly filename: string
  /** Most batches the sink has in flight at once, so the inbox never holds more. */
  readonly maxInFlight: number
  /** Where the thread's answers go: a channel of their own, which the main thread can also read synchronously. */
  readonly acks: MessagePort
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
