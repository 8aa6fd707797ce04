/**
 * The API's implementation, and the server layer that `main.ts` launches and
 * the tests start on a free port.
 */
import {
  HttpApiBuilder,
  HttpApiScalar,
  HttpApiError,
  HttpMiddleware,
  HttpServer,
  type HttpServerRequest
} from "@effect/platform"
import { type Errors, Ids, LanguageModel, type Tool, ValidationPipeline } from "@patinox/core"
import { AgentRuntime } from "@patinox/agent"
import { ProposalStore } from "@patinox/meta"
import { EventBus, PerformanceMonitor } from "@patinox/monitoring"
import { TelemetryStore } from "@patinox/telemetry-store"
import { OpenAiLanguageModel } from "@patinox/provider-openai"
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { LocalModel } from "@patinox/local-model"
import { Api, Durability, Http as PatinoxHttp, Patinox } from "@patinox/patinox"
import {
  AgentDetail,
  AgentInfo,
  AgentNotFound,
  DismissProposal,
  Health,
  ModelFailed,
  NotReady,
  ProposalDetail,
  ProposalNotFound,
  ProposalNotOpen,
  ProposalSummary,
  Ready,
  RunNotStored,
  RunStreamStart,
  RunTimedOut,
  ShuttingDown,
  ToolInfo
} from "@patinox/patinox/Api"
import { Agents, BehaviourDir, type HostedAgent, ServiceValidation } from "./Agents.js"
import type { AppConfig } from "./AppConfig.js"
import type { ConfigFile } from "./ConfigFile.js"
import * as Dashboard from "./Dashboard.js"
import * as ErrorResponse from "./ErrorResponse.js"
import * as GracefulShutdown from "./GracefulShutdown.js"
import * as Meta from "./Meta.js"
import * as RequestLog from "./RequestLog.js"
import * as RunStream from "./RunStream.js"
import * as Security from "./Security.js"
import * as SimulatedModel from "./SimulatedModel.js"


/** How a run error is answered (from the library, where the API's errors are declared). */
export const toHttpError = PatinoxHttp.toHttpError

/** How long a model probe's answer is reused, so that frequent readiness probes do not each reach the provider. */
const modelProbeTtl = Duration.seconds(5)

/** A write to the telemetry store taking longer than this counts as not writable. */
const storeProbeTimeout = Duration.seconds(2)

const HealthLive = HttpApiBuilder.group(Api.Api, "health", (handlers) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const model = yield* LanguageModel.LanguageModel
    const pipeline = yield* ValidationPipeline.ValidationPipeline
    const agents = yield* Agents
    const shutdown = yield* GracefulShutdown.GracefulShutdown
    const sql = yield* Patinox.Database
    const simulated = model.provider === SimulatedModel.service.provider
    // A real write to the file, in the one-row table the store's migrations keep for it.
    const storeCheck = Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      yield* sql.withTransaction(
        Effect.zipRight(sql`INSERT INTO ready_probe (id, at) VALUES (1, ${at})`, sql`DELETE FROM ready_probe`)
      )
    }).pipe(
      Effect.timeout(storeProbeTimeout),
      Effect.as("ok" as const),
      Effect.catchTags({
        SqlError: (error) =>
          Effect.as(Effect.logWarning("readiness: the telemetry store refused a write", error), "unwritable" as const),
        TimeoutException: () =>
          Effect.as(Effect.logWarning("readiness: a write to the telemetry store took over 2 s"), "unwritable" as const)
      })
    )
    const ping = model.ping
    const modelCheck = simulated
      ? Effect.succeed("simulated" as const)
      : ping === undefined
      ? Effect.succeed("reachable" as const)
      : yield* Effect.cachedWithTTL(Effect.map(ping, (up) => up ? "reachable" as const : "unreachable" as const), modelProbeTtl)
    return handlers
      .handle("health", () =>
        Effect.map(Clock.currentTimeMillis, (now) =>
          new Health({
            status: "ok",
            uptimeMs: now - started,
            model: { provider: model.provider, name: model.model, simulated },
            validators: pipeline.validators,
            agents: agents.list.length
          })))
      .handle("ready", () =>
        Effect.gen(function*() {
          if (yield* shutdown.isShuttingDown) {
            return yield* Effect.fail(new ShuttingDown({ message: "The service is shutting down" }))
          }
          const [store, modelState] = yield* Effect.all([storeCheck, modelCheck], { concurrency: 2 })
          if (store === "ok" && modelState !== "unreachable") {
            return new Ready({ status: "ready", checks: { store, model: modelState } })
          }
          const problems = [
            ...(store === "ok" ? [] : ["the telemetry store cannot be written"]),
            ...(modelState === "unreachable" ? [`the model provider (${model.provider}) does not answer`] : [])
          ]
          return yield* Effect.fail(
            new NotReady({ message: `Not ready: ${problems.join("; ")}`, checks: { store, model: modelState } })
          )
        }))
  }))

const toolInfo = (tool: Tool.Any) =>
  new ToolInfo({ name: tool.name, description: tool.description, parameters: tool.definition.parameters })

const AgentsLive = (file: ConfigFile) => HttpApiBuilder.group(Api.Api, "agents", (handlers) =>
  Effect.gen(function*() {
    const agents = yield* Agents
    const deadline = Duration.millis(file.agents.runDeadlineMs)
    const durability = yield* Durability.Durability
    const bus = yield* EventBus.EventBus
    const performance = yield* PerformanceMonitor.PerformanceMonitor
    // The store's redactor, for what the stream sends before the store has redacted it. The store's
    // layer has already refused an invalid pattern at start-up.
    const redactor = yield* Effect.orDie(TelemetryStore.redactorOf(file.telemetry))
    const agentNamed = (name: string) => {
      const agent = agents.get(name)
      return agent === undefined
        ? Effect.fail(
          new AgentNotFound({
            name,
            message: `No agent named "${name}". Agents: ${agents.list.map((a) => a.name).join(", ")}`
          })
        )
        : Effect.succeed(agent)
    }
    /** A run as both endpoints answer it: its errors as the API's, its events stored first in durable mode. */
    const runOf = (agent: HostedAgent, input: string, runId: Ids.RunId, request: HttpServerRequest.HttpServerRequest) =>
      agent.run(input, { runId, userId: Security.userId(request), deadline }).pipe(
        Effect.mapError((error) => toHttpError(error, runId)),
        durability.durable,
        Effect.catchTag("TelemetryNotDurable", (error) =>
          Effect.fail(new RunNotStored({ error: error._tag, message: error.message, runId }))),
        Effect.tapError((error) =>
          error instanceof ModelFailed || error instanceof RunTimedOut
            ? Effect.logWarning(`run ${runId} of ${agent.name} failed: ${error.message}`)
            : Effect.void
        )
      )
    return handlers
      .handle("list", () =>
        Effect.succeed(
          agents.list.map((agent) =>
            new AgentInfo({
              name: agent.name,
              description: agent.description,
              model: agent.model,
              tools: agent.tools.map(toolInfo)
            })
          )
        ))
      .handle("get", ({ path }) =>
        Effect.map(agentNamed(path.name), (agent) =>
            new AgentDetail({
              name: agent.name,
              description: agent.description,
              model: agent.model,
              tools: agent.tools.map(toolInfo),
              validators: agent.validators,
              maxSteps: agent.maxSteps
            })))
      .handle("run", ({ path, payload, request }) =>
        Effect.gen(function*() {
          const agent = yield* agentNamed(path.name)
          // Made here, so that an error response can name the run.
          const runId = yield* Ids.makeRunId
          return yield* runOf(agent, payload.input, runId, request)
        }))
      // Not `handleRaw`: the body is decoded as `run`'s is, so a bad one is the same 400 before the stream.
      .handle("runStream", ({ path, payload, request }) =>
        Effect.gen(function*() {
          const agent = yield* agentNamed(path.name)
          const runId = yield* Ids.makeRunId
          return RunStream.response(
            { bus, costOf: performance.costOf, redactor },
            new RunStreamStart({ runId, agent: agent.name }),
            runOf(agent, payload.input, runId, request)
          )
        }))
  }))

const KnowledgeLive = HttpApiBuilder.group(Api.Api, "knowledge", PatinoxHttp.knowledge)
const ObservabilityLive = HttpApiBuilder.group(Api.Api, "observability", PatinoxHttp.observability)
const MonitoringLive = HttpApiBuilder.group(Api.Api, "monitoring", PatinoxHttp.monitoring)
const RunsLive = HttpApiBuilder.group(Api.Api, "runs", PatinoxHttp.runs)

const decodeDismiss = Schema.decodeUnknown(Schema.parseJson(DismissProposal))

/** The dismissal's body, `{}` when there is none; what cannot be read or decoded dies as the 400 it maps to. */
const dismissPayload = (request: HttpServerRequest.HttpServerRequest) =>
  request.text.pipe(
    Effect.flatMap((text) =>
      text.trim() === ""
        ? Effect.succeed(new DismissProposal({}))
        : decodeDismiss(text).pipe(Effect.catchTag("ParseError", HttpApiError.HttpApiDecodeError.refailParseError))
    ),
    // ErrorResponse turns both into InvalidRequest; the endpoint does not declare them.
    Effect.orDie
  )

const ProposalsLive = HttpApiBuilder.group(Api.Api, "proposals", (handlers) =>
  Effect.gen(function*() {
    const proposals = yield* ProposalStore.ProposalStore
    const unavailable = PatinoxHttp.telemetryUnavailable
    const notFound = (error: ProposalStore.ProposalNotFound) =>
      Effect.fail(new ProposalNotFound({ id: error.id, message: error.message }))
    return handlers
      .handle("list", ({ urlParams }) =>
        proposals.list(urlParams).pipe(
          Effect.map((stored) =>
            stored.map((p) =>
              new ProposalSummary({
                id: p.id,
                findingKey: p.findingKey,
                title: p.title,
                state: p.state,
                createdAt: p.createdAt,
                updatedAt: p.updatedAt,
                ...(p.url === undefined ? {} : { url: p.url }),
                ...(p.branch === undefined ? {} : { branch: p.branch })
              })
            )
          ),
          Effect.catchTag("TelemetryStoreError", unavailable)
        ))
      .handle("get", ({ path }) =>
        proposals.get(path.id).pipe(
          Effect.map((stored) => new ProposalDetail(stored)),
          Effect.catchTags({ ProposalNotFound: notFound, TelemetryStoreError: unavailable })
        ))
      // Raw, so that a POST without a body dismisses too: the platform would
      // parse an empty body as JSON and refuse it. A body given is decoded as declared.
      .handleRaw("dismiss", ({ path, request }) =>
        dismissPayload(request).pipe(
          Effect.flatMap((payload) => proposals.dismiss(path.id, payload.reason)),
          Effect.map((stored) => new ProposalDetail(stored)),
          Effect.catchTags({
            ProposalNotFound: notFound,
            ProposalNotOpen: (error) =>
              Effect.fail(new ProposalNotOpen({ id: error.id, state: error.state, message: error.message })),
            TelemetryStoreError: unavailable
          })
        ))
  }))

/** The configured model: a real OpenAI-compatible endpoint, or the simulated one, announced. */
export const modelLayer = (
  config: AppConfig,
  simulated: ConfigFile["simulatedModel"] = { latencyMs: 0 }
): Layer.Layer<LanguageModel.LanguageModel, Errors.ConfigurationInvalid> =>
  config.realModel
    ? OpenAiLanguageModel.layerConfig().pipe(
      Layer.tap((context) => {
        const model = Context.get(context, LanguageModel.LanguageModel)
        return Effect.logInfo(`Model: ${model.model} via ${model.provider} (from OPENAI_BASE_URL / OPENAI_API_KEY)`)
      })
    )
    : Layer.merge(
      SimulatedModel.layerWith(simulated),
      Layer.effectDiscard(
        Effect.logWarning(
          "No OPENAI_API_KEY or OPENAI_BASE_URL set: using the OFFLINE SIMULATED MODEL. It is a deterministic " +
            "script (arithmetic and the current time through the demo tools), not a language model."
        )
      )
    )

/**
 * Everything the API needs, for a given model, pipeline and monitor; it also
 * provides the agent runtime, so that `main` can wait on its escalations.
 * The runtime is built on the monitor, so on shutdown the agents drain before
 * telemetry flushes.
 */
export const apiLayer = (file: ConfigFile) =>
  HttpApiBuilder.api(Api.Api).pipe(
    Layer.provide([HealthLive, AgentsLive(file), KnowledgeLive, ObservabilityLive, MonitoringLive, RunsLive, ProposalsLive]),
    // The meta-layer's proposals live in the service's own SQLite file.
    Layer.provide(ProposalStore.layer.pipe(Layer.provide(Patinox.databaseSqlClient))),
    // The meta-layer's scheduled passes, on the same file and behaviour folder as the agents.
    Layer.merge(Meta.layer(file.meta).pipe(Layer.provide(Patinox.databaseSqlClient))),
    Layer.provideMerge(agentsLayer(file))
  )

/**
 * The agents from the behaviour folder, on their runtime: what the API and
 * `patinox run` host. It also provides the runtime (so that `main` can wait
 * on its escalations) and the folder.
 */
export const agentsLayer = (file: ConfigFile) =>
  Agents.DefaultWithoutDependencies.pipe(
    // What an agent's own `validation` settings override.
    Layer.provide(Layer.succeed(ServiceValidation, file.validation)),
    Layer.provideMerge(BehaviourDir.layer(file.agents.behaviourDir)),
    Layer.provideMerge(
      AgentRuntime.layer({
        shutdownDeadline: Duration.millis(file.agents.shutdownDeadlineMs),
        maxDelegationDepth: file.agents.maxDelegationDepth,
        askTimeout: Duration.millis(file.agents.askTimeoutMs),
        onShutdown: (summary) =>
          Effect.logInfo(`Agents stopped: drained=${summary.drained} in ${summary.durationMs} ms`)
      })
    )
  )

/**
 * The HTTP server on `config.host:config.port`, logging the URL it listens on.
 * It also provides `HttpServer`, so that a caller that asked for port 0 can
 * read the port it got. On shutdown it answers the requests in flight before
 * the agents and telemetry beneath it stop (see `GracefulShutdown`).
 */
export const serverLayer = (config: AppConfig, file: ConfigFile) =>
  Layer.unwrapEffect(Effect.map(Security.settings(config, file.server), (security) =>
    GracefulShutdown.layer(
      // One deadline for the requests in flight; the agents then drain on the same budget.
      { host: config.host, port: config.port, deadline: Duration.millis(file.agents.shutdownDeadlineMs) },
      // Shutdown's 503s stay outermost, before authentication and logging.
      HttpApiBuilder.serve((app) =>
        GracefulShutdown.middleware(RequestLog.middleware(Security.middleware(security)(app)))
      ).pipe(
        // RequestLog's span replaces the platform's, which records the URL unredacted.
        HttpMiddleware.withTracerDisabledWhen(() => true),
        Layer.provide(ErrorResponse.layer),
        // The OpenAPI document derived from the API's schemas, and Scalar's reference UI over it, served
        // from the bundled script (no CDN: it works offline).
        Layer.provide(Layer.merge(HttpApiBuilder.middlewareOpenApi(), HttpApiScalar.layer({ path: "/docs" }))),
        // The dashboard's page and scripts at / and /dashboard/*, from the built folder.
        Layer.provide(Dashboard.layer(config.dashboardDir)),
        Layer.provideMerge(apiLayer(file)),
        HttpServer.withLogAddress
      )
    )))

/**
 * The whole service: the model from the environment, the validation stack and
 * the knowledge base from the config file, the monitor.
 */
export const layer = (config: AppConfig, file: ConfigFile) =>
  serviceLayer(config, file, modelLayer(config, file.simulatedModel))

/**
 * What agents run on, beneath the HTTP server: `Patinox.layer` (validation,
 * monitoring and the telemetry store on one SQLite file, OpenTelemetry) on
 * the given model. `serviceLayer` puts the server on it; the peer benchmark
 * runs agents on it directly.
 */
export const withAgentServices = <E>(
  file: ConfigFile,
  model: Layer.Layer<LanguageModel.LanguageModel, E>,
  options: { readonly spanProcessors?: ReadonlyArray<SpanProcessor> | undefined } = {}
) =>
<ROut, E2, RIn>(self: Layer.Layer<ROut, E2, RIn>) =>
  Layer.provideMerge(
    self,
    // The local-model validators, when configured, on top of the configured stack: the pipeline the agents get.
    Layer.provideMerge(LocalModel.layer(file.localModel), Patinox.layer(file, { model, spanProcessors: options.spanProcessors }))
  )

/** The service on a given model (tests give the simulated model or a fake endpoint). */
export const serviceLayer = <E>(
  config: AppConfig,
  file: ConfigFile,
  model: Layer.Layer<LanguageModel.LanguageModel, E>,
  options: { readonly spanProcessors?: ReadonlyArray<SpanProcessor> | undefined } = {}
) => withAgentServices(file, model, options)(serverLayer(config, file))
