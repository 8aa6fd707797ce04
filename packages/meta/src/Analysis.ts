/**
 * Monitor → Analyse: analysers read a window of the telemetry store and
 * report findings, each grounded in one SQL query over the `events` table
 * whose text and numbers travel with the finding as evidence.
 *
 * Analysers stack like validators: `withAnalyser(a)` is a Layer that adds
 * `a` to the `Analysers` beneath it, so a host adds its own beside the
 * built-in ones.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { TelemetryStoreError } from "@patinox/telemetry-store/TelemetryStoreError"
import { Context, Effect, Layer, Option, Schema } from "effect"

/**
 * The analysed span of time, `[since, until)` in epoch ms, and the span just
 * before it of the same length (`baselineSince`), against which analysers
 * compare ("rose above its own earlier baseline").
 *
 * @since 0.1.0 @category models
 */
export interface Window {
  readonly since: number
  readonly until: number
  readonly baselineSince: number
}

/** The window of `hours` ending at `now`, with its baseline before it. @since 0.1.0 @category constructors */
export const windowEndingAt = (now: number, hours: number): Window => {
  const length = Math.round(hours * 3_600_000)
  return { since: now - length, until: now, baselineSince: now - 2 * length }
}

/**
 * What a finding is about. Exactly the fields that identify the target are
 * set: `{ tool }`, `{ model }`, `{ agent }` or `{ agent, model }`.
 *
 * @since 0.1.0 @category schemas
 */
export const Target = Schema.Struct({
  agent: Schema.optional(Schema.String),
  tool: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String)
})
/** @since 0.1.0 @category models */
export type Target = typeof Target.Type

/**
 * The kinds of findings the built-in analysers report; a host's own
 * analysers may use others.
 *
 * @since 0.1.0 @category schemas
 */
export const builtInKinds = [
  "tool-latency",
  "model-latency",
  "tool-errors",
  "tool-timeouts",
  "circuit-trips",
  "model-errors",
  "max-steps",
  "repeated-tool-calls",
  "validator-retries",
  "tokens-per-run",
  "cost-spike"
] as const

/**
 * One thing that goes wrong, with the query that found it and the numbers
 * it returned. `key` identifies the finding and its target across passes
 * (`tool-latency:tool:search`): one open proposal per key.
 *
 * Identifiers in a finding (tool, model and agent names) come from
 * telemetry, which is untrusted: whoever renders them escapes them.
 *
 * @since 0.1.0 @category schemas
 */
export const Finding = Schema.Struct({
  key: Schema.String,
  kind: Schema.String,
  analyser: Schema.String,
  target: Target,
  /**
   * For a tool or model finding, the agents that called it in the window, so
   * a planner knows which behaviour files to edit. Absent for other findings.
   */
  agents: Schema.optional(Schema.Array(Schema.String)),
  /** One sentence a reviewer reads; built from the measures, not from stored text. */
  summary: Schema.String,
  /** The SQL that measured it, with `?` placeholders, and the values bound to them. */
  query: Schema.String,
  parameters: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  measures: Schema.Record({ key: Schema.String, value: Schema.Number })
})
/** @since 0.1.0 @category models */
export type Finding = typeof Finding.Type

/** The key of a finding of `kind` about `target`. @since 0.1.0 @category constructors */
export const findingKey = (kind: string, target: Target): string =>
  [
    kind,
    ...(target.agent === undefined ? [] : [`agent:${target.agent}`]),
    ...(target.tool === undefined ? [] : [`tool:${target.tool}`]),
    ...(target.model === undefined ? [] : [`model:${target.model}`])
  ].join(":")

/**
 * An analyser: a name and a query pass over a window. It reads through the
 * `SqlClient` of the store, so the same analyser runs inside the service and
 * in a separate `patinox analyze` process.
 *
 * @since 0.1.0 @category models
 */
export interface Analyser {
  readonly name: string
  readonly analyse: (window: Window) => Effect.Effect<ReadonlyArray<Finding>, TelemetryStoreError, SqlClient.SqlClient>
}

/** The analysers a pass runs, in the order they were added. @since 0.1.0 @category tags */
export class Analysers extends Context.Tag("@patinox/meta/Analysers")<Analysers, ReadonlyArray<Analyser>>() {}

/** No analysers: the base to stack on. @since 0.1.0 @category layers */
export const empty: Layer.Layer<Analysers> = Layer.succeed(Analysers, [])

/**
 * Adds an analyser to the ones beneath (none if there are none). An
 * analyser whose name is already present replaces it, so a host can
 * reconfigure a built-in one.
 *
 * @since 0.1.0 @category layers
 */
export const withAnalyser = (analyser: Analyser): Layer.Layer<Analysers> =>
  Layer.effect(
    Analysers,
    Effect.map(Effect.serviceOption(Analysers), (beneath) => {
      const others = Option.getOrElse(beneath, () => []).filter((a) => a.name !== analyser.name)
      return [...others, analyser]
    })
  )

/**
 * Runs every analyser over the window. One failing analyser does not hide
 * the others' findings: its error is returned beside them.
 *
 * @since 0.1.0 @category running
 */
export const run = (window: Window): Effect.Effect<
  { readonly findings: ReadonlyArray<Finding>; readonly failures: ReadonlyArray<{ readonly analyser: string; readonly error: TelemetryStoreError }> },
  never,
  Analysers | SqlClient.SqlClient
> =>
  Effect.gen(function*() {
    const analysers = yield* Analysers
    const outcomes = yield* Effect.forEach(analysers, (analyser) =>
      Effect.either(analyser.analyse(window)).pipe(
        Effect.map((outcome) => ({ analyser: analyser.name, outcome })),
        Effect.withSpan(`analyse ${analyser.name}`)
      ))
    const findings: Array<Finding> = []
    const failures: Array<{ analyser: string; error: TelemetryStoreError }> = []
    for (const { analyser, outcome } of outcomes) {
      if (outcome._tag === "Right") findings.push(...outcome.right)
      else failures.push({ analyser, error: outcome.left })
    }
    return { findings, failures }
  }).pipe(Effect.withSpan("Analysis.run"))
