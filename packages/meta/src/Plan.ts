/**
 * Plan: a finding becomes at most one improvement, a concrete edit of the
 * behaviour files with the gain it is expected to bring, computed from the
 * window's own numbers. Only edits the service applies are proposed: a
 * tool's timeout and retries, an agent's `maxSteps`, and, when the host
 * gives the meta-layer a model, an agent's rewritten instructions (see
 * `Rewrite`). Findings with no such edit (model latency, cost, circuit
 * trips) are reported, not proposed.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { fromCause, type TelemetryStoreError } from "@patinox/telemetry-store/TelemetryStoreError"
import { Effect, Option } from "effect"
import type { Finding, Window } from "./Analysis.js"
import type { AgentBehaviour, KeyPath } from "./Behaviour.js"
import * as Rewrite from "./Rewrite.js"

/** One key set in one file. @since 0.1.0 @category models */
export interface Edit {
  /** The file's path as loaded. */
  readonly file: string
  readonly path: KeyPath
  readonly value: unknown
}

/**
 * Which replayed figure must improve, and which must not get worse: the
 * replay compares them before and after the edit.
 *
 * @since 0.1.0 @category models
 */
export type Objective =
  | { readonly _tag: "ToolMeanLatency"; readonly tool: string }
  | { readonly _tag: "ToolErrorRate"; readonly tool: string }
  | { readonly _tag: "TokensPerRun"; readonly agent: string }

/** @since 0.1.0 @category models */
export interface Improvement {
  readonly finding: Finding
  readonly title: string
  readonly edits: ReadonlyArray<Edit>
  /** The agents whose recorded inputs the replay re-runs. */
  readonly agents: ReadonlyArray<string>
  /** Relative gain on `objective` the window's numbers predict (0.35 for 35 %). */
  readonly expectedGain: number
  readonly expected: string
  readonly objective: Objective
}

/** A behaviour file as loaded: its path and decoded content. @since 0.1.0 @category models */
export interface File {
  readonly file: string
  readonly behaviour: AgentBehaviour
}

/** Why a finding yields no improvement. @since 0.1.0 @category models */
export interface NoImprovement {
  readonly finding: Finding
  readonly reason: string
}

/** Retries stop once the chance that every attempt fails is at most this. */
const residualFailure = 0.01
const maxRetries = 3

const pct = (x: number) => `${(x * 100).toFixed(0)} %`

const usersOf = (files: ReadonlyArray<File>, tool: string) =>
  files.flatMap(({ file, behaviour }) => {
    const index = behaviour.tools.findIndex((t) => t.name === tool)
    return index < 0 ? [] : [{ file, behaviour, index, settings: behaviour.tools[index]! }]
  })

/**
 * Expected per-call time and failure chance when each attempt is cut at
 * `timeout` and retried up to `retries` times, if attempts are independent
 * draws from the recorded latencies.
 */
export const cutAndRetry = (sorted: ReadonlyArray<number>, timeout: number, retries: number, delayMs: number) => {
  const n = sorted.length
  let cut = 0
  let exceeding = 0
  for (const x of sorted) {
    if (x > timeout) {
      exceeding++
      cut += timeout
    } else cut += x
  }
  const attempt = cut / n
  const p = exceeding / n
  let expected = 0
  for (let k = 0; k <= retries; k++) expected += Math.pow(p, k) * (attempt + (k > 0 ? delayMs : 0))
  return { meanMs: expected, failure: Math.pow(p, retries + 1) }
}

const latencies = (tool: string, window: Window): Effect.Effect<ReadonlyArray<number>, TelemetryStoreError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe<{ latency_ms: number }>(
      `SELECT latency_ms FROM events WHERE tool = ? AND ts >= ? AND ts < ? AND type IN ('tool.end', 'tool.error')
        AND latency_ms IS NOT NULL ORDER BY latency_ms`,
      [tool, window.since, window.until]
    )).pipe(Effect.map((rows) => rows.map((r) => r.latency_ms)), Effect.mapError(fromCause("plan latencies")))

/**
 * A slow tail: cut each attempt at a timeout and retry up to three times. The
 * timeout is the recorded quantile that minimises the expected time per
 * call while keeping the chance that every attempt times out under 1 %; a
 * tool that is slow on every call has no such timeout, and no improvement.
 */
const planLatency = (finding: Finding, tool: string, files: ReadonlyArray<File>, window: Window) =>
  Effect.gen(function*() {
    const users = usersOf(files, tool)
    if (users.length === 0) return Option.none<Improvement>()
    const sorted = yield* latencies(tool, window)
    if (sorted.length === 0) return Option.none<Improvement>()
    const before = sorted.reduce((a, b) => a + b, 0) / sorted.length
    let best: { timeout: number; retries: number; meanMs: number } | undefined
    for (const q of [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]) {
      // Twice the quantile: recorded latencies include scheduling noise a tight cut would turn into failures.
      const timeout = Math.max(1, Math.ceil(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 2))
      for (let retries = 1; retries <= maxRetries; retries++) {
        const outcome = cutAndRetry(sorted, timeout, retries, 0)
        if (outcome.failure > residualFailure) continue
        if (best === undefined || outcome.meanMs < best.meanMs) best = { timeout, retries, meanMs: outcome.meanMs }
      }
    }
    if (best === undefined) return Option.none<Improvement>()
    const gain = 1 - best.meanMs / before
    const chosen = best
    return Option.some<Improvement>({
      finding,
      title: `Cut slow calls of ${tool} at ${chosen.timeout} ms and retry them`,
      edits: users.flatMap(({ file, index, settings }) => [
        { file, path: ["tools", index, "timeoutMs"], value: chosen.timeout },
        { file, path: ["tools", index, "retry"], value: { times: Math.max(chosen.retries, settings.retry?.times ?? 0) } }
      ]),
      agents: users.map((u) => u.behaviour.name),
      expectedGain: gain,
      expected: `Mean time per ${tool} call from ${before.toFixed(0)} ms to about ${chosen.meanMs.toFixed(0)} ms ` +
        `(${pct(gain)} less): each attempt is cut at ${chosen.timeout} ms and retried up to ${chosen.retries} ` +
        `time(s), assuming slow calls are independent of each other.`,
      objective: { _tag: "ToolMeanLatency", tool }
    })
  })

/**
 * Failing calls: retry them. With independent failures at rate p, k retries
 * leave p^(k+1); a tool failing most of the time is failing for a reason
 * retries will not fix, so above 60 % nothing is proposed.
 */
const planRetry = (finding: Finding, tool: string, rate: number, files: ReadonlyArray<File>) => {
  const users = usersOf(files, tool)
  if (users.length === 0 || !(rate > 0)) return Option.none<Improvement>()
  if (rate >= brokenRate) return planDisable(finding, tool, rate, users)
  if (rate > 0.6) return Option.none<Improvement>()
  const current = Math.max(0, ...users.map((u) => u.settings.retry?.times ?? 0))
  let times = current + 1
  while (times < maxRetries && Math.pow(rate, times + 1) > residualFailure) times++
  // The recorded rate already includes the current retries: what one more attempt layer leaves.
  const after = Math.pow(rate, (times + 1) / (current + 1))
  const gain = 1 - after / rate
  return Option.some<Improvement>({
    finding,
    title: `Retry failed calls of ${tool} up to ${times} time(s)`,
    edits: users.map(({ file, index, settings }) => ({
      file,
      path: ["tools", index, "retry"],
      value: { times, delayMs: settings.retry?.delayMs ?? 100 }
    })),
    agents: users.map((u) => u.behaviour.name),
    expectedGain: gain,
    expected: `Failed ${tool} calls from ${pct(rate)} to about ${pct(after)} (${pct(gain)} fewer), ` +
      `if failures are independent of each other; the replay checks that they are.`,
    objective: { _tag: "ToolErrorRate", tool }
  })
}

/** A tool failing at least this often is broken, not flaky: it is taken away from the agents. */
const brokenRate = 0.9

/**
 * A broken tool: every agent listing it stops being offered it, so that
 * runs stop spending steps on calls that fail. The replay checks that no
 * run that succeeded before fails without it.
 */
const planDisable = (finding: Finding, tool: string, rate: number, users: ReturnType<typeof usersOf>) =>
  Option.some<Improvement>({
    finding,
    title: `Stop offering ${tool}: ${pct(rate)} of its calls fail`,
    edits: users.map(({ file, index }) => ({ file, path: ["tools", index], value: undefined })),
    agents: users.map((u) => u.behaviour.name),
    expectedGain: 1,
    expected: `No more failed ${tool} calls (${pct(rate)} of them failed): the agents no longer see the tool. ` +
      `Put it back once it works again.`,
    objective: { _tag: "ToolErrorRate", tool }
  })

/**
 * Runs that loop to `maxSteps` spend every step and still fail. Capping
 * `maxSteps` one above the most any successful run needed keeps every
 * success and stops the loops sooner; tokens are assumed to grow at least
 * linearly with steps, so the expected saving is a lower bound.
 */
const planMaxSteps = (finding: Finding, agent: string, files: ReadonlyArray<File>) => {
  const file = files.find((f) => f.behaviour.name === agent)
  const m = finding.measures
  const successful = m.maxSuccessfulSteps
  const runs = m.runs
  const tokensPerRun = m.tokensPerRun
  const looping = m.tokensInMaxStepsRuns
  if (
    file === undefined || successful === undefined || !(successful > 0) || runs === undefined ||
    tokensPerRun === undefined || !(tokensPerRun > 0) || looping === undefined
  ) return Option.none<Improvement>()
  const current = file.behaviour.maxSteps
  const proposed = successful + 1
  if (proposed >= current) return Option.none<Improvement>()
  // `tokensPerRun` is per successful run; the looping runs' tokens are counted apart.
  const total = tokensPerRun * (m.successfulRuns ?? runs - (m.maxStepsRuns ?? 0)) + looping
  const saved = looping * (1 - proposed / current)
  const gain = saved / total
  return Option.some<Improvement>({
    finding,
    title: `Lower ${agent}'s maxSteps from ${current} to ${proposed}`,
    edits: [{ file: file.file, path: ["maxSteps"], value: proposed }],
    agents: [agent],
    expectedGain: gain,
    expected: `Tokens per run of ${agent} down by at least ${pct(gain)}: runs that loop stop after ${proposed} ` +
      `steps instead of ${current}; no successful run in the window needed more than ${successful}. ` +
      `The looping itself comes from the instructions, which a person should look at.`,
    objective: { _tag: "TokensPerRun", agent }
  })
}

/**
 * The improvement for a finding, if the service can apply one.
 *
 * @since 0.1.0 @category planning
 */
export const plan = (
  finding: Finding,
  files: ReadonlyArray<File>,
  window: Window
): Effect.Effect<Option.Option<Improvement>, TelemetryStoreError, SqlClient.SqlClient> => {
  const { tool, agent } = finding.target
  switch (finding.kind) {
    case "tool-latency":
      return tool === undefined ? Effect.succeedNone : planLatency(finding, tool, files, window)
    case "tool-errors":
      return Effect.succeed(tool === undefined ? Option.none() : planRetry(finding, tool, finding.measures.errorRate ?? 0, files))
    case "tool-timeouts":
      return Effect.succeed(
        tool === undefined ? Option.none() : planRetry(finding, tool, finding.measures.timeoutRate ?? 0, files)
      )
    case "max-steps":
      return Effect.succeed(agent === undefined ? Option.none() : planMaxSteps(finding, agent, files))
    default:
      return Rewrite.kinds.includes(finding.kind) ? Rewrite.rewrite(finding, files) : Effect.succeedNone
  }
}
