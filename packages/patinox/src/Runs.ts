/**
 * The runs' read model: a run's stored events as the trace tree of
 * `GET /runs/:runId`, a stored run summary as an item of `GET /runs`, and a
 * live event as an `event: step` of the run stream. Pure functions over
 * events: the store gives them redacted, and nothing here un-redacts. Costs
 * come from the performance monitor's price table (its `costOf`).
 *
 * @since 0.1.0
 */
import type { TelemetryEvent } from "@patinox/core"
import type { PerformanceMonitor } from "@patinox/monitoring"
import type { TelemetryQueries } from "@patinox/telemetry-store"
import {
  ModelCallTrace,
  RunDecision,
  RunListItem,
  RunStep,
  type RunStreamStep,
  RunTrace,
  ToolCallTrace
} from "./Api.js"

type Event = TelemetryEvent.TelemetryEvent

/** USD for a model call: the performance monitor's, on the configured price table. @since 0.1.0 @category models */
export type CostOf = PerformanceMonitor.Service["costOf"]

/** Decisions on these stages belong to the run, not to a step. */
const runStages: ReadonlySet<string> = new Set(["user_input", "final_answer"])

const stringIn = (context: Event["context"], key: string): string | undefined => {
  const value = context[key]
  return typeof value === "string" && value !== "" ? value : undefined
}

const numberIn = (context: Event["context"], key: string): number | undefined => {
  const value = context[key]
  return typeof value === "number" && Number.isFinite(value) ? value : undefined
}

/** The loop step an event belongs to: its context's `step`, or its action's. */
const stepOf = (event: Event): number | undefined => {
  const fromContext = numberIn(event.context, "step")
  if (fromContext !== undefined) return fromContext
  const action = event.action
  return action === undefined || action._tag === "UserInput" ? undefined : action.step
}

const kindOf = (kind: string): RunDecision["decision"] =>
  kind === "retry" ? "retried" : kind === "approved" || kind === "modified" || kind === "rejected" ? kind : "retried"

/** A `validation.decision` event's record (the first of its `decisions`, else its context). */
const decisionOf = (event: Event): RunDecision | undefined => {
  const record = event.metrics.decisions?.[0]
  if (record !== undefined) {
    return new RunDecision({
      validator: record.validator,
      stage: record.stage,
      decision: kindOf(record.decision),
      reason: record.reason,
      durationMs: record.latencyMs
    })
  }
  const validator = stringIn(event.context, "validator")
  const stage = stringIn(event.context, "stage")
  const decision = stringIn(event.context, "decision")
  return validator === undefined || stage === undefined || decision === undefined
    ? undefined
    : new RunDecision({ validator, stage, decision: kindOf(decision), durationMs: event.metrics.latencyMs })
}

/** A `model.response` or `model.error` event's call, priced. */
const modelCallOf = (event: Event, costOf: CostOf): ModelCallTrace => {
  const name = (event.result?._tag === "ModelResult" ? event.result.model : undefined) ??
    stringIn(event.context, "model") ?? "unknown"
  if (event.type === "model.error") {
    return new ModelCallTrace({
      name,
      latencyMs: event.metrics.latencyMs,
      error: event.result?._tag === "Failure" ? event.result.error : stringIn(event.context, "error") ?? "ModelError"
    })
  }
  const tokensIn = event.metrics.tokensIn ?? 0
  const tokensOut = event.metrics.tokensOut ?? 0
  return new ModelCallTrace({
    name,
    latencyMs: event.metrics.latencyMs,
    tokensIn,
    tokensOut,
    cost: costOf(name, tokensIn, tokensOut)
  })
}

/** A `tool.start`, `tool.end` or `tool.error` event's call; an end's start is its time less its latency. */
const toolCallOf = (event: Event): ToolCallTrace => {
  const tool = stringIn(event.context, "tool") ??
    (event.result?._tag === "ToolOutput" ? event.result.tool : undefined) ?? "unknown"
  const callId = stringIn(event.context, "toolCallId")
  if (event.type === "tool.start") return new ToolCallTrace({ tool, callId, startedAt: event.timestamp, status: "running" })
  const durationMs = event.metrics.latencyMs
  return new ToolCallTrace({
    tool,
    callId,
    startedAt: event.timestamp - (durationMs ?? 0),
    durationMs,
    status: event.type === "tool.end" ? "ok" : "error",
    error: event.type === "tool.error"
      ? stringIn(event.context, "error") ?? (event.result?._tag === "Failure" ? event.result.error : "ToolError")
      : undefined
  })
}

/**
 * A live event as an `event: step` of the run stream, or undefined for the
 * events that are not one (run start and end, model requests, state changes).
 *
 * @since 0.1.0 @category constructors
 */
export const streamStep = (event: Event, costOf: CostOf): RunStreamStep | undefined => {
  const step = stepOf(event)
  switch (event.type) {
    case "model.response":
    case "model.error":
      return { type: "model", step: step ?? 0, ...modelCallOf(event, costOf) }
    case "tool.start":
    case "tool.end":
    case "tool.error":
      return { type: "tool", step: step ?? 0, ...toolCallOf(event) }
    case "validation.decision": {
      const decision = decisionOf(event)
      if (decision === undefined) return undefined
      // A decision on the input or the final answer belongs to the run, as in the trace.
      return runStages.has(decision.stage) || step === undefined
        ? { type: "decision", ...decision }
        : { type: "decision", step, ...decision }
    }
    default:
      return undefined
  }
}

/**
 * A stored run summary as an item of `GET /runs`: its tokens are its end's,
 * or its model calls' while it has none, and its cost is its model calls'.
 *
 * @since 0.1.0 @category constructors
 */
export const listItem = (summary: TelemetryQueries.RunSummary, costOf: CostOf): RunListItem => {
  let tokensIn = 0
  let tokensOut = 0
  let cost = 0
  for (const usage of summary.models) {
    tokensIn += usage.tokensIn
    tokensOut += usage.tokensOut
    cost += costOf(usage.key, usage.tokensIn, usage.tokensOut)
  }
  const called = summary.models.length > 0
  return new RunListItem({
    runId: summary.runId,
    agent: summary.agentId,
    status: summary.status,
    startedAt: summary.startedAt,
    endedAt: summary.endedAt,
    durationMs: summary.durationMs,
    tokensIn: summary.tokensIn ?? (called ? tokensIn : undefined),
    tokensOut: summary.tokensOut ?? (called ? tokensOut : undefined),
    cost,
    error: summary.error,
    errorMessage: summary.errorMessage
  })
}

interface StepDraft {
  readonly index: number
  startedAt: number
  lastAt: number
  model: ModelCallTrace | undefined
  readonly toolCalls: Array<ToolCallTrace>
  readonly decisions: Array<RunDecision>
}

/**
 * A run's events (any order; the store gives them by time) as its trace
 * tree: steps by loop index with their model call, tool calls and
 * decisions, the run-level decisions (input and final answer), and totals.
 * Undefined when there are no events. Texts are taken as they are: the
 * store keeps them redacted.
 *
 * @since 0.1.0 @category constructors
 */
export const trace = (events: ReadonlyArray<Event>, costOf: CostOf): RunTrace | undefined => {
  if (events.length === 0) return undefined
  const ordered = events.map((event, i) => [event, i] as const)
    .sort(([a, i], [b, j]) => a.timestamp - b.timestamp || i - j)
    .map(([event]) => event)
  const first = ordered[0]!
  let runId: string = first.runId ?? ""
  let agent: string = first.agentId
  let startedAt = first.timestamp
  let input: string | undefined
  let output: string | undefined
  let end: Event | undefined
  const runDecisions: Array<RunDecision> = []
  const steps = new Map<number, StepDraft>()

  const draftOf = (index: number, at: number): StepDraft => {
    let draft = steps.get(index)
    if (draft === undefined) {
      draft = { index, startedAt: at, lastAt: at, model: undefined, toolCalls: [], decisions: [] }
      steps.set(index, draft)
    }
    draft.startedAt = Math.min(draft.startedAt, at)
    draft.lastAt = Math.max(draft.lastAt, at)
    return draft
  }

  for (const event of ordered) {
    switch (event.type) {
      case "run.start":
        runId = event.runId ?? runId
        agent = event.agentId
        startedAt = event.timestamp
        if (event.action?._tag === "UserInput") input = event.action.input
        break
      case "run.end":
      case "run.error":
        // The first end counts; a later one (a restart's "abandoned" record) would only repeat it.
        if (end === undefined) end = event
        if (event.result?._tag === "Answer") output = event.result.content
        break
      case "model.request": {
        const step = stepOf(event)
        if (step !== undefined) draftOf(step, event.timestamp)
        break
      }
      case "model.response":
      case "model.error": {
        const step = stepOf(event)
        if (step !== undefined) draftOf(step, event.timestamp).model = modelCallOf(event, costOf)
        break
      }
      case "tool.start":
      case "tool.end":
      case "tool.error": {
        const step = stepOf(event)
        if (step === undefined) break
        const draft = draftOf(step, event.timestamp)
        const call = toolCallOf(event)
        // An end replaces its start (same call id), keeping the start's time.
        const started = call.callId === undefined || event.type === "tool.start"
          ? -1
          : draft.toolCalls.findIndex((c) => c.callId === call.callId && c.status === "running")
        if (started === -1) {
          draft.toolCalls.push(call)
        } else {
          const startedAt = draft.toolCalls[started]!.startedAt
          draft.toolCalls[started] = new ToolCallTrace({
            ...call,
            startedAt,
            durationMs: call.durationMs ?? event.timestamp - startedAt
          })
        }
        break
      }
      case "validation.decision": {
        const decision = decisionOf(event)
        if (decision === undefined) break
        const step = stepOf(event)
        if (runStages.has(decision.stage) || step === undefined) runDecisions.push(decision)
        else draftOf(step, event.timestamp).decisions.push(decision)
        break
      }
      default:
        break
    }
  }

  const ended = end !== undefined
  const drafts = [...steps.values()].sort((a, b) => a.index - b.index)
  const last = drafts.at(-1)
  const runSteps = drafts.map((draft) =>
    new RunStep({
      index: draft.index,
      startedAt: draft.startedAt,
      // The last step of a run still going may not be over.
      durationMs: ended || draft !== last ? draft.lastAt - draft.startedAt : undefined,
      model: draft.model,
      toolCalls: draft.toolCalls,
      decisions: draft.decisions
    })
  )
  let tokensIn = 0
  let tokensOut = 0
  let cost = 0
  for (const step of runSteps) {
    tokensIn += step.model?.tokensIn ?? 0
    tokensOut += step.model?.tokensOut ?? 0
    cost += step.model?.cost ?? 0
  }
  const called = runSteps.some((step) => step.model?.tokensIn !== undefined)
  const durationMs = end === undefined ? undefined : end.metrics.latencyMs ?? end.timestamp - startedAt
  const failure = end?.result?._tag === "Failure" ? end.result : undefined
  const run = new RunListItem({
    runId,
    agent,
    status: end === undefined ? "running" : end.type === "run.end" ? "succeeded" : "failed",
    startedAt,
    endedAt: end?.timestamp,
    durationMs,
    tokensIn: end?.metrics.tokensIn ?? (called ? tokensIn : undefined),
    tokensOut: end?.metrics.tokensOut ?? (called ? tokensOut : undefined),
    cost,
    error: failure?.error,
    errorMessage: failure?.message
  })
  return new RunTrace({
    run,
    input,
    output,
    steps: runSteps,
    decisions: runDecisions,
    totals: { tokensIn, tokensOut, cost, durationMs }
  })
}
