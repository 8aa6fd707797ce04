// The API's wire shapes the dashboard reads: the encoded types of the schemas in
// `@patinox/patinox/Api`, imported as types only, so the page bundles no Schema
// and a change to the API is a type error here.
import type * as Api from "@patinox/patinox/Api"

export type Health = typeof Api.Health.Encoded

export interface MonitorStatus {
  readonly state: "idle" | "active" | "warning"
  readonly primaryMetric: { readonly name: string; readonly value: number; readonly limit: number; readonly unit: string }
  readonly secondaryMetric: { readonly name: string; readonly value: number; readonly unit: string }
  readonly lastActivity: number | null
  readonly message: string
}

export interface MemorySample {
  readonly timestamp: number
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
}

export interface PerformanceMetrics {
  readonly memory: { readonly samples: ReadonlyArray<MemorySample>; readonly peakRss: number; readonly peakHeapUsed: number }
}

export type RunListItem = typeof Api.RunListItem.Encoded
export type DecisionKind = typeof Api.RunDecisionKind.Type
export type Decision = typeof Api.RunDecision.Encoded
export type ToolCall = typeof Api.ToolCallTrace.Encoded
export type Step = typeof Api.RunStep.Encoded
export type RunTrace = typeof Api.RunTrace.Encoded

export interface Bucket {
  readonly t: number
  readonly runs: number
  readonly failedRuns: number
  readonly llmCalls: number
  readonly tokensIn: number
  readonly tokensOut: number
  readonly cost: number
  readonly toolCalls: number
  readonly toolErrors: number
  readonly decisions: Readonly<Record<DecisionKind, number>>
}

export interface Timeseries {
  readonly window: { readonly since: number; readonly until: number }
  readonly bucketMs: number
  readonly buckets: ReadonlyArray<Bucket>
}

export interface LatencyPercentiles {
  readonly key: string
  readonly count: number
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly mean: number
  readonly max: number
}

export interface ErrorRate {
  readonly key: string
  readonly total: number
  readonly errors: number
  readonly rate: number
}

export interface DecisionCount {
  readonly validator: string
  readonly decision: string
  readonly count: number
}

export interface TelemetrySummary {
  readonly toolLatency: ReadonlyArray<LatencyPercentiles>
  readonly toolErrors: ReadonlyArray<ErrorRate>
  readonly decisions: ReadonlyArray<DecisionCount>
}

export interface ActiveAlert {
  readonly id: string
  readonly rule: string
  readonly subject: string
  readonly severity: string
  readonly value: number
  readonly since: number
  readonly firedAt: number
  readonly acknowledged: boolean
  readonly acknowledgedAt?: number
}

export interface Alerts {
  readonly active: ReadonlyArray<ActiveAlert>
}

export type ProposalSummary = typeof Api.ProposalSummary.Encoded
export type ProposalDetail = typeof Api.ProposalDetail.Encoded
