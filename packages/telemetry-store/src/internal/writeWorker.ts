/**
 * Entry of the sink's write thread: a runtime edge of its own, like a `main`.
 * A failure of the stage (the file cannot be opened) is reported to the main
 * thread, which logs it and writes on its own connection instead.
 */
import { Cause, Effect, Exit } from "effect"
import { parentPort, workerData } from "node:worker_threads"
import { type Crashed, isWriteData } from "./protocol.js"
import * as WriteStage from "./writeStage.js"

if (parentPort !== null) {
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
