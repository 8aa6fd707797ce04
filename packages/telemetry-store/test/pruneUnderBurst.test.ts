import { assert, describe, it } from "@effect/vitest"
import { Redaction } from "@patinox/core"
import { Migrations } from "@patinox/telemetry-store"
import { Effect, Layer } from "effect"
import { prepare } from "../src/internal/batch.js"
import * as FileInserter from "../src/internal/fileInserter.js"
import * as Prune from "../src/internal/prune.js"
import * as WriteStage from "../src/internal/writeStage.js"
import { event, sqlite, tempFile } from "./fixtures.js"

const padding = "lorem ipsum dolor sit amet ".repeat(20) // ~0.5 KB per event

describe("size retention beside a burst", () => {
  it.scoped("gets the data under the limit while the sink still writes 4 chunks' worth between two of its deletes", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      yield* Layer.build(Layer.effectDiscard(Migrations.run()).pipe(Layer.provideMerge(sqlite(file))))
      const inserter = FileInserter.open(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => inserter.close()))
      let ts = 0
      const write = (n: number) =>
        inserter.insert([
          prepare(Redaction.defaultRedactor.event, Array.from({ length: n }, () => event({ timestamp: ts++, context: { note: padding } })))
        ])
      for (let i = 0; i < 12; i++) write(500)
      // As on the write thread, the sink's batches go in between two chunks: here 800 events each time,
      // for the first 100 pauses (the burst), then none. Before each, whether the data is under the limit.
      let burstLeft = 100
      let maxBytes = 0
      let underAt: number | undefined
      const unpaused = WriteStage.pruneDb(inserter, Effect.void)
      const db = WriteStage.pruneDb(
        inserter,
        Effect.gen(function*() {
          if (underAt === undefined && (yield* Prune.usage(unpaused)).usedBytes <= maxBytes) underAt = 100 - burstLeft
          if (burstLeft > 0) {
            burstLeft--
            write(800)
          }
        }).pipe(Effect.orDie)
      )
      maxBytes = Math.floor((yield* Prune.usage(db)).usedBytes / 2)
      const outcome = yield* Prune.prune(db, { cutoff: 0, maxBytes, chunkSize: 200 })
      assert.isDefined(underAt)
      assert.isBelow(underAt!, 50, `under the limit after ${underAt} of the burst's 100 rounds of inserts`)
      // The newest events stay: everything deleted is older than everything kept.
      const oldestKept = inserter.number("SELECT min(ts) FROM events")
      assert.strictEqual(oldestKept, outcome.deletedBySize)
      assert.strictEqual(inserter.number("SELECT count(*) FROM events"), ts - outcome.deletedBySize)
    }))
})
