/**
 * Entry of the sink's write thread: a runtime edge of its own, like a `main`.
 * A failure of the stage (the file cannot be opened) is reported to the main
 * thread, which logs it and writes on its own connection instead.
 */
import { Cause, Effect, Exit } from "effect"
import { setPriority } from "node:os"
import { parentPort, workerData } from "node:worker_threads"
import { type Crashed, isWriteData } from "./protocol.js"
import * as WriteStage from "./writeStage.js"

/**
 * The thread asks for the lowest priority (nice 19; on Linux it applies to
 * this thread alone): when every core is busy, the agents' thread and its
 * garbage collector's helpers run first, and telemetry waits in the sink's
 * queue (full, it drops and counts). Agent runs with the full monitoring
 * stack beside monitoring off (2 cores, 6,000 runs each way, twice): p99
 * ratio 1.12 and 1.12 with it, 1.25 and 1.27 without; the sink's sustained
 * rate did not change (0.893 against 0.897 of the plain insert loop).
 * Where the system refuses, the thread keeps the normal priority. Only on
 * Linux: elsewhere (macOS, Windows) pid 0 names the whole process, which
 * would put the agents at nice 19 for the life of the process.
 */
const lowerPriority = () => {
  if (process.platform !== "linux") return
  try {
    setPriority(0, 19)
  } catch {
    // not permitted here: normal priority
  }
}

if (parentPort !== null) {
  lowerPriority()
  const parent = parentPort
  if (isWriteData(workerData)) {
    const acks = workerData.acks
    Effect.runFork(WriteStage.run(workerData, parent)).addObserver((exit) => {
      if (Exit.isFailure(exit)) {
        acks.postMessage({ _tag: "Crashed", reason: Cause.pretty(exit.cause) } satisfies Crashed)
        process.exitCode = 1
      }
      acks.close()
      parent.close()
    })
  } else {
    parent.postMessage({ _tag: "Crashed", reason: "write thread started without its settings" } satisfies Crashed)
    parent.close()
  }
}
