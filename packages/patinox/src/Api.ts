/**
 * The HTTP API, declared once: the server implements it (`Http.ts`) and
 * OpenAPI is derived from it.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "@effect/platform"
import { RunResult } from "@patinox/agent"
import { Schema } from "effect"

export class Health extends Schema.Class<Health>("Health")({
  status: Schema.Literal("ok"),
  uptimeMs: Schema.Number,
  model: Schema.Struct({ provider: Schema.String, name: Schema.String, simulated: Schema.Boolean }),
  validators: Schema.Array(Schema.String),
  agents: Schema.Number
}) {}

/** `GET /ready`: the service takes requests (a load balancer's readiness probe), and why it can. */
export class Ready extends Schema.Class<Ready>("Ready")({
  status: Schema.Literal("ready"),
  checks: Schema.Struct({
    /** A write to the telemetry store went through. */
    store: Schema.Literal("ok"),
    /** The provider answered a probe lately, or the model is the offline simulated one. */
    model: Schema.Literal("reachable", "simulated")
  })
}) {}

/** The store cannot be written or the model provider does not answer: the service should get no traffic. */
export class NotReady extends Schema.Class<NotReady>("NotReady")({
  error: Schema.tag("NotReady"),
  message: Schema.String,
  checks: Schema.Struct({
    store: Schema.Literal("ok", "unwritable"),
    model: Schema.Literal("reachable", "simulated", "unreachable")
  })
}, HttpApiSchema.annotations({ status: 503 })) {}

/** What `/ready`, and any request arriving or still running past the shutdown deadline, gets during shutdown. */
export class ShuttingDown extends Schema.Class<ShuttingDown>("ShuttingDown")({
  error: Schema.tag("ShuttingDown"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 503 })) {}

export class ToolInfo extends Schema.Class<ToolInfo>("ToolInfo")({
  name: Schema.String,
  description: Schema.String,
  parameters: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

export class AgentInfo extends Schema.Class<AgentInfo>("AgentInfo")({
  name: Schema.String,
  description: Schema.String,
  model: Schema.String,
  tools: Schema.Array(ToolInfo)
}) {}

/** `GET /agents/:name`: an agent as listed, with its validators and step budget. */
export class AgentDetail extends Schema.Class<AgentDetail>("AgentDetail")({
  name: Schema.String,
  description: Schema.String,
  model: Schema.String,
  tools: Schema.Array(ToolInfo),
  /** The validators its runs go through, in order. */
  validators: Schema.Array(Schema.String),
  maxSteps: Schema.Number
}) {}

export class RunRequest extends Schema.Class<RunRequest>("RunRequest")({
  input: Schema.String.pipe(
    Schema.minLength(1, { message: () => "input must not be empty" }),
    Schema.maxLength(100_000, { message: () => "input must be at most 100000 characters" })
  )
}) {}

/*
 * Every non-2xx response carries one JSON shape: `{ error, message, runId?, details? }`
 * (docs/http-api.md). The error classes below are that shape on the wire, so they are
 * `Schema.Class`es with an `error` field rather than `Schema.TaggedError`s, whose `_tag`
 * would be sent too. Each carries its status, so OpenAPI lists it.
 */

/** One problem found in a request: where (`path`) and what. */
export class Issue extends Schema.Class<Issue>("Issue")({
  path: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  message: Schema.String
}) {}

/** The body could not be used: not JSON, too deep, not UTF-8, or not what the endpoint expects. */
export class InvalidRequest extends Schema.Class<InvalidRequest>("InvalidRequest")({
  error: Schema.tag("InvalidRequest"),
  message: Schema.String,
  runId: Schema.optional(Schema.String),
  details: Schema.optional(Schema.Array(Issue))
}, HttpApiSchema.annotations({ status: 400 })) {}

/** No or a wrong bearer token, while the service requires one. */
export class Unauthorized extends Schema.Class<Unauthorized>("Unauthorized")({
  error: Schema.tag("Unauthorized"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 401 })) {}

/** No route at this path (for any method). */
export class NotFound extends Schema.Class<NotFound>("NotFound")({
  error: Schema.tag("NotFound"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

/** The path exists, not with this method; the `Allow` header lists the ones it has. */
export class MethodNotAllowed extends Schema.Class<MethodNotAllowed>("MethodNotAllowed")({
  error: Schema.tag("MethodNotAllowed"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 405 })) {}

/** A body sent without `Content-Length` (chunked): its size could only be learnt by reading it. */
export class LengthRequired extends Schema.Class<LengthRequired>("LengthRequired")({
  error: Schema.tag("LengthRequired"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 411 })) {}

/** The body is larger than `server.maxBodyBytes`. */
export class PayloadTooLarge extends Schema.Class<PayloadTooLarge>("PayloadTooLarge")({
  error: Schema.tag("PayloadTooLarge"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 413 })) {}

/** A body that is not `application/json` (forms and plain text included: browsers send those cross-site). */
export class UnsupportedMediaType extends Schema.Class<UnsupportedMediaType>("UnsupportedMediaType")({
  error: Schema.tag("UnsupportedMediaType"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 415 })) {}

/** A fault in the service; the cause is logged, not sent. */
export class InternalError extends Schema.Class<InternalError>("InternalError")({
  error: Schema.tag("InternalError"),
  message: Schema.String,
  runId: Schema.optional(Schema.String)
}, HttpApiSchema.annotations({ status: 500 })) {}

export class AgentNotFound extends Schema.Class<AgentNotFound>("AgentNotFound")({
  error: Schema.tag("AgentNotFound"),
  message: Schema.String,
  name: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

/**
 * A run that ended without an answer: `error` is the run error's tag
 * (`ValidationRejected`, `MaxStepsExceeded`, …), `runId` finds it in telemetry.
 */
const runErrorFields = { error: Schema.String, message: Schema.String, runId: Schema.String }

/** A validator refused the run, or it reached its step budget. */
export class RunRejected extends Schema.Class<RunRejected>("RunRejected")({
  ...runErrorFields,
  validator: Schema.optional(Schema.String),
  stage: Schema.optional(Schema.String)
}, HttpApiSchema.annotations({ status: 422 })) {}

/** A rate limit refused the run; `Retry-After` says when to try again. */
export class RunRateLimited extends Schema.Class<RunRateLimited>("RunRateLimited")({
  ...runErrorFields,
  retryAfterMs: Schema.Number
}, HttpApiSchema.annotations({ status: 429 })) {}

/** The model provider failed (after the retries its errors allow). */
export class ModelFailed extends Schema.Class<ModelFailed>("ModelFailed")(
  runErrorFields,
  HttpApiSchema.annotations({ status: 502 })
) {}

/**
 * Durable mode could not vouch that the run's events are stored (the bus or the
 * sink lost events while it ran): the answer is withheld rather than given as stored.
 */
export class RunNotStored extends Schema.Class<RunNotStored>("RunNotStored")(
  runErrorFields,
  HttpApiSchema.annotations({ status: 503 })
) {}

/** The run did not finish within `agents.runDeadlineMs`. */
export class RunTimedOut extends Schema.Class<RunTimedOut>("RunTimedOut")(
  runErrorFields,
  HttpApiSchema.annotations({ status: 504 })
) {}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .add(HttpApiEndpoint.get("ready", "/ready").addSuccess(Ready).addError(ShuttingDown).addError(NotReady))
{}

export class AgentsGroup extends HttpApiGroup.make("agents")
  .add(HttpApiEndpoint.get("list", "/agents").addSuccess(Schema.Array(AgentInfo)))
  .add(
    HttpApiEndpoint.get("get", "/agents/:name")
      .setPath(Schema.Struct({ name: Schema.String }))
      .addSuccess(AgentDetail)
      .addError(AgentNotFound)
  )
  .add(
    HttpApiEndpoint.post("run", "/agents/:name/runs")
      .setPath(Schema.Struct({ name: Schema.String }))
      .setPayload(RunRequest)
      .addSuccess(RunResult.RunResult)
      .addError(AgentNotFound)
      .addError(RunRejected)
      .addError(RunRateLimited)
      .addError(ModelFailed)
      .addError(RunTimedOut)
      .addError(RunNotStored)
  )
  .add(
    // The run's steps as Server-Sent Events (see `RunStreamStep`); what goes wrong once the
    // stream has started is its last event, `error`, so only the errors before it are listed.
    HttpApiEndpoint.post("runStream", "/agents/:name/runs/stream")
      .setPath(Schema.Struct({ name: Schema.String }))
      .setPayload(RunRequest)
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
      .addError(AgentNotFound)
  )
{}

export class AddDocument extends Schema.Class<AddDocument>("AddDocument")({
  id: Schema.optional(Schema.NonEmptyTrimmedString),
  title: Schema.optional(Schema.String),
  text: Schema.String.pipe(
    Schema.minLength(1, { message: () => "text must not be empty" }),
    Schema.maxLength(1_000_000, { message: () => "text must be at most 1000000 characters" })
  ),
  source: Schema.optional(Schema.String)
}) {}

export class DocumentAdded extends Schema.Class<DocumentAdded>("DocumentAdded")({
  id: Schema.String,
  documents: Schema.Number
}) {}

export class SearchHit extends Schema.Class<SearchHit>("SearchHit")({
  docId: Schema.String,
  passageId: Schema.String,
  text: Schema.String,
  score: Schema.Number
}) {}

/** An item of `GET /knowledge`: a stored document without its text. */
export class KnowledgeDocument extends Schema.Class<KnowledgeDocument>("KnowledgeDocument")({
  id: Schema.String,
  title: Schema.optional(Schema.String),
  source: Schema.optional(Schema.String),
  /** Passages it was chunked into for search. */
  passages: Schema.Number,
  /** Epoch ms. */
  addedAt: Schema.Number
}) {}

export class DocumentNotFound extends Schema.Class<DocumentNotFound>("DocumentNotFound")({
  error: Schema.tag("DocumentNotFound"),
  message: Schema.String,
  id: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

/** The knowledge base (SQLite) failed; the service logs the cause. */
export class KnowledgeUnavailable extends Schema.Class<KnowledgeUnavailable>("KnowledgeUnavailable")({
  error: Schema.tag("KnowledgeUnavailable"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 503 })) {}

export class KnowledgeGroup extends HttpApiGroup.make("knowledge")
  .add(
    HttpApiEndpoint.post("add", "/knowledge")
      .setPayload(AddDocument)
      .addSuccess(DocumentAdded, { status: 201 })
      .addError(KnowledgeUnavailable)
  )
  .add(
    HttpApiEndpoint.get("search", "/knowledge/search")
      .setUrlParams(Schema.Struct({
        q: Schema.String,
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 50)))
      }))
      .addSuccess(Schema.Array(SearchHit))
      .addError(KnowledgeUnavailable)
  )
  .add(
    HttpApiEndpoint.get("list", "/knowledge")
      .addSuccess(Schema.Array(KnowledgeDocument))
      .addError(KnowledgeUnavailable)
  )
  .add(
    HttpApiEndpoint.del("remove", "/knowledge/:id")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(HttpApiSchema.NoContent)
      .addError(DocumentNotFound)
      .addError(KnowledgeUnavailable)
  )
{}

export class ObservabilityGroup extends HttpApiGroup.make("observability").add(
  HttpApiEndpoint.get("metrics", "/metrics").addSuccess(
    HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })
  )
) {}

/** The telemetry store failed; the service logs the cause. */
export class TelemetryUnavailable extends Schema.Class<TelemetryUnavailable>("TelemetryUnavailable")({
  error: Schema.tag("TelemetryUnavailable"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 503 })) {}

export class ToolNotDisabled extends Schema.Class<ToolNotDisabled>("ToolNotDisabled")({
  error: Schema.tag("ToolNotDisabled"),
  message: Schema.String,
  tool: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

const WindowParams = Schema.Struct({
  /** How far back, in milliseconds (default one hour). */
  windowMs: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.positive()))
})

/*
 * The monitors' figures are plain data, so their wire shapes are structs
 * (named with an identifier, so OpenAPI lists each once) rather than classes.
 */

const TimeWindow = Schema.Struct({ since: Schema.Number, until: Schema.Number }).annotations({ identifier: "TimeWindow" })

export const ToolStats = Schema.Struct({
  calls: Schema.Number,
  errors: Schema.Number,
  totalMs: Schema.Number,
  meanMs: Schema.Number,
  p95Ms: Schema.Number
}).annotations({ identifier: "ToolStats" })

export const StateStats = Schema.Struct({
  entries: Schema.Number,
  totalDwellMs: Schema.Number,
  meanDwellMs: Schema.Number
}).annotations({ identifier: "StateStats" })

export const LlmStats = Schema.Struct({
  calls: Schema.Number,
  errors: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  latency: Schema.Struct({ p50: Schema.Number, p95: Schema.Number, p99: Schema.Number }),
  /** USD, from the price table. */
  cost: Schema.Number,
  costByModel: Schema.Record({ key: Schema.String, value: Schema.Number }),
  lastCallAt: Schema.NullOr(Schema.Number)
}).annotations({ identifier: "LlmStats" })

export const MemorySample = Schema.Struct({
  timestamp: Schema.Number,
  rss: Schema.Number,
  heapUsed: Schema.Number,
  heapTotal: Schema.Number,
  external: Schema.Number
}).annotations({ identifier: "MemorySample" })

/** `GET /monitoring/metrics`: the performance monitor's figures since it started or was reset. */
export const PerformanceMetrics = Schema.Struct({
  tools: Schema.Record({ key: Schema.String, value: ToolStats }),
  states: Schema.Record({ key: Schema.String, value: StateStats }),
  llm: LlmStats,
  memory: Schema.Struct({
    /** Oldest first. */
    samples: Schema.Array(MemorySample),
    latest: Schema.NullOr(MemorySample),
    peakRss: Schema.Number,
    peakHeapUsed: Schema.Number
  }),
  session: Schema.Struct({
    runs: Schema.Number,
    /** Model calls. */
    cycles: Schema.Number,
    uptimeMs: Schema.Number,
    startedAt: Schema.Number
  }),
  anomalies: Schema.Struct({
    orphanEnds: Schema.Number,
    outOfOrder: Schema.Number,
    evictedRuns: Schema.Number,
    pendingRuns: Schema.Number
  })
}).annotations({ identifier: "PerformanceMetrics" })

/** `GET /monitoring/export`: the metrics and when they were taken, as a file. */
export const ExportedMetrics = Schema.Struct({
  exportedAt: Schema.Number,
  ...PerformanceMetrics.fields
}).annotations({ identifier: "ExportedMetrics" })

/** `GET /monitoring/status`: the dashboard's headline. */
export const MonitorStatus = Schema.Struct({
  /** `warning` while the heap is over 90 % of its limit or an alert fires (or errors or latency are high). */
  state: Schema.Literal("idle", "active", "warning"),
  primaryMetric: Schema.Struct({
    name: Schema.Literal("memory"),
    /** `heapUsed` of the latest sample. */
    value: Schema.Number,
    limit: Schema.Number,
    unit: Schema.Literal("bytes")
  }),
  secondaryMetric: Schema.Struct({ name: Schema.Literal("llmCalls"), value: Schema.Number, unit: Schema.Literal("calls") }),
  /** Epoch ms of the last agent event, null before any. */
  lastActivity: Schema.NullOr(Schema.Number),
  message: Schema.String
}).annotations({ identifier: "MonitorStatus" })

/** `POST /monitoring/reset`. */
export const MetricsReset = Schema.Struct({ reset: Schema.Literal(true), at: Schema.Number })
  .annotations({ identifier: "MetricsReset" })

const Severity = Schema.Literal("info", "warning", "critical")

/** An alert firing now; acknowledging it keeps it here until it resolves. */
export const ActiveAlert = Schema.Struct({
  /** One firing's id: a rule firing again after it resolved gets a new one. */
  id: Schema.String,
  rule: Schema.String,
  subject: Schema.String,
  severity: Severity,
  value: Schema.Number,
  /** When the condition started to hold. */
  since: Schema.Number,
  firedAt: Schema.Number,
  acknowledged: Schema.Boolean,
  acknowledgedAt: Schema.optional(Schema.Number)
}).annotations({ identifier: "ActiveAlert" })

/** A firing or a resolution, as kept in the in-memory history. */
export const AlertEvent = Schema.Struct({
  id: Schema.String,
  status: Schema.Literal("firing", "resolved"),
  rule: Schema.String,
  metric: Schema.String,
  subject: Schema.String,
  comparison: Schema.Literal(">", ">=", "<", "<="),
  threshold: Schema.Number,
  severity: Severity,
  /** Absent when it resolved because no data was left in the window. */
  value: Schema.optional(Schema.Number),
  since: Schema.Number,
  at: Schema.Number
}).annotations({ identifier: "AlertEvent" })

/** `GET /monitoring/alerts`. */
export const AlertsView = Schema.Struct({
  active: Schema.Array(ActiveAlert),
  /** Oldest first. */
  history: Schema.Array(AlertEvent)
}).annotations({ identifier: "AlertsView" })

export class AlertNotFound extends Schema.Class<AlertNotFound>("AlertNotFound")({
  error: Schema.tag("AlertNotFound"),
  message: Schema.String,
  id: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

/** An item of `GET /monitoring/patterns`: something a monitor found, and the numbers behind it. */
export const MonitorPattern = Schema.Struct({
  monitor: Schema.String,
  kind: Schema.String,
  subject: Schema.String,
  severity: Severity,
  evidence: Schema.Record({ key: Schema.String, value: Schema.Union(Schema.Number, Schema.String) }),
  value: Schema.Number
}).annotations({ identifier: "MonitorPattern" })

const LatencyPercentiles = Schema.Struct({
  key: Schema.String,
  count: Schema.Number,
  p50: Schema.Number,
  p95: Schema.Number,
  p99: Schema.Number,
  mean: Schema.Number,
  max: Schema.Number
}).annotations({ identifier: "LatencyPercentiles" })

const ErrorRate = Schema.Struct({ key: Schema.String, total: Schema.Number, errors: Schema.Number, rate: Schema.Number })
  .annotations({ identifier: "ErrorRate" })

const TokenUsage = Schema.Struct({ key: Schema.String, calls: Schema.Number, tokensIn: Schema.Number, tokensOut: Schema.Number })
  .annotations({ identifier: "TokenUsage" })

/** `GET /telemetry/summary`: the stored history of a window. */
export const TelemetrySummary = Schema.Struct({
  window: TimeWindow,
  /** Per tool. */
  toolLatency: Schema.Array(LatencyPercentiles),
  /** Per model. */
  modelLatency: Schema.Array(LatencyPercentiles),
  toolErrors: Schema.Array(ErrorRate),
  modelErrors: Schema.Array(ErrorRate),
  /** Per model. */
  tokens: Schema.Array(TokenUsage),
  /** Per validator and decision (`approved`, `modified`, `rejected`, `retry`). */
  decisions: Schema.Array(Schema.Struct({ validator: Schema.String, decision: Schema.String, count: Schema.Number }))
}).annotations({ identifier: "TelemetrySummary" })

export const TimeBucket = Schema.Struct({
  /** The bucket's start, epoch ms, a multiple of `bucketMs`. */
  t: Schema.Number,
  runs: Schema.Number,
  failedRuns: Schema.Number,
  llmCalls: Schema.Number,
  tokensIn: Schema.Number,
  tokensOut: Schema.Number,
  /** USD, from the monitoring price table. */
  cost: Schema.Number,
  toolCalls: Schema.Number,
  toolErrors: Schema.Number,
  decisions: Schema.Struct({
    approved: Schema.Number,
    modified: Schema.Number,
    rejected: Schema.Number,
    retried: Schema.Number
  })
}).annotations({ identifier: "TimeBucket" })

/** `GET /telemetry/timeseries`: oldest bucket first, empty ones included. */
export const Timeseries = Schema.Struct({
  window: TimeWindow,
  bucketMs: Schema.Number,
  buckets: Schema.Array(TimeBucket)
}).annotations({ identifier: "Timeseries" })

/** Buckets one timeseries answer may hold. */
export const maxBuckets = 2_000

/** The dashboard's data: live aggregates from the monitors, history from the store. */
export class MonitoringGroup extends HttpApiGroup.make("monitoring")
  .add(HttpApiEndpoint.get("metrics", "/monitoring/metrics").addSuccess(PerformanceMetrics))
  .add(HttpApiEndpoint.get("status", "/monitoring/status").addSuccess(MonitorStatus))
  .add(HttpApiEndpoint.post("reset", "/monitoring/reset").addSuccess(MetricsReset))
  .add(HttpApiEndpoint.get("export", "/monitoring/export").addSuccess(ExportedMetrics))
  .add(HttpApiEndpoint.get("alerts", "/monitoring/alerts").addSuccess(AlertsView))
  .add(
    HttpApiEndpoint.post("acknowledgeAlert", "/monitoring/alerts/:id/acknowledge")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(ActiveAlert)
      .addError(AlertNotFound)
  )
  .add(HttpApiEndpoint.get("patterns", "/monitoring/patterns").addSuccess(Schema.Array(MonitorPattern)))
  .add(
    HttpApiEndpoint.get("disabledTools", "/tools/disabled").addSuccess(
      // Tool name -> why it was switched off.
      Schema.Record({ key: Schema.String, value: Schema.String }).annotations({ identifier: "DisabledTools" })
    )
  )
  .add(
    HttpApiEndpoint.post("enableTool", "/tools/:name/enable")
      .setPath(Schema.Struct({ name: Schema.String }))
      .addSuccess(Schema.Struct({ tool: Schema.String, enabled: Schema.Boolean }))
      .addError(ToolNotDisabled)
  )
  .add(
    HttpApiEndpoint.get("summary", "/telemetry/summary")
      .setUrlParams(WindowParams)
      .addSuccess(TelemetrySummary)
      .addError(TelemetryUnavailable)
  )
  .add(
    HttpApiEndpoint.get("timeseries", "/telemetry/timeseries")
      .setUrlParams(Schema.Struct({
        ...WindowParams.fields,
        /** Bucket width in milliseconds (default: the window in 60 buckets, at least one second). */
        bucketMs: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.positive()))
      }))
      .addSuccess(Timeseries)
      .addError(InvalidRequest)
      .addError(TelemetryUnavailable)
  )
{}

export const RunStatus = Schema.Literal("running", "succeeded", "failed")

/** An item of `GET /runs`: how a run went, from its stored events. */
export class RunListItem extends Schema.Class<RunListItem>("RunListItem")({
  runId: Schema.String,
  agent: Schema.String,
  status: RunStatus,
  /** Epoch ms. */
  startedAt: Schema.Number,
  endedAt: Schema.optional(Schema.Number),
  durationMs: Schema.optional(Schema.Number),
  /** The run's tokens: its end's totals, or the sum over its model calls while it has none. */
  tokensIn: Schema.optional(Schema.Number),
  tokensOut: Schema.optional(Schema.Number),
  /** USD over the run's model calls, from the monitoring price table (0 for unpriced models). */
  cost: Schema.optional(Schema.Number),
  /** The run error's tag (`ValidationRejected`, …) and its message, as stored (redacted). */
  error: Schema.optional(Schema.String),
  errorMessage: Schema.optional(Schema.String)
}) {}

export const RunDecisionKind = Schema.Literal("approved", "modified", "rejected", "retried")

/** A validator's decision on one of the run's actions. */
export class RunDecision extends Schema.Class<RunDecision>("RunDecision")({
  validator: Schema.String,
  /** `user_input`, `model_request`, `tool_call`, `tool_result` or `final_answer`. */
  stage: Schema.String,
  decision: RunDecisionKind,
  reason: Schema.optional(Schema.String),
  durationMs: Schema.optional(Schema.Number)
}) {}

/** A step's model call. */
export class ModelCallTrace extends Schema.Class<ModelCallTrace>("ModelCallTrace")({
  name: Schema.String,
  latencyMs: Schema.optional(Schema.Number),
  tokensIn: Schema.optional(Schema.Number),
  tokensOut: Schema.optional(Schema.Number),
  cost: Schema.optional(Schema.Number),
  /** The model error's tag when the call failed. */
  error: Schema.optional(Schema.String)
}) {}

export const ToolCallStatus = Schema.Literal("ok", "error", "running")

/** A tool call of a step; `callId` is the model's id for it. */
export class ToolCallTrace extends Schema.Class<ToolCallTrace>("ToolCallTrace")({
  tool: Schema.String,
  callId: Schema.optional(Schema.String),
  startedAt: Schema.Number,
  durationMs: Schema.optional(Schema.Number),
  status: ToolCallStatus,
  /** The tool error's tag when it failed. */
  error: Schema.optional(Schema.String)
}) {}

/** One turn of the loop: the model call, the tools it asked for, and the decisions on them. */
export class RunStep extends Schema.Class<RunStep>("RunStep")({
  index: Schema.Number,
  startedAt: Schema.Number,
  durationMs: Schema.optional(Schema.Number),
  model: Schema.optional(ModelCallTrace),
  toolCalls: Schema.Array(ToolCallTrace),
  decisions: Schema.Array(RunDecision)
}) {}

/** `GET /runs/:runId`: the run as a tree of steps, from its stored (redacted) events. */
export class RunTrace extends Schema.Class<RunTrace>("RunTrace")({
  run: RunListItem,
  /** The user's input and the final answer, redacted as stored. */
  input: Schema.optional(Schema.String),
  output: Schema.optional(Schema.String),
  steps: Schema.Array(RunStep),
  /** Decisions on the input and on the final answer. */
  decisions: Schema.Array(RunDecision),
  totals: Schema.Struct({
    tokensIn: Schema.Number,
    tokensOut: Schema.Number,
    cost: Schema.Number,
    durationMs: Schema.optional(Schema.Number)
  })
}) {}

/** No stored event has this run id (never run, or pruned by retention). */
export class RunNotFound extends Schema.Class<RunNotFound>("RunNotFound")({
  error: Schema.tag("RunNotFound"),
  message: Schema.String,
  runId: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

/** `event: run` of `POST /agents/:name/runs/stream`, first. */
export class RunStreamStart extends Schema.Class<RunStreamStart>("RunStreamStart")({
  runId: Schema.String,
  agent: Schema.String
}) {}

/**
 * An `event: step` of the stream: a model call, a tool call (`running` when
 * it starts, then `ok` or `error`) or a decision, as it happens; `step` is
 * the `RunStep` index it belongs to (absent for a decision on the input).
 */
export const RunStreamStep = Schema.Union(
  Schema.Struct({ type: Schema.Literal("model"), step: Schema.Number, ...ModelCallTrace.fields }),
  Schema.Struct({ type: Schema.Literal("tool"), step: Schema.Number, ...ToolCallTrace.fields }),
  Schema.Struct({ type: Schema.Literal("decision"), step: Schema.optional(Schema.Number), ...RunDecision.fields })
).annotations({ identifier: "RunStreamStep" })
export type RunStreamStep = typeof RunStreamStep.Type

const TimeParam = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())

/** The runs recorded in the telemetry store. */
export class RunsGroup extends HttpApiGroup.make("runs")
  .add(
    HttpApiEndpoint.get("list", "/runs")
      .setUrlParams(Schema.Struct({
        agent: Schema.optional(Schema.String),
        status: Schema.optional(RunStatus),
        /** Started at or after, epoch ms. */
        since: Schema.optional(TimeParam),
        /** Started before, epoch ms. */
        until: Schema.optional(TimeParam),
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))),
        offset: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()))
      }))
      .addSuccess(Schema.Array(RunListItem))
      .addError(TelemetryUnavailable)
  )
  .add(
    HttpApiEndpoint.get("get", "/runs/:runId")
      .setPath(Schema.Struct({ runId: Schema.NonEmptyString }))
      .addSuccess(RunTrace)
      .addError(RunNotFound)
      .addError(TelemetryUnavailable)
  )
{}

/**
 * What the meta-layer proposed. The wire shapes are declared here, beside
 * the other groups, rather than imported from `@patinox/meta`, so that the
 * library's API does not depend on the meta-layer; the app maps its
 * `StoredProposal` onto them.
 */
export const ProposalState = Schema.Literal("open", "dismissed", "merged", "superseded")

const proposalSummaryFields = {
  id: Schema.String,
  findingKey: Schema.String,
  title: Schema.String,
  state: ProposalState,
  /** Epoch ms. */
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  url: Schema.optional(Schema.String),
  branch: Schema.optional(Schema.String)
}

/** An item of `GET /proposals`. */
export class ProposalSummary extends Schema.Class<ProposalSummary>("ProposalSummary")(proposalSummaryFields) {}

const ProposalMeasures = Schema.Record({ key: Schema.String, value: Schema.Number })

/** `GET /proposals/:id`: the edit, what it rests on, and where it was published. */
export class ProposalDetail extends Schema.Class<ProposalDetail>("ProposalDetail")({
  ...proposalSummaryFields,
  target: Schema.Struct({
    agent: Schema.optional(Schema.String),
    tool: Schema.optional(Schema.String),
    model: Schema.optional(Schema.String)
  }),
  /** Every file's change as one unified-style text. */
  diff: Schema.String,
  files: Schema.Array(Schema.Struct({ path: Schema.String, before: Schema.String, after: Schema.String })),
  evidence: Schema.Struct({
    query: Schema.String,
    before: ProposalMeasures,
    expected: Schema.String,
    replay: Schema.optional(Schema.Struct({ before: ProposalMeasures, after: ProposalMeasures }))
  }),
  kind: Schema.optional(Schema.Literal("git", "github")),
  commit: Schema.optional(Schema.String),
  number: Schema.optional(Schema.Number),
  dismissedReason: Schema.optional(Schema.String)
}) {}

export class DismissProposal extends Schema.Class<DismissProposal>("DismissProposal")({
  reason: Schema.optional(
    Schema.String.pipe(Schema.maxLength(1_000, { message: () => "reason must be at most 1000 characters" }))
  )
}) {}

export class ProposalNotFound extends Schema.Class<ProposalNotFound>("ProposalNotFound")({
  error: Schema.tag("ProposalNotFound"),
  message: Schema.String,
  id: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

/** Only an open proposal can be dismissed; `state` is the one it is in. */
export class ProposalNotOpen extends Schema.Class<ProposalNotOpen>("ProposalNotOpen")({
  error: Schema.tag("ProposalNotOpen"),
  message: Schema.String,
  id: Schema.String,
  state: ProposalState
}, HttpApiSchema.annotations({ status: 409 })) {}

export class ProposalsGroup extends HttpApiGroup.make("proposals")
  .add(
    HttpApiEndpoint.get("list", "/proposals")
      .setUrlParams(Schema.Struct({
        state: Schema.optional(ProposalState),
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500))),
        offset: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()))
      }))
      .addSuccess(Schema.Array(ProposalSummary))
      .addError(TelemetryUnavailable)
  )
  .add(
    HttpApiEndpoint.get("get", "/proposals/:id")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(ProposalDetail)
      .addError(ProposalNotFound)
      .addError(TelemetryUnavailable)
  )
  .add(
    HttpApiEndpoint.post("dismiss", "/proposals/:id/dismiss")
      .setPath(Schema.Struct({ id: Schema.String }))
      .setPayload(DismissProposal)
      .addSuccess(ProposalDetail)
      .addError(ProposalNotFound)
      .addError(ProposalNotOpen)
      .addError(TelemetryUnavailable)
  )
{}

/**
 * The errors any endpoint can answer with, declared once for the whole API;
 * `ErrorResponse.ts` produces those that come from before or around the handlers.
 */
export class Api extends HttpApi.make("patinox")
  .addError(InvalidRequest)
  .addError(Unauthorized)
  .addError(NotFound)
  .addError(MethodNotAllowed)
  .addError(LengthRequired)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(InternalError)
  .add(HealthGroup)
  .add(AgentsGroup)
  .add(KnowledgeGroup)
  .add(ObservabilityGroup)
  .add(MonitoringGroup)
  .add(RunsGroup)
  .add(ProposalsGroup)
{}
