import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Redaction } from "@patinox/core"
import { Migrations } from "@patinox/telemetry-store"
import { Effect, Layer } from "effect"
import { prepare } from "../src/internal/batch.js"
import * as FileInserter from "../src/internal/fileInserter.js"
import { event, sqlite, tempFile } from "./fixtures.js"

describe("the write thread's inserter", () => {
  it.scoped("writes batches of any size, every row once and in order", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const context = yield* Layer.build(Layer.effectDiscard(Migrations.run()).pipe(Layer.provideMerge(sqlite(file))))
      const inserter = FileInserter.open(file)
      // 777 = 500 + 256 + 16 + 4 + 1 rows; then a batch of 3 beside one of 500, committed together
      const sizes = [[777], [3, 500]]
      let ts = 0
      for (const group of sizes) {
        inserter.insert(group.map((n) =>
          prepare(Redaction.defaultRedactor, Array.from({ length: n }, () => event({ timestamp: ts++ })))
        ))
      }
      inserter.close()
      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<{ ts: number }>("SELECT ts FROM events ORDER BY rowid")).pipe(
        Effect.provide(context)
      )
      assert.strictEqual(rows.length, 1_280)
      assert.deepStrictEqual(rows.map((row) => row.ts), Array.from({ length: 1_280 }, (_, i) => i))
    }))
})
