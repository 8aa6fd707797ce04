import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Redaction } from "@patinox/core"
import { Migrations } from "@patinox/telemetry-store"
import { Effect, Layer } from "effect"
import type { Worker } from "node:worker_threads"
import * as WriteThread from "../src/internal/writeThread.js"
import * as Writer from "../src/internal/writer.js"
import { countRows, event, logInto, sqlite, tempFile } from "./fixtures.js"

describe("the sink's write thread", () => {
  it.scoped("when it dies, the batches after it are written on the main thread, and the death is logged", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const logs: Array<string> = []
      const context = yield* Layer.build(
        Layer.effectDiscard(Migrations.run()).pipe(Layer.provideMerge(sqlite(file)), Layer.merge(logInto(logs)))
      )
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tally = Writer.emptyTally()
        const redactor = Redaction.defaultRedactor
        let thread: Worker | undefined
        const writer = yield* WriteThread.make({
          filename: file,
          redactor,
          tally,
          fallback: Writer.inline(sql, redactor, tally),
          onThread: (worker) => {
            thread = worker
          }
        })
        yield* writer.write([event(), event()])
        yield* writer.settle
        assert.strictEqual(tally.written, 2, "written by the thread")
        assert.isTrue(logs.some((line) => line.startsWith("TelemetrySink: write thread ready")), logs.join("\n"))

        const worker = thread
        if (worker === undefined) return assert.fail("the thread was never handed over")
        yield* Effect.promise(() => worker.terminate())
        yield* writer.write([event(), event(), event()])
        yield* writer.settle
        assert.strictEqual(tally.written, 5)
        assert.strictEqual(tally.failed, 0, "nothing was in flight when it died")
        assert.strictEqual(yield* countRows(), 5)
        assert.isTrue(logs.some((line) => line.startsWith("TelemetrySink: the write thread stopped")), logs.join("\n"))
      }).pipe(Effect.provide(context))
    }))
})
