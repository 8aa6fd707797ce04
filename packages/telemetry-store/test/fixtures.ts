import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { ActionResult, AgentAction, Decision, Ids, Usage } from "@patinox/core"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { TempDir } from "@patinox/testing"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { join } from "node:path"

/** A fresh SQLite file, removed with the scope. */
export const tempFile = Effect.map(TempDir.make("patinox-store-"), (dir) => join(dir, "store.db"))

export const sqlite = (filename: string) => SqliteClient.layer({ filename })

/** Collects every log message (debug and up) of the layers it is provided to. */
export const logInto = (lines: Array<string>) =>
  Layer.merge(
    Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ message }) => {
        lines.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      })
    ),
    Logger.minimumLogLevel(LogLevel.Debug)
  )

/** Polls (yielding to other fibers, not sleeping) until `check` holds. */
export const eventually = <A, E, R>(read: Effect.Effect<A, E, R>, check: (a: A) => boolean, rounds = 500) =>
  Effect.gen(function*() {
    let last = yield* read
    for (let i = 0; i < rounds && !check(last); i++) {
      yield* Effect.yieldNow()
      last = yield* read
    }
    return last
  })

export const countRows = (table = "events") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql.unsafe<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`), (rows) => rows[0]?.n ?? -1))

let counter = 0
const hex = (n: number, width: number) => n.toString(16).padStart(width, "0")

export const event = (fields: Partial<TelemetryEvent> = {}): TelemetryEvent => {
  counter++
  return {
    timestamp: 1_700_000_000_000,
    traceId: Ids.TraceId.make(hex(counter, 32)),
    spanId: Ids.SpanId.make(hex(counter, 16)),
    type: "state.change",
    agentId: Ids.AgentId.make("agent-1"),
    metrics: {},
    context: { state: "validating" },
    ...fields
  }
}

export const toolEnd = (tool: string, latencyMs: number, timestamp: number, failed = false): TelemetryEvent =>
  event({
    timestamp,
    type: failed ? "tool.error" : "tool.end",
    result: failed
      ? new ActionResult.Failure({ error: "ToolFailed", message: `Tool "${tool}" failed` })
      : new ActionResult.ToolOutput({ tool, content: "ok", isError: false }),
    metrics: { latencyMs },
    context: failed ? { tool, error: "ToolFailed" } : { tool }
  })

export const modelResponse = (
  model: string,
  latencyMs: number,
  timestamp: number,
  tokens: { readonly tokensIn: number; readonly tokensOut: number },
  agentId = "agent-1"
): TelemetryEvent =>
  event({
    timestamp,
    type: "model.response",
    agentId: Ids.AgentId.make(agentId),
    result: new ActionResult.ModelResult({
      model,
      finishReason: "stop",
      toolCalls: 0,
      usage: new Usage.Usage({ inputTokens: tokens.tokensIn, outputTokens: tokens.tokensOut })
    }),
    metrics: { latencyMs, ...tokens },
    context: { model, provider: "openai" }
  })

export const decision = (validator: string, kind: Decision.DecisionKind, timestamp: number): TelemetryEvent =>
  event({
    timestamp,
    type: "validation.decision",
    action: new AgentAction.UserInput({ input: "hello" }),
    metrics: {
      latencyMs: 0.5,
      decisions: [new Decision.DecisionRecord({ validator, stage: "user_input", decision: kind, latencyMs: 0.5 })]
    },
    context: { validator, stage: "user_input", decision: kind }
  })

/** Inserts the event with the envelope columns only, as a store before migration 2 wrote it. */
export const insertEnvelope = (e: TelemetryEvent) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO events ${
      sql.insert({
        ts: e.timestamp,
        type: e.type,
        agent_id: e.agentId,
        run_id: e.runId ?? null,
        trace_id: e.traceId,
        span_id: e.spanId,
        parent_span_id: null,
        payload: JSON.stringify(e)
      })
    }`)
