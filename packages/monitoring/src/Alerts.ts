/**
 * Alert rules evaluated on a schedule over a sliding window of recent
 * events. A rule whose condition holds for `forMs` fires: an `alert.firing`
 * event is reported, the alert is kept in the in-memory history, and its
 * actions run (`log`; `{ webhook }`, an HTTP POST of the alert as JSON,
 * retried with exponential backoff; `disable_tool`, which switches the
 * breaching tool off in `ToolSwitch` until a person enables it). When the
 * condition stops holding (or the window has no data for it any more) the
 * alert resolves: `alert.resolved`, history, `log` and webhook again.
 *
 * Tool and model metrics are per subject: a rule's `subject` names one tool
 * or model, `"*"` evaluates each separately, and no subject evaluates all
 * together (subject `all`).
 *
 * The window keeps only what the rules read: tool outcomes when a rule has a
 * `tool.*` metric, model outcomes for an `llm.*` one. Without rules (the
 * default) the monitor keeps no outcome at all.
 *
 * @since 0.1.0
 */
import { Monitor, type TelemetryEvent } from "@patinox/core"
import { Clock, Context, Effect, FiberSet, Layer, Schedule, Schema, type Scope } from "effect"
import * as AsyncMonitor from "./AsyncMonitor.js"
import { EventBus } from "./EventBus.js"
import { contextNumber, contextString, percentile, Ring } from "./internal/stats.js"
import * as MonitoringConfig from "./MonitoringConfig.js"
import { monitoringAgentId } from "./PerformanceMonitor.js"
import { ToolSwitch } from "./ToolSwitch.js"

export {
  /** @since 0.1.0 @category schemas */
  AlertAction,
  /** @since 0.1.0 @category schemas */
  AlertRule,
  /** @since 0.1.0 @category schemas */
  AlertsConfig
} from "./MonitoringConfig.js"

/** @since 0.1.0 @category models */
export interface AlertEvent {
  /** The firing's id: its resolution carries the same one; a new firing gets a new one. */
  readonly id: string
  readonly status: "firing" | "resolved"
  readonly rule: string
  readonly metric: MonitoringConfig.AlertMetric
  readonly subject: string
  readonly comparison: MonitoringConfig.Comparison
  readonly threshold: number
  readonly severity: MonitoringConfig.Severity
  /** The value when the alert fired or resolved (undefined: no data left in the window). */
  readonly value: number | undefined
  /** When the condition started to hold. */
  readonly since: number
  readonly at: number
}

/** @since 0.1.0 @category models */
export interface ActiveAlert {
  readonly id: string
  readonly rule: string
  readonly subject: string
  readonly severity: MonitoringConfig.Severity
  readonly value: number
  readonly since: number
  readonly firedAt: number
  /** A person has seen it; it stays active (and keeps the status `warning`) until it resolves. */
  readonly acknowledged: boolean
  readonly acknowledgedAt?: number | undefined
}

/** No alert with this id is firing (it never did, or it has resolved). @since 0.1.0 @category errors */
export class AlertNotFound extends Schema.TaggedError<AlertNotFound>("@patinox/monitoring/AlertNotFound")(
  "AlertNotFound",
  { id: Schema.String }
) {
  override get message(): string {
    return `No active alert with id "${this.id}"`
  }
}

/** @since 0.1.0 @category errors */
export class WebhookFailed extends Schema.TaggedError<WebhookFailed>("@patinox/monitoring/WebhookFailed")(
  "WebhookFailed",
  {
    url: Schema.String,
    status: Schema.optional(Schema.Number),
    reason: Schema.String
  }
) {}

/** @since 0.1.0 @category models */
export interface Service {
  /** Alerts firing now. */
  readonly active: Effect.Effect<ReadonlyArray<ActiveAlert>>
  /** Firing and resolved events, oldest first, at most `historySize`. */
  readonly history: Effect.Effect<ReadonlyArray<AlertEvent>>
  /** Marks an active alert as seen, once (a second call keeps the first time); it stays active. */
  readonly acknowledge: (id: string) => Effect.Effect<ActiveAlert, AlertNotFound>
  /** Evaluates every rule now (the schedule does this every `evaluationIntervalMs`). */
  readonly evaluate: Effect.Effect<void>
  readonly monitor: AsyncMonitor.AsyncMonitor
}

/** @since 0.1.0 @category tags */
export class Alerts extends Context.Tag("@patinox/monitoring/Alerts")<Alerts, Service>() {}

/** @since 0.1.0 @category predicates */
export const compare = (value: number, comparison: MonitoringConfig.Comparison, threshold: number): boolean => {
  switch (comparison) {
    case ">":
      return value > threshold
    case ">=":
      return value >= threshold
    case "<":
      return value < threshold
    case "<=":
      return value <= threshold
  }
}

/**
 * POSTs `payload` as JSON to `url`; a network error, a timeout or a non-2xx
 * answer is retried `retries` times, waiting `baseDelayMs`, then twice that,
 * and so on.
 *
 * @since 0.1.0 @category actions
 */
export const deliverWebhook = (
  url: string,
  payload: unknown,
  config: MonitoringConfig.WebhookConfig = MonitoringConfig.defaults.alerts.webhook
): Effect.Effect<void, WebhookFailed> => {
  const body = JSON.stringify(payload)
  const attempt = Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal
      })
      // Read the body so the connection is released.
      await response.arrayBuffer()
      return response.status
    },
    catch: (error) => new WebhookFailed({ url, reason: error instanceof Error ? error.message : String(error) })
  }).pipe(
    Effect.timeoutFail({
      duration: `${config.timeoutMs} millis`,
      onTimeout: () => new WebhookFailed({ url, reason: `no answer within ${config.timeoutMs} ms` })
    }),
    Effect.filterOrFail(
      (status) => status >= 200 && status < 300,
      (status) => new WebhookFailed({ url, status, reason: `answered ${status}` })
    )
  )
  return attempt.pipe(
    Effect.retry(
      Schedule.exponential(`${config.baseDelayMs} millis`).pipe(Schedule.intersect(Schedule.recurs(config.retries)))
    ),
    Effect.asVoid,
    Effect.withSpan("Alerts.deliverWebhook", { attributes: { "url.full": url } })
  )
}

interface Outcome {
  readonly at: number
  readonly subject: string
  readonly failed: boolean
  readonly latencyMs: number | undefined
}

interface RuleState {
  since: number | undefined
  firedAt: number | undefined
  /** Set when it fires. */
  id: string | undefined
  acknowledgedAt: number | undefined
  value: number
}

const mebibyte = 1024 * 1024

/**
 * Builds the evaluator; `layer` starts its monitor on the bus and the
 * evaluation schedule. Actions other than `disable_tool` run in fibers of
 * the scope, so a slow webhook never delays the next evaluation.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  config: MonitoringConfig.AlertsConfig = MonitoringConfig.defaults.alerts
): Effect.Effect<Service, never, EventBus | Monitor.Monitor | ToolSwitch | Scope.Scope> =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const monitor = yield* Monitor.Monitor
    const toolSwitch = yield* ToolSwitch
    const actions = yield* FiberSet.make<void, never>()
    const maxOutcomes = config.maxWindowEvents
    const tools = new Ring<Outcome>(maxOutcomes)
    const models = new Ring<Outcome>(maxOutcomes)
    const keepsTools = config.rules.some((rule) => rule.metric.startsWith("tool."))
    const keepsModels = config.rules.some((rule) => rule.metric.startsWith("llm."))
    let cpuPercent: { at: number; value: number } | undefined
    let rssBytes: { at: number; value: number } | undefined
    const droppedSamples = new Ring<{ at: number; total: number }>(4_096)
    const states = new Map<string, RuleState>()
    const history = new Ring<AlertEvent>(config.historySize)
    let observed = 0

    const observeNow = (event: TelemetryEvent.TelemetryEvent) => {
      observed++
      switch (event.type) {
        case "tool.end":
        case "tool.error":
          if (!keepsTools) return
          tools.push({
            at: event.timestamp,
            subject: contextString(event, "tool") ?? "unknown",
            failed: event.type === "tool.error",
            latencyMs: event.metrics.latencyMs
          })
          return
        case "model.response":
        case "model.error":
          if (!keepsModels) return
          models.push({
            at: event.timestamp,
            subject: contextString(event, "model") ?? "unknown",
            failed: event.type === "model.error",
            latencyMs: event.metrics.latencyMs
          })
          return
        case "system.sample": {
          const cpu = contextNumber(event, "cpuPercent")
          if (cpu !== undefined) cpuPercent = { at: event.timestamp, value: cpu }
          const rss = contextNumber(event, "rssBytes")
          if (rss !== undefined) rssBytes = { at: event.timestamp, value: rss }
          return
        }
        case "memory.sample": {
          const rss = contextNumber(event, "rss") ?? event.metrics.memoryBytes
          if (rss !== undefined) rssBytes = { at: event.timestamp, value: rss }
          return
        }
        default:
          return
      }
    }

    /** Values of a rule's metric per subject over the window ending at `now`. */
    const valuesOf = (rule: MonitoringConfig.AlertRule, now: number, dropped: number): Map<string, number> => {
      const from = now - config.windowMs
      const out = new Map<string, number>()
      const bySubject = (ring: Ring<Outcome>, reduce: (outcomes: ReadonlyArray<Outcome>) => number | undefined) => {
        const groups = new Map<string, Array<Outcome>>()
        for (const outcome of ring.toArray()) {
          if (outcome.at < from || outcome.at > now) continue
          const key = rule.subject === undefined ? "all" : outcome.subject
          if (rule.subject !== undefined && rule.subject !== "*" && rule.subject !== outcome.subject) continue
          let group = groups.get(key)
          if (group === undefined) groups.set(key, group = [])
          group.push(outcome)
        }
        for (const [subject, outcomes] of groups) {
          const value = reduce(outcomes)
          if (value !== undefined) out.set(subject, value)
        }
      }
      const errorRate = (outcomes: ReadonlyArray<Outcome>) =>
        outcomes.length === 0 ? undefined : outcomes.filter((o) => o.failed).length / outcomes.length
      const p95 = (outcomes: ReadonlyArray<Outcome>) => {
        const latencies = outcomes.flatMap((o) => (o.latencyMs === undefined ? [] : [o.latencyMs]))
        return latencies.length === 0 ? undefined : percentile(latencies, 95)
      }
      switch (rule.metric) {
        case "tool.error_rate":
          bySubject(tools, errorRate)
          break
        case "tool.p95_ms":
          bySubject(tools, p95)
          break
        case "llm.error_rate":
          bySubject(models, errorRate)
          break
        case "llm.p95_ms":
          bySubject(models, p95)
          break
        case "system.cpu":
          if (cpuPercent !== undefined && cpuPercent.at >= from) out.set("host", cpuPercent.value)
          break
        case "process.rss_mb":
          if (rssBytes !== undefined && rssBytes.at >= from) out.set("process", rssBytes.value / mebibyte)
          break
        case "monitoring.dropped": {
          // Drops within the window: now's total minus the total at the window's start.
          const base = droppedSamples.toArray().find((sample) => sample.at >= from)
          out.set("bus", dropped - (base?.total ?? dropped))
          break
        }
      }
      return out
    }

    const toolOf = (rule: MonitoringConfig.AlertRule, subject: string): string | undefined =>
      rule.metric.startsWith("tool.") && subject !== "all" ? subject : undefined

    const runActions = (rule: MonitoringConfig.AlertRule, alert: AlertEvent) =>
      Effect.forEach(rule.actions, (action) => {
        if (action === "log") {
          const message = `alert ${alert.rule} ${alert.status}: ${alert.metric}${
            alert.subject === "all" ? "" : `[${alert.subject}]`
          } = ${alert.value ?? "no data"} (${alert.comparison} ${alert.threshold})`
          const log = alert.status === "resolved"
            ? Effect.logInfo(message)
            : alert.severity === "critical"
            ? Effect.logError(message)
            : alert.severity === "warning"
            ? Effect.logWarning(message)
            : Effect.logInfo(message)
          return Effect.annotateLogs(log, { alert: alert.rule, subject: alert.subject, severity: alert.severity })
        }
        if (action === "disable_tool") {
          const tool = toolOf(rule, alert.subject)
          if (alert.status !== "firing") return Effect.void
          return tool === undefined
            ? Effect.logWarning(`alert ${rule.name}: disable_tool needs a tool metric with a tool subject`)
            : toolSwitch.disable(
              tool,
              `alert ${rule.name}: ${rule.metric} ${alert.value} ${rule.comparison} ${rule.threshold} for ${rule.forMs} ms`
            )
        }
        return FiberSet.run(
          actions,
          deliverWebhook(action.webhook, { ...alert, value: alert.value ?? null }, config.webhook).pipe(
            Effect.catchTag("WebhookFailed", (error) =>
              Effect.logWarning(`alert ${rule.name}: webhook ${error.url} failed: ${error.reason}`))
          )
        ).pipe(Effect.asVoid)
      }, { discard: true })

    const emit = (rule: MonitoringConfig.AlertRule, alert: AlertEvent) =>
      Effect.gen(function*() {
        history.push(alert)
        yield* Monitor.report({
          type: alert.status === "firing" ? "alert.firing" : "alert.resolved",
          agentId: monitoringAgentId,
          context: { ...alert, value: alert.value ?? null }
        }).pipe(Effect.provideService(Monitor.Monitor, monitor))
        yield* runActions(rule, alert)
      })

    const evaluate = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const dropped = yield* bus.dropped
      droppedSamples.push({ at: now, total: dropped })
      for (const rule of config.rules) {
        const values = valuesOf(rule, now, dropped)
        const seen = new Set<string>()
        const alertOf = (
          id: string,
          subject: string,
          status: AlertEvent["status"],
          value: number | undefined,
          since: number
        ): AlertEvent => ({
          id,
          status,
          rule: rule.name,
          metric: rule.metric,
          subject,
          comparison: rule.comparison,
          threshold: rule.threshold,
          severity: rule.severity,
          value,
          since,
          at: now
        })
        for (const [subject, value] of values) {
          const key = `${rule.name}\u0000${subject}`
          seen.add(key)
          const state: RuleState = states.get(key) ??
            { since: undefined, firedAt: undefined, id: undefined, acknowledgedAt: undefined, value }
          state.value = value
          states.set(key, state)
          if (compare(value, rule.comparison, rule.threshold)) {
            state.since ??= now
            if (state.firedAt === undefined && now - state.since >= rule.forMs) {
              state.firedAt = now
              const id = yield* Effect.sync(() => crypto.randomUUID())
              state.id = id
              yield* emit(rule, alertOf(id, subject, "firing", value, state.since))
            }
          } else {
            if (state.firedAt !== undefined) {
              yield* emit(rule, alertOf(state.id ?? "", subject, "resolved", value, state.since ?? now))
            }
            states.delete(key)
          }
        }
        // Subjects with no data left in the window are no longer breaching.
        for (const [key, state] of states) {
          if (!key.startsWith(`${rule.name}\u0000`) || seen.has(key)) continue
          if (state.firedAt !== undefined) {
            const subject = key.slice(rule.name.length + 1)
            yield* emit(rule, alertOf(state.id ?? "", subject, "resolved", undefined, state.since ?? now))
          }
          states.delete(key)
        }
      }
    }).pipe(Effect.withSpan("Alerts.evaluate"))

    const activeOf = (key: string, state: RuleState): ActiveAlert | undefined => {
      if (state.firedAt === undefined || state.id === undefined) return undefined
      const [rule = "", subject = ""] = key.split("\u0000")
      const severity = config.rules.find((r) => r.name === rule)?.severity ?? "warning"
      return {
        id: state.id,
        rule,
        subject,
        severity,
        value: state.value,
        since: state.since ?? state.firedAt,
        firedAt: state.firedAt,
        acknowledged: state.acknowledgedAt !== undefined,
        ...(state.acknowledgedAt === undefined ? {} : { acknowledgedAt: state.acknowledgedAt })
      }
    }

    const active = Effect.sync(() => {
      const out: Array<ActiveAlert> = []
      for (const [key, state] of states) {
        const alert = activeOf(key, state)
        if (alert !== undefined) out.push(alert)
      }
      return out
    })

    const acknowledge = Effect.fn("Alerts.acknowledge")(function*(id: string) {
      const now = yield* Clock.currentTimeMillis
      for (const [key, state] of states) {
        if (state.id !== id) continue
        state.acknowledgedAt ??= now
        const alert = activeOf(key, state)
        if (alert !== undefined) return alert
      }
      return yield* new AlertNotFound({ id })
    })

    const analyze = Effect.map(active, (alerts): ReadonlyArray<AsyncMonitor.Pattern> =>
      alerts.map((alert) => ({
        kind: "alert",
        subject: `${alert.rule}:${alert.subject}`,
        severity: alert.severity,
        evidence: { since: alert.since, firedAt: alert.firedAt },
        value: alert.value
      })))

    return {
      active,
      history: Effect.sync(() => history.toArray()),
      acknowledge,
      evaluate,
      monitor: AsyncMonitor.fromSync({
        name: "alerts",
        observe: observeNow,
        analyze,
        report: Effect.gen(function*() {
          return {
            monitor: "alerts",
            generatedAt: yield* Clock.currentTimeMillis,
            observed,
            patterns: yield* analyze,
            summary: { rules: config.rules.length, history: history.size, window: { tools: tools.size, models: models.size } }
          }
        })
      })
    } satisfies Service
  })

/**
 * The alerts monitor on the bus (sampled per config: `alerts`, keep it 1)
 * and the evaluation every `evaluationIntervalMs`, both stopping with the layer.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  config: MonitoringConfig.MonitoringConfig = MonitoringConfig.defaults
): Layer.Layer<Alerts, never, EventBus | Monitor.Monitor | ToolSwitch> =>
  Layer.scoped(
    Alerts,
    Effect.gen(function*() {
      const service = yield* make(config.alerts)
      yield* AsyncMonitor.startWith(service.monitor, config)
      yield* service.evaluate.pipe(
        Effect.repeat(Schedule.spaced(`${config.alerts.evaluationIntervalMs} millis`)),
        Effect.delay(`${config.alerts.evaluationIntervalMs} millis`),
        Effect.forkScoped
      )
      return service
    })
  )
