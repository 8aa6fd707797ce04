import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Migrations } from "@patinox/telemetry-store"
import { Effect } from "effect"
import { decision, event, insertEnvelope, modelResponse, sqlite, tempFile, toolEnd } from "./fixtures.js"

/** The ids of the migrations after `n`: what upgrading a file at version `n` applies. */
const idsAbove = (n: number) => Object.keys(Migrations.migrations).map((key) => Number(key.slice(0, 4))).filter((id) => id > n)

const columns = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(sql.unsafe<{ name: string }>("PRAGMA table_info(events)"), (rows) => rows.map((r) => r.name)))
const indexes = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql.unsafe<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"),
    (rows) => rows.map((r) => r.name)
  ))
const pragma = (name: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql.unsafe<Record<string, unknown>>(`PRAGMA ${name}`), (rows) => Object.values(rows[0] ?? {})[0]))

describe("Migrations", () => {
  it.scoped("creates the whole schema on an empty file, and a second run applies nothing", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const applied = yield* Migrations.run().pipe(Effect.provide(sqlite(file)))
      assert.deepStrictEqual(applied.map(([id]) => id), idsAbove(0))
      const again = yield* Migrations.run().pipe(Effect.provide(sqlite(file)))
      assert.deepStrictEqual(again, [])
      yield* Effect.gen(function*() {
        const cols = yield* columns
        for (const c of ["ts", "type", "agent_id", "run_id", "trace_id", "tool", "model", "latency_ms", "tokens_in", "tokens_out", "memory_bytes", "error_tag", "validator", "decision", "payload"]) {
          assert.include(cols, c)
        }
        assert.deepStrictEqual(yield* indexes, [
          "idx_alerts_rule_ts",
          "idx_alerts_ts",
          "idx_events_model_ts",
          "idx_events_model_usage",
          "idx_events_run",
          "idx_events_run_ends",
          "idx_events_run_outcomes",
          "idx_events_run_starts",
          "idx_events_tool_args",
          "idx_events_tool_ts",
          "idx_events_trace_unrun",
          "idx_events_type_ts",
          "idx_events_validator_ts",
          "idx_proposals_finding_state"
        ])
        assert.strictEqual(yield* pragma("journal_mode"), "wal")
        assert.strictEqual(yield* pragma("auto_vacuum"), 2)
      }).pipe(Effect.provide(sqlite(file)))
    }))

  it.scoped("upgrades a version-1 file with data: rows kept, new columns backfilled from the payload", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const old = [
        toolEnd("search", 42, 1_000),
        toolEnd("search", 7, 1_001, true),
        modelResponse("gpt-4o-mini", 800, 1_002, { tokensIn: 120, tokensOut: 30 }),
        decision("pii", "rejected", 1_003),
        event({ timestamp: 1_004, type: "memory.sample", metrics: { memoryBytes: 1_024 }, context: {} })
      ]
      yield* Effect.gen(function*() {
        assert.deepStrictEqual((yield* Migrations.run(1)).map(([id]) => id), [1])
        assert.notInclude(yield* columns, "tool")
        for (const e of old) {
          yield* insertEnvelope(e)
        }
      }).pipe(Effect.provide(sqlite(file)))

      // Later, a newer version opens the same file.
      yield* Effect.gen(function*() {
        assert.deepStrictEqual((yield* Migrations.run()).map(([id]) => id), idsAbove(1))
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<Record<string, unknown>>`
          SELECT type, tool, model, latency_ms, tokens_in, tokens_out, memory_bytes, error_tag, validator, decision
          FROM events ORDER BY ts`.withoutTransform
        assert.deepStrictEqual(rows, [
          { type: "tool.end", tool: "search", model: null, latency_ms: 42, tokens_in: null, tokens_out: null, memory_bytes: null, error_tag: null, validator: null, decision: null },
          { type: "tool.error", tool: "search", model: null, latency_ms: 7, tokens_in: null, tokens_out: null, memory_bytes: null, error_tag: "ToolFailed", validator: null, decision: null },
          { type: "model.response", tool: null, model: "gpt-4o-mini", latency_ms: 800, tokens_in: 120, tokens_out: 30, memory_bytes: null, error_tag: null, validator: null, decision: null },
          { type: "validation.decision", tool: null, model: null, latency_ms: 0.5, tokens_in: null, tokens_out: null, memory_bytes: null, error_tag: null, validator: "pii", decision: "rejected" },
          { type: "memory.sample", tool: null, model: null, latency_ms: null, tokens_in: null, tokens_out: null, memory_bytes: 1_024, error_tag: null, validator: null, decision: null }
        ])
      }).pipe(Effect.provide(sqlite(file)))
    }))
})
