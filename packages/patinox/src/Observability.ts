/**
 * OpenTelemetry for the service: Effect's spans and metrics go through
 * `@effect/opentelemetry`'s Node SDK. Metrics are read by a Prometheus
 * exporter that does not start a server of its own; `GET /metrics` on the
 * service's port serialises what it collects. Traces go out by OTLP when an
 * endpoint is configured, sampled at the configured rate.
 */
import { NodeSdk } from "@effect/opentelemetry"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import { Context, Effect, Layer, Schema } from "effect"

export const ObservabilityConfig = Schema.Struct({
  serviceName: Schema.optionalWith(Schema.NonEmptyString, { default: () => "patinox" }),
  /** OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces; none: traces stay in-process. */
  otlpEndpoint: Schema.optional(Schema.NonEmptyString),
  /** Share of root traces exported (children follow their parent's decision). */
  sampleRate: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 1 })
})
export type ObservabilityConfig = typeof ObservabilityConfig.Type

/** Renders the current metrics in the Prometheus text format. */
export class PrometheusMetrics extends Context.Tag("@patinox/patinox/PrometheusMetrics")<
  PrometheusMetrics,
  { readonly render: Effect.Effect<string> }
>() {}

/**
 * The SDK and the Prometheus renderer. `extraSpanProcessors` lets tests
 * capture spans in memory.
 */
export const layer = (
  config: ObservabilityConfig,
  extraSpanProcessors: ReadonlyArray<SpanProcessor> = []
): Layer.Layer<PrometheusMetrics> =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      const exporter = new PrometheusExporter({ preventServerStart: true })
      const serializer = new PrometheusSerializer()
      const processors: Array<SpanProcessor> = [...extraSpanProcessors]
      if (config.otlpEndpoint !== undefined) {
        processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: config.otlpEndpoint })))
      }
      const sdk = NodeSdk.layer(() => ({
        resource: { serviceName: config.serviceName, serviceVersion: "0.1.0" },
        metricReader: exporter,
        spanProcessor: processors,
        tracerConfig: { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRate) }) }
      }))
      const render = Effect.promise(() => exporter.collect()).pipe(
        Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
      )
      return Layer.merge(Layer.discard(sdk), Layer.succeed(PrometheusMetrics, { render }))
    })
  )
