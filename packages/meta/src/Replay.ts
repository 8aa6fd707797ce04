/**
 * Replay: re-runs a bounded sample of the window's recorded inputs against
 * the behaviour files before and after an edit, and measures both runs the
 * same way, so a proposal shows a measured gain rather than a prediction.
 *
 * The meta package does not run agents: the host (the service, the CLI)
 * provides a `Replayer` that builds agents from the given files with its own
 * tools and model, and returns the events the runs reported. Replayed runs
 * must not land in the store, or the next pass would analyse them.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { fromCause, type TelemetryStoreError } from "@patinox/telemetry-store/TelemetryStoreError"
import { Context, Effect, Option, Schema } from "effect"
import type { Window } from "./Analysis.js"
import type { Objective } from "./Plan.js"

/**
 * One model response as recorded with its event (`telemetry.recordModelResponses`).
 *
 * @since 0.1.0 @category models
 */
export const RecordedResponse = Schema.Struct({
  content: Schema.NullOr(Schema.String),
  finishReason: Schema.String,
  toolCalls: Schema.Array(Schema.Struct({ id: Schema.String, name: Schema.String, arguments: Schema.String })),
  tokensIn: Schema.Number,
  tokensOut: Schema.Number
})
/** @since 0.1.0 @category models */
export type RecordedResponse = typeof RecordedResponse.Type

/**
 * One recorded input: which agent was asked what, and, when the store
 * holds them, the model's responses in that run, in order.
 *
 * @since 0.1.0 @category models
 */
export interface Input {
  readonly agent: string
  readonly input: string
  readonly responses?: ReadonlyArray<RecordedResponse> | undefined
}

/**
 * How a replay gets its model responses: from the recording (no model
 * call; only valid when the edit leaves the prompt as it was), or from the
 * configured model.
 *
 * @since 0.1.0 @category models
 */
export type Mode = "recorded" | "model"

/** A behaviour file's path and full text, as the replay should load it. @since 0.1.0 @category models */
export interface FileText {
  readonly file: string
  readonly text: string
}

/** The host could not replay (a file did not build, an agent is unknown). @since 0.1.0 @category errors */
export class ReplayError extends Schema.TaggedError<ReplayError>("@patinox/meta/ReplayError")("ReplayError", {
  reason: Schema.String
}) {}

/** @since 0.1.0 @category models */
export interface Service {
  /** Runs each input once against agents built from `files`; the events every run reported. */
  readonly replay: (
    files: ReadonlyArray<FileText>,
    inputs: ReadonlyArray<Input>,
    mode: Mode
  ) => Effect.Effect<ReadonlyArray<TelemetryEvent>, ReplayError>
}

/** @since 0.1.0 @category tags */
export class Replayer extends Context.Tag("@patinox/meta/Replayer")<Replayer, Service>() {}

const decodeRecorded = Schema.decodeUnknownOption(Schema.parseJson(Schema.Struct({
  content: Schema.NullOr(Schema.String),
  finishReason: Schema.String,
  toolCalls: RecordedResponse.fields.toolCalls
})))

/**
 * The most recent recorded inputs of the given agents in the window, at
 * most `limit` per agent, with their runs' recorded model responses when
 * the store has them. Inputs are stored redacted, so a replay never sees a
 * secret the original run was given.
 *
 * @since 0.1.0 @category sampling
 */
export const sample = (
  agents: ReadonlyArray<string>,
  window: Window,
  limit: number
): Effect.Effect<ReadonlyArray<Input>, TelemetryStoreError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.forEach(agents, (agent) =>
      Effect.gen(function*() {
        const runs = yield* sql.unsafe<{ run_id: string | null; input: string | null }>(
          `SELECT run_id, json_extract(payload, '$.action.input') AS input FROM events
            WHERE type = 'run.start' AND agent_id = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, id DESC LIMIT ?`,
          [agent, window.since, window.until, limit]
        )
        return yield* Effect.forEach(runs.flatMap((r) =>
          typeof r.input === "string" && r.input.trim() !== "" ? [{ runId: r.run_id, input: r.input }] : []
        ), ({ input, runId }) =>
          Effect.gen(function*() {
            if (runId === null) return { agent, input }
            const rows = yield* sql.unsafe<{ response: string | null; tokens_in: number | null; tokens_out: number | null }>(
              `SELECT json_extract(payload, '$.context.response') AS response, tokens_in, tokens_out FROM events
                WHERE run_id = ? AND type = 'model.response' ORDER BY id`,
              [runId]
            )
            const responses: Array<RecordedResponse> = []
            for (const row of rows) {
              const decoded = row.response === null ? Option.none() : decodeRecorded(row.response)
              // A run recorded only in part cannot be replayed from the recording.
              if (Option.isNone(decoded)) return { agent, input }
              responses.push({ ...decoded.value, tokensIn: row.tokens_in ?? 0, tokensOut: row.tokens_out ?? 0 })
            }
            return { agent, input, responses: responses.length === 0 ? undefined : responses }
          }))
      }))).pipe(Effect.map((lists) => lists.flat()), Effect.mapError(fromCause("replay sample")))

/** What a replay measured. @since 0.1.0 @category models */
export interface Measures {
  readonly runs: number
  readonly succeeded: number
  readonly maxStepsRuns: number
  readonly tokensPerRun: number
  readonly tools: Readonly<Record<string, { readonly calls: number; readonly errors: number; readonly meanMs: number }>>
}

/**
 * Measures replayed runs from their events, by the same definitions the
 * analysers use: a run ends with `run.end` or `run.error`; tokens are the
 * model responses'; a tool call ends with `tool.end` or `tool.error`.
 *
 * @since 0.1.0 @category measuring
 */
export const measure = (events: ReadonlyArray<TelemetryEvent>): Measures => {
  let runs = 0
  let succeeded = 0
  let maxStepsRuns = 0
  let tokens = 0
  const tools: Record<string, { calls: number; errors: number; totalMs: number }> = {}
  for (const event of events) {
    switch (event.type) {
      case "run.end":
        runs++
        succeeded++
        break
      case "run.error":
        runs++
        if (event.result?._tag === "Failure" && event.result.error === "MaxStepsExceeded") maxStepsRuns++
        break
      case "model.response":
        tokens += (event.metrics.tokensIn ?? 0) + (event.metrics.tokensOut ?? 0)
        break
      case "tool.end":
      case "tool.error": {
        const tool = event.context.tool
        if (typeof tool !== "string") break
        const entry = tools[tool] ?? (tools[tool] = { calls: 0, errors: 0, totalMs: 0 })
        entry.calls++
        if (event.type === "tool.error") entry.errors++
        entry.totalMs += event.metrics.latencyMs ?? 0
        break
      }
      default:
        break
    }
  }
  return {
    runs,
    succeeded,
    maxStepsRuns,
    tokensPerRun: runs === 0 ? 0 : tokens / runs,
    tools: Object.fromEntries(
      Object.entries(tools).map(([name, t]) => [name, { calls: t.calls, errors: t.errors, meanMs: t.totalMs / t.calls }])
    )
  }
}

type ToolMeasures = Measures["tools"][string]

const errorRate = (tool: ToolMeasures | undefined): number =>
  tool === undefined || tool.calls === 0 ? 0 : tool.errors / tool.calls

/** The replayed figures a proposal shows, flat, for its evidence table. @since 0.1.0 @category measuring */
export const figures = (objective: Objective, m: Measures): Record<string, number> => {
  const base = { runs: m.runs, succeeded: m.succeeded, maxStepsRuns: m.maxStepsRuns, tokensPerRun: m.tokensPerRun }
  if (objective._tag === "TokensPerRun") return base
  const tool = m.tools[objective.tool]
  return {
    ...base,
    toolCalls: tool?.calls ?? 0,
    toolErrorRate: errorRate(tool),
    toolMeanMs: tool?.meanMs ?? 0
  }
}

/**
 * The measured gain on the objective, and whether the edit made something
 * else worse: fewer successful runs, or (for latency) more failed calls.
 *
 * @since 0.1.0 @category measuring
 */
export const gain = (objective: Objective, before: Measures, after: Measures): { readonly gain: number; readonly regression: string | undefined } => {
  const regression = after.succeeded < before.succeeded
    ? `successful runs fell from ${before.succeeded} to ${after.succeeded}`
    : undefined
  const relative = (b: number, a: number) => (b > 0 ? 1 - a / b : 0)
  if (objective._tag === "TokensPerRun") return { gain: relative(before.tokensPerRun, after.tokensPerRun), regression }
  const b = before.tools[objective.tool]
  const a = after.tools[objective.tool]
  if (objective._tag === "ToolErrorRate") return { gain: relative(errorRate(b), errorRate(a)), regression }
  // One more failed call in a sample of twenty is 5 points of noise, not evidence: it takes two.
  const worse = errorRate(a) > errorRate(b) + 0.02 && (a?.errors ?? 0) - (b?.errors ?? 0) >= 2
    ? `failed ${objective.tool} calls rose from ${(errorRate(b) * 100).toFixed(1)} % to ${(errorRate(a) * 100).toFixed(1)} %`
    : regression
  return { gain: relative(b?.meanMs ?? 0, a?.meanMs ?? 0), regression: worse }
}
