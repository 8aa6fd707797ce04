import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Redaction } from "@patinox/core"
import { Migrations } from "@patinox/telemetry-store"
import { Context, Effect, Layer } from "effect"
import { insert, prepare } from "../src/internal/batch.js"
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

  it.scoped("writes a group of batches whole or not at all: a bad row mid-statement leaves nothing behind", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const context = yield* Layer.build(Layer.effectDiscard(Migrations.run()).pipe(Layer.provideMerge(sqlite(file))))
      const inserter = FileInserter.open(file)
      const batch = (n: number, from: number) =>
        prepare(Redaction.defaultRedactor, Array.from({ length: n }, (_, i) => event({ timestamp: from + i })))
      const good = batch(50, 0)
      const bad = batch(300, 50)
      const width = bad.events.length / 300
      // row 150 of the second batch: no timestamp (NOT NULL), in the middle of one multi-row statement
      const broken = { ...bad, events: bad.events.map((cell, i) => (i === 150 * width ? null : cell)) }
      assert.throws(() => inserter.insert([good, broken]), /NOT NULL/)
      // the connection is usable afterwards, and only this batch is there
      inserter.insert([batch(3, 1_000)])
      inserter.close()
      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<{ ts: number }>("SELECT ts FROM events ORDER BY rowid")).pipe(
        Effect.provide(context)
      )
      assert.deepStrictEqual(rows.map((row) => row.ts), [1_000, 1_001, 1_002])
    }))

  it.scoped("the main connection's insert too: a bad row mid-statement fails the batch and writes none of it", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const context = yield* Layer.build(Layer.effectDiscard(Migrations.run()).pipe(Layer.provideMerge(sqlite(file))))
      const sql = Context.get(context, SqlClient.SqlClient)
      const rows = prepare(Redaction.defaultRedactor, Array.from({ length: 300 }, (_, i) => event({ timestamp: i })))
      const width = rows.events.length / 300
      const broken = { ...rows, events: rows.events.map((cell, i) => (i === 150 * width ? null : cell)) }
      const failed = yield* Effect.flip(insert(sql, broken))
      assert.match(String(failed.cause), /NOT NULL/)
      yield* insert(sql, prepare(Redaction.defaultRedactor, [event({ timestamp: 1_000 })]))
      const stored = yield* sql.unsafe<{ ts: number }>("SELECT ts FROM events ORDER BY rowid")
      assert.deepStrictEqual(stored.map((row) => row.ts), [1_000])
    }))
})
