import * as SqlClient from "@effect/sql/SqlClient"
import { fromCause, type TelemetryStoreError } from "@patinox/telemetry-store/TelemetryStoreError"
import { Effect } from "effect"
import type { Finding, Target, Window } from "../Analysis.js"
import { findingKey } from "../Analysis.js"

/** A statement with `?` placeholders and its bound values: what a finding carries as evidence. */
export interface Query {
  readonly text: string
  readonly parameters: ReadonlyArray<string | number>
}

export type Row = Readonly<Record<string, unknown>>

/** Runs `query` on the store's connection, its failure a `TelemetryStoreError` naming `operation`. */
export const select = (
  operation: string,
  query: Query
): Effect.Effect<ReadonlyArray<Row>, TelemetryStoreError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Row>(query.text, query.parameters).withoutTransform).pipe(
    Effect.mapError(fromCause(operation))
  )

export const numberOf = (u: unknown): number => typeof u === "number" ? u : typeof u === "bigint" ? Number(u) : 0
export const stringOf = (u: unknown): string => typeof u === "string" ? u : String(u)

/** Ratios and means to 4 decimals: evidence a reviewer reads, not a computation input. */
export const round = (n: number): number => Math.round(n * 10_000) / 10_000

/** `?, ?, ?` for `n` values. */
export const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(", ")

/**
 * The nearest-rank `p`th percentile of column `v` in a group whose rows are
 * numbered `rn` (ascending) out of `n`: the value at rank ceil(p/100 × n).
 */
export const nearestRank = (p: number): string => `MAX(CASE WHEN rn = (n * ${p} + 99) / 100 THEN v END)`

/** Identifiers go into summaries quoted, so a name with spaces or punctuation reads as one token. */
export const quoted = (identifier: string): string => JSON.stringify(identifier)

/** Whole numbers as they are, others to 1 decimal, for summaries. */
export const show = (n: number): string => Number.isInteger(n) ? String(n) : n.toFixed(1)

export const percent = (share: number): string => `${(share * 100).toFixed(1)}%`

export const finding = (fields: {
  readonly kind: string
  readonly analyser: string
  readonly target: Target
  readonly summary: string
  readonly query: Query
  readonly measures: Readonly<Record<string, number>>
  readonly agents?: ReadonlyArray<string> | undefined
}): Finding => ({
  key: findingKey(fields.kind, fields.target),
  kind: fields.kind,
  analyser: fields.analyser,
  target: fields.target,
  ...(fields.agents === undefined ? {} : { agents: fields.agents }),
  summary: fields.summary,
  query: fields.query.text,
  parameters: fields.query.parameters,
  measures: fields.measures
})

/** A tool's or a model's calls, as the agent loop records them: the rows that carry their latency. */
export type Dimension = "tool" | "model"
export const callTypes = (dimension: Dimension) =>
  dimension === "tool"
    ? { ok: "tool.end", failed: "tool.error", timeout: "ToolTimeout" } as const
    : { ok: "model.response", failed: "model.error", timeout: "ModelTimeout" } as const

/**
 * The agents that called each of `keys` in the window. Run only for flagged
 * keys: the agent is not in the covering index, so every call row is read.
 */
export const agentsOf = (
  dimension: Dimension,
  keys: ReadonlyArray<string>,
  window: Window
): Effect.Effect<ReadonlyMap<string, ReadonlyArray<string>>, TelemetryStoreError, SqlClient.SqlClient> => {
  if (keys.length === 0) return Effect.succeed(new Map())
  const { failed, ok } = callTypes(dimension)
  return Effect.map(
    select(`agents of ${dimension}`, {
      text: `SELECT ${dimension} AS key, agent_id AS agent
        FROM events INDEXED BY idx_events_${dimension}_ts
        WHERE ${dimension} IN (${placeholders(keys.length)}) AND ts >= ? AND ts < ? AND type IN (?, ?)
        GROUP BY ${dimension}, agent_id ORDER BY ${dimension}, agent_id`,
      parameters: [...keys, window.since, window.until, ok, failed]
    }),
    (rows) => {
      const out = new Map<string, Array<string>>()
      for (const row of rows) {
        const key = stringOf(row["key"])
        const list = out.get(key) ?? []
        list.push(stringOf(row["agent"]))
        out.set(key, list)
      }
      return out
    }
  )
}
