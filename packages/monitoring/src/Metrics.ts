/**
 * Effect `Metric`s fed from the event stream by a monitor fiber. The GenAI
 * ones follow the OpenTelemetry semantic conventions for generative AI
 * clients (names, attributes and suggested bucket boundaries); the others are
 * Patinox's own (`patinox_*`) or the OpenTelemetry system/process
 * conventions (see `SystemMetrics`). The app exports Effect metrics through
 * `@effect/opentelemetry`; this module only defines and updates them.
 *
 * Labels are bounded by what the agents use (tool, model, validator,
 * dependency and agent names, event types), never by ids.
 *
 * @since 0.1.0
 */
import type { TelemetryEvent } from "@patinox/core"
import { Clock, Context, Effect, Layer, Metric, MetricBoundaries, MetricLabel } from "effect"
import * as AsyncMonitor from "./AsyncMonitor.js"
import * as EventBus from "./EventBus.js"
import { BoundedMap, contextString, errorTagOf, modelCallKey } from "./internal/stats.js"
import * as MonitoringConfig from "./MonitoringConfig.js"

/** GenAI semconv token buckets: 1, 4, 16, ..., 67108864. @since 0.1.0 @category boundaries */
export const tokenBoundaries = MetricBoundaries.fromIterable(Array.from({ length: 14 }, (_, i) => 4 ** i))

/** GenAI semconv duration buckets in seconds: 0.01, 0.02, ..., 81.92. @since 0.1.0 @category boundaries */
export const durationBoundaries = MetricBoundaries.fromIterable(
  [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
)

/** Tool durations in seconds: 1 ms to about 65 s. @since 0.1.0 @category boundaries */
export const toolDurationBoundaries = MetricBoundaries.fromIterable(Array.from({ length: 17 }, (_, i) => 0.001 * 2 ** i))

/**
 * `gen_ai.client.token.usage`: tokens per model call; attributes
 * `gen_ai.token.type` (input | output), `gen_ai.request.model`,
 * `gen_ai.response.model`, `gen_ai.provider.name`, `gen_ai.operation.name`.
 *
 * @since 0.1.0 @category metrics
 */
export const tokenUsage = Metric.histogram(
  "gen_ai.client.token.usage",
  tokenBoundaries,
  "Measures number of input and output tokens used"
)

/**
 * `gen_ai.client.operation.duration` in seconds; same attributes as
 * `tokenUsage` (without the token type) plus `error.type` on failures.
 *
 * @since 0.1.0 @category metrics
 */
export const operationDuration = Metric.histogram(
  "gen_ai.client.operation.duration",
  durationBoundaries,
  "GenAI operation duration (s)"
)

/** `patinox_agent_actions_total` by `type` (event type) and `agent` (agent id). @since 0.1.0 @category metrics */
export const agentActions = Metric.counter("patinox_agent_actions_total", {
  description: "Actions agents took, by event type and agent",
  incremental: true
})

/** `patinox_tool_duration_seconds` by `tool` (and `error.type` on failures). @since 0.1.0 @category metrics */
export const toolDuration = Metric.histogram(
  "patinox_tool_duration_seconds",
  toolDurationBoundaries,
  "Tool execution time as measured by the agent loop (s)"
)

/** `patinox_validator_decisions_total` by `validator`, `decision` and `stage`. @since 0.1.0 @category metrics */
export const validatorDecisions = Metric.counter("patinox_validator_decisions_total", {
  description: "Validator decisions, by validator, decision and stage",
  incremental: true
})

/** `patinox_monitoring_dropped_events_total` (updated by the bus itself). @since 0.1.0 @category metrics */
export const droppedEvents = EventBus.droppedEvents

/**
 * `patinox_circuit_breaker_state` by `dependency`: 0 closed, 1 half-open, 2 open.
 *
 * @since 0.1.0 @category metrics
 */
export const circuitBreakerState = Metric.gauge("patinox_circuit_breaker_state", {
  description: "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open"
})

/** @since 0.1.0 @category metrics */
export const circuitStateValue = (state: string): number | undefined => {
  switch (state) {
    case "closed":
      return 0
    case "half_open":
    case "half-open":
      return 1
    case "open":
      return 2
    default:
      return undefined
  }
}

/**
 * Sets `patinox_circuit_breaker_state` for a dependency from a breaker's
 * state name; the service calls it at start for every dependency its agents
 * have, so the gauge is there before the first state change.
 *
 * @since 0.1.0 @category metrics
 */
export const recordCircuitState = (dependency: string, state: string): Effect.Effect<void> => {
  const value = circuitStateValue(state)
  return value === undefined
    ? Effect.void
    : Metric.set(Metric.tagged(circuitBreakerState, "dependency", dependency), value)
}

// -- system and process gauges (set by SystemMetrics) ------------------------------

/** Host CPU busy share since the previous sample, 0..1. @since 0.1.0 @category metrics */
export const systemCpuUtilization = Metric.gauge("system.cpu.utilization", { description: "Host CPU utilization, 0..1" })
/** @since 0.1.0 @category metrics */
export const systemLoadAverage = Metric.gauge("system.cpu.load_average.1m", { description: "Host 1-minute load average" })
/** This process's CPU time over wall time across all cores, 0..1. @since 0.1.0 @category metrics */
export const processCpuUtilization = Metric.gauge("process.cpu.utilization", {
  description: "Process CPU utilization over all cores, 0..1"
})
/** Host memory in bytes by `system.memory.state` (used | free). @since 0.1.0 @category metrics */
export const systemMemoryUsage = Metric.gauge("system.memory.usage", { description: "Host memory in bytes" })
/** @since 0.1.0 @category metrics */
export const systemMemoryLimit = Metric.gauge("system.memory.limit", { description: "Host total memory in bytes" })
/** Process resident set size in bytes. @since 0.1.0 @category metrics */
export const processMemoryUsage = Metric.gauge("process.memory.usage", { description: "Process RSS in bytes" })
/** V8 heap in bytes by `type` (used | total). @since 0.1.0 @category metrics */
export const processHeapUsage = Metric.gauge("v8js.memory.heap.used", { description: "V8 heap in bytes" })
/** Data directory filesystem in bytes by `system.filesystem.state` (used | free). @since 0.1.0 @category metrics */
export const filesystemUsage = Metric.gauge("system.filesystem.usage", { description: "Data directory filesystem bytes" })
/** @since 0.1.0 @category metrics */
export const filesystemLimit = Metric.gauge("system.filesystem.limit", { description: "Data directory filesystem size in bytes" })
/** Host network bytes since boot by `network.io.direction` (receive | transmit). @since 0.1.0 @category metrics */
export const networkIo = Metric.gauge("system.network.io", { description: "Host network bytes since boot (Linux)" })

/** @since 0.1.0 @category models */
export interface Service {
  readonly monitor: AsyncMonitor.AsyncMonitor
}

/** @since 0.1.0 @category tags */
export class Metrics extends Context.Tag("@patinox/monitoring/Metrics")<Metrics, Service>() {}

/** Label sets kept per `labelled`; past this the cache is cleared (the metrics stay registered). */
const MAX_LABEL_SETS = 10_000

/** Passed as the extra tags of every update: the tagged metric's own labels go through as they are. */
const noTags: ReadonlyArray<MetricLabel.MetricLabel> = []

/** The update of `labelled`'s metric for these label values, in the order of its names. */
type Find = (v0: string, v1?: string, v2?: string, v3?: string, v4?: string) => (input: number) => void

/**
 * Updates of `base` tagged with `names`, one `Metric.taggedWithLabels`
 * per set of values, kept in one Map per label: tagging the metric anew on
 * every event cost more than the update itself, and looking the tagged one up
 * by its values allocates nothing once they have been seen. Label sets are
 * bounded by what the agents use; the cache is cleared if it ever grows past
 * `MAX_LABEL_SETS`.
 */
const labelled = <Type>(base: Metric.Metric<Type, number, unknown>, ...names: ReadonlyArray<string>): Find => {
  type Level = Map<string, Level | ((input: number) => void)>
  let root: Level = new Map()
  let size = 0
  const find: Find = (v0, v1, v2, v3, v4) => {
    let at = root
    for (let i = 0; i < names.length - 1; i++) {
      const value = (i === 0 ? v0 : i === 1 ? v1 : i === 2 ? v2 : v3) ?? ""
      let next = at.get(value)
      if (next === undefined || typeof next === "function") {
        next = new Map()
        at.set(value, next)
      }
      at = next
    }
    const last = names.length - 1
    const value = (last === 0 ? v0 : last === 1 ? v1 : last === 2 ? v2 : last === 3 ? v3 : v4) ?? ""
    const known = at.get(value)
    if (typeof known === "function") return known
    if (size >= MAX_LABEL_SETS) {
      root = new Map()
      size = 0
      return find(v0, v1, v2, v3, v4)
    }
    const values = [v0, v1, v2, v3, v4]
    const metric = Metric.taggedWithLabels(base, names.map((name, i) => MetricLabel.make(name, values[i] ?? "")))
    const update = (input: number) => metric.unsafeUpdate(input, noTags)
    at.set(value, update)
    size++
    return update
  }
  return find
}

// The label sets, in the order the metrics carry them.
const OPERATION = "gen_ai.operation.name"
const PROVIDER = "gen_ai.provider.name"
const REQUEST_MODEL = "gen_ai.request.model"
const RESPONSE_MODEL = "gen_ai.response.model"
const ERROR_TYPE = "error.type"
const TOKEN_TYPE = "gen_ai.token.type"

/**
 * Builds the monitor updating the metrics above; `layer` starts it on the bus.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (options: { readonly maxPendingCalls?: number | undefined } = {}): Effect.Effect<Service> =>
  Effect.sync(() => {
    // The request's model, by request key, so responses carry `gen_ai.request.model` too.
    const requested = new BoundedMap<string, string>(options.maxPendingCalls ?? 1_000)
    // Per monitor: the caches are this monitor's.
    const actionCount = labelled(agentActions, "type", "agent")
    const duration = labelled(operationDuration, OPERATION, PROVIDER, REQUEST_MODEL)
    const durationWithResponse = labelled(operationDuration, OPERATION, PROVIDER, REQUEST_MODEL, RESPONSE_MODEL)
    const durationWithError = labelled(operationDuration, OPERATION, PROVIDER, REQUEST_MODEL, ERROR_TYPE)
    const tokenCount = labelled(tokenUsage, OPERATION, PROVIDER, REQUEST_MODEL, TOKEN_TYPE)
    const tokenCountWithResponse = labelled(tokenUsage, OPERATION, PROVIDER, REQUEST_MODEL, RESPONSE_MODEL, TOKEN_TYPE)
    const toolTime = labelled(toolDuration, "tool")
    const toolTimeWithError = labelled(toolDuration, "tool", ERROR_TYPE)
    const decisionCount = labelled(validatorDecisions, "validator", "decision", "stage")
    const breakerState = labelled(circuitBreakerState, "dependency")
    let observed = 0

    /** Token usage of one type, labelled as the call's duration is. */
    const addTokens = (provider: string, requestModel: string, responseModel: string | undefined, type: string, n: number) =>
      (responseModel === undefined
        ? tokenCount("chat", provider, requestModel, type)
        : tokenCountWithResponse("chat", provider, requestModel, responseModel, type))(n)

    const observeNow = (event: TelemetryEvent.TelemetryEvent): void => {
      observed++
      switch (event.type) {
        case "memory.sample":
        case "system.sample":
        case "alert.firing":
        case "alert.resolved":
          break
        default:
          actionCount(event.type, event.agentId)(1)
      }
      switch (event.type) {
        case "model.request": {
          const key = modelCallKey(event)
          const model = contextString(event, "model")
          if (key !== undefined && model !== undefined) requested.set(key, model)
          break
        }
        case "model.response":
        case "model.error": {
          const key = modelCallKey(event)
          const contextModel = contextString(event, "model")
          const requestModel = (key === undefined ? undefined : requested.get(key)) ?? contextModel ?? "unknown"
          if (key !== undefined) requested.delete(key)
          const provider = contextString(event, "provider") ?? "unknown"
          // Only a response names the model that answered.
          const responseModel = event.type === "model.response" ? contextModel : undefined
          const latencyMs = event.metrics.latencyMs
          if (latencyMs !== undefined && latencyMs >= 0) {
            const update = event.type === "model.error"
              ? durationWithError("chat", provider, requestModel, errorTagOf(event))
              : responseModel === undefined
              ? duration("chat", provider, requestModel)
              : durationWithResponse("chat", provider, requestModel, responseModel)
            update(latencyMs / 1000)
          }
          if (event.type === "model.response") {
            if (event.metrics.tokensIn !== undefined) {
              addTokens(provider, requestModel, responseModel, "input", event.metrics.tokensIn)
            }
            if (event.metrics.tokensOut !== undefined) {
              addTokens(provider, requestModel, responseModel, "output", event.metrics.tokensOut)
            }
          }
          break
        }
        case "tool.end":
        case "tool.error": {
          const latencyMs = event.metrics.latencyMs
          if (latencyMs !== undefined && latencyMs >= 0) {
            const tool = contextString(event, "tool") ?? "unknown"
            const update = event.type === "tool.error"
              ? toolTimeWithError(tool, errorTagOf(event))
              : toolTime(tool)
            update(latencyMs / 1000)
          }
          break
        }
        case "validation.decision": {
          for (const record of event.metrics.decisions ?? []) {
            decisionCount(record.validator, record.decision, record.stage)(1)
          }
          break
        }
        case "state.change": {
          const dependency = contextString(event, "dependency")
          const to = contextString(event, "to")
          const value = to === undefined ? undefined : circuitStateValue(to)
          if (dependency !== undefined && value !== undefined) {
            breakerState(dependency)(value)
          }
          break
        }
        default:
          break
      }
    }

    const monitor: AsyncMonitor.AsyncMonitor = AsyncMonitor.fromSync({
      name: "metrics",
      observe: observeNow,
      analyze: Effect.succeed([]),
      report: Effect.map(Clock.currentTimeMillis, (now) => ({
        monitor: "metrics",
        generatedAt: now,
        observed,
        patterns: [],
        summary: { pendingRequests: requested.size }
      }))
    })
    return { monitor }
  })

/**
 * The metrics monitor on the bus, sampled per config (`metrics`; keep it at
 * 1 so counters are exact).
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  config: MonitoringConfig.MonitoringConfig = MonitoringConfig.defaults
): Layer.Layer<Metrics, never, EventBus.EventBus> =>
  Layer.scoped(
    Metrics,
    Effect.tap(make({ maxPendingCalls: config.maxPendingRuns }), (service) => AsyncMonitor.startWith(service.monitor, config))
  )
