/**
 * The sink's prepare thread: redacts each batch and turns it into flat rows
 * for the write thread. Pure CPU work, in order, one batch at a time; the
 * redactor is built here from serialisable options (a `Redactor` holds
 * functions and cannot cross threads).
 */
import * as Redaction from "@patinox/core/Redaction"
import { parentPort, workerData } from "node:worker_threads"
import { prepare } from "./batch.js"
import { type Crashed, isPrepareData, type PreparedBatch, type Ready, type Stop, type ToPrepare } from "./protocol.js"

const start = () => {
  if (parentPort === null) return
  const parent = parentPort
  if (!isPrepareData(workerData)) {
    parent.postMessage({ _tag: "Crashed", reason: "prepare thread started without its settings" } satisfies Crashed)
    return parent.close()
  }
  const output = workerData.output
  let redactor: Redaction.Redactor
  try {
    redactor = Redaction.make(workerData.redaction)
  } catch (cause) {
    parent.postMessage({ _tag: "Crashed", reason: `invalid redaction options: ${String(cause)}` } satisfies Crashed)
    output.close()
    return parent.close()
  }
  parent.on("message", (message: ToPrepare) => {
    if (message._tag === "Stop") {
      // Everything before the stop has been forwarded: the write thread finishes it, then stops.
      output.postMessage({ _tag: "Stop" } satisfies Stop)
      output.close()
      return parent.close()
    }
    const started = performance.now()
    const rows = prepare(redactor, message.events)
    output.postMessage(
      {
        _tag: "Rows",
        id: message.id,
        count: message.events.length,
        rows,
        prepareMs: performance.now() - started
      } satisfies PreparedBatch
    )
  })
  // A batch that cannot be read would never be acknowledged: stop, so the sink counts it and writes inline.
  parent.on("messageerror", (error) => {
    parent.postMessage({ _tag: "Crashed", reason: `unreadable batch: ${String(error)}` } satisfies Crashed)
    process.exit(1)
  })
  parent.postMessage({ _tag: "Ready" } satisfies Ready)
}

start()
