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

/** `GET /ready`: the service takes requests (a load balancer's readiness probe). */
export class Ready extends Schema.Class<Ready>("Ready")({ status: Schema.Literal("ready") }) {}

/** What `/ready`, and any request arriving or still running past the shutdown deadline, gets during shutdown. */
export const ShuttingDown = Schema.Struct({ error: Schema.Literal("ShuttingDown"), message: Schema.String }).annotations({
  identifier: "ShuttingDown"
})

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

export class RunRequest extends Schema.Class<RunRequest>("RunRequest")({
  input: Schema.String.pipe(
    Schema.minLength(1, { message: () => "input must not be empty" }),
    Schema.maxLength(100_000, { message: () => "input must be at most 100000 characters" })
  )
}) {}

export class AgentNotFound extends Schema.TaggedError<AgentNotFound>()(
  "AgentNotFound",
  { name: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()(
  "InvalidRequest",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** A validator refused the run. */
export class RunRejected extends Schema.TaggedError<RunRejected>()(
  "RunRejected",
  { error: Schema.String, message: Schema.String, validator: Schema.optional(Schema.String), stage: Schema.optional(Schema.String) },
  HttpApiSchema.annotations({ status: 422 })
) {}

/** The model provider failed (after the retries its errors allow). */
export class ModelFailed extends Schema.TaggedError<ModelFailed>()(
  "ModelFailed",
  { error: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 502 })
) {}

/** The run ended without an answer for another reason (e.g. its step budget). */
export class RunFailed extends Schema.TaggedError<RunFailed>()(
  "RunFailed",
  { error: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .add(HttpApiEndpoint.get("ready", "/ready").addSuccess(Ready).addError(ShuttingDown, { status: 503 }))
{}

export class AgentsGroup extends HttpApiGroup.make("agents")
  .add(HttpApiEndpoint.get("list", "/agents").addSuccess(Schema.Array(AgentInfo)))
  .add(
    HttpApiEndpoint.post("run", "/agents/:name/runs")
      .setPath(Schema.Struct({ name: Schema.String }))
      .setPayload(RunRequest)
      .addSuccess(RunResult.RunResult)
      .addError(AgentNotFound)
      .addError(InvalidRequest)
      .addError(RunRejected)
      .addError(ModelFailed)
      .addError(RunFailed)
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

/** The knowledge base (SQLite) failed; the service logs the cause. */
export class KnowledgeUnavailable extends Schema.TaggedError<KnowledgeUnavailable>()(
  "KnowledgeUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

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
{}

export class ObservabilityGroup extends HttpApiGroup.make("observability").add(
  HttpApiEndpoint.get("metrics", "/metrics").addSuccess(
    HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })
  )
) {}

/** The telemetry store failed; the service logs the cause. */
export class TelemetryUnavailable extends Schema.TaggedError<TelemetryUnavailable>()(
  "TelemetryUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

export class ToolNotDisabled extends Schema.TaggedError<ToolNotDisabled>()(
  "ToolNotDisabled",
  { tool: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

const WindowParams = Schema.Struct({
  /** How far back, in milliseconds (default one hour). */
  windowMs: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.positive()))
})

/** The dashboard's data: live aggregates from the monitors, history from the store. */
export class MonitoringGroup extends HttpApiGroup.make("monitoring")
  .add(HttpApiEndpoint.get("metrics", "/monitoring/metrics").addSuccess(Schema.Unknown))
  .add(HttpApiEndpoint.get("status", "/monitoring/status").addSuccess(Schema.Unknown))
  .add(HttpApiEndpoint.get("alerts", "/monitoring/alerts").addSuccess(Schema.Unknown))
  .add(HttpApiEndpoint.get("patterns", "/monitoring/patterns").addSuccess(Schema.Unknown))
  .add(HttpApiEndpoint.get("disabledTools", "/tools/disabled").addSuccess(Schema.Unknown))
  .add(
    HttpApiEndpoint.post("enableTool", "/tools/:name/enable")
      .setPath(Schema.Struct({ name: Schema.String }))
      .addSuccess(Schema.Struct({ tool: Schema.String, enabled: Schema.Boolean }))
      .addError(ToolNotDisabled)
  )
  .add(
    HttpApiEndpoint.get("runs", "/telemetry/runs")
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))) }))
      .addSuccess(Schema.Unknown)
      .addError(TelemetryUnavailable)
  )
  .add(
    HttpApiEndpoint.get("runEvents", "/telemetry/runs/:runId/events")
      .setPath(Schema.Struct({ runId: Schema.NonEmptyString }))
      .addSuccess(Schema.Unknown)
      .addError(TelemetryUnavailable)
  )
  .add(
    HttpApiEndpoint.get("summary", "/telemetry/summary")
      .setUrlParams(WindowParams)
      .addSuccess(Schema.Unknown)
      .addError(TelemetryUnavailable)
  )
{}

export class Api extends HttpApi.make("patinox")
  .add(HealthGroup)
  .add(AgentsGroup)
  .add(KnowledgeGroup)
  .add(ObservabilityGroup)
  .add(MonitoringGroup)
{}
