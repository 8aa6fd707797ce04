import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Redaction } from "@patinox/core"
import { Migrations } from "@patinox/telemetry-store"
import { Context, Effect, Layer } from "effect"
import { insert, prepare } from "../src/internal/batch.js"
import { columnNames } from "../src/internal/columns.js"
import * as FileInserter from "../src/internal/fileInserter.js"
import { event, sqlite, tempFile } from "./fixtures.js"

/** The rows of `n` events stamped `from`, `from + 1`, … */
const batch = (n: number, from = 0) =>
  prepare(Redaction.defaultRedactor.event, Array.from({ length: n }, (_, i) => event({ timestamp: from + i })))

/** The rows of 300 events stamped from `from`, the 151st without its timestamp (NOT NULL): mid-statement. */
const brokenBatch = (from: number) => {
  const rows = batch(300, from)
  const at = 150 * columnNames.length + columnNames.indexOf("ts")
  return { ...rows, events: rows.events.map((cell, i) => (i === at ? null : cell)) }
}

/** A migrated store file, and the main connection's client on it. */
const migrated = Effect.gen(function*() {
  const file = yield* tempFile
  const context = yield* Layer.build(Layer.effectDiscard(Migrations.run()).pipe(Layer.provideMerge(sqlite(file))))
  return { file, sql: Context.get(context, SqlClient.SqlClient) }
})

/** The stored events' timestamps, in insertion order. */
const storedTs = (sql: SqlClient.SqlClient) =>
  Effect.map(sql.unsafe<{ ts: number }>("SELECT ts FROM events ORDER BY rowid"), (rows) => rows.map((row) => row.ts))

describe("the write thread's inserter", () => {
  it.scoped("writes batches of any size, every row once and in order", () =>
    Effect.gen(function*() {
      const { file, sql } = yield* migrated
      const inserter = FileInserter.open(file)
      // 777 = 500 + 256 + 16 + 4 + 1 rows; then a batch of 3 beside one of 500, committed together
      const sizes = [[777], [3, 500]]
      let ts = 0
      for (const group of sizes) {
        inserter.insert(group.map((n) => {
          const rows = batch(n, ts)
          ts += n
          return rows
        }))
      }
      inserter.close()
      const stored = yield* storedTs(sql)
      assert.strictEqual(stored.length, 1_280)
      assert.deepStrictEqual(stored, Array.from({ length: 1_280 }, (_, i) => i))
    }))

  it.scoped("writes a group of batches whole or not at all: a bad row mid-statement leaves nothing behind", () =>
    Effect.gen(function*() {
      const { file, sql } = yield* migrated
      const inserter = FileInserter.open(file)
      assert.throws(() => inserter.insert([batch(50), brokenBatch(50)]), /NOT NULL/)
      // the connection is usable afterwards, and only this batch is there
      inserter.insert([batch(3, 1_000)])
      inserter.close()
      assert.deepStrictEqual(yield* storedTs(sql), [1_000, 1_001, 1_002])
    }))

  it.scoped("the main connection's insert too: a bad row mid-statement fails the batch and writes none of it", () =>
    Effect.gen(function*() {
      const { sql } = yield* migrated
      const failed = yield* Effect.flip(insert(sql, brokenBatch(0)))
      assert.match(String(failed.cause), /NOT NULL/)
      yield* insert(sql, batch(1, 1_000))
      assert.deepStrictEqual(yield* storedTs(sql), [1_000])
    }))
})
