// The API's wire shapes the dashboard reads (docs/http-api.md, the contract of issue 26).
// Plain interfaces: the page bundles no Schema, it only displays what the service sends.

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

export interface RunListItem {
  readonly runId: string
  readonly agent: string
  readonly status: "running" | "succeeded" | "failed"
  readonly startedAt: number
  readonly endedAt?: number
  readonly durationMs?: number
  readonly tokensIn?: number
  readonly tokensOut?: number
  readonly cost?: number
  readonly error?: string
  readonly errorMessage?: string
}

export type DecisionKind = "approved" | "modified" | "rejected" | "retried"

export interface Decision {
  readonly validator: string
  readonly stage: string
  readonly decision: DecisionKind
  readonly reason?: string
  readonly durationMs?: number
}

export interface ToolCall {
  readonly tool: string
  readonly startedAt: number
  readonly durationMs?: number
  readonly status: "ok" | "error" | "running"
  readonly error?: string
}

export interface Step {
  readonly index: number
  readonly startedAt: number
  readonly durationMs?: number
  readonly model?: {
    readonly name: string
    readonly latencyMs?: number
    readonly tokensIn?: number
    readonly tokensOut?: number
    readonly cost?: number
    readonly error?: string
  }
  readonly toolCalls: ReadonlyArray<ToolCall>
  readonly decisions: ReadonlyArray<Decision>
}

export interface RunTrace {
  readonly run: RunListItem
  readonly input?: string
  readonly output?: string
  readonly steps: ReadonlyArray<Step>
  readonly decisions: ReadonlyArray<Decision>
  readonly totals: { readonly tokensIn: number; readonly tokensOut: number; readonly cost: number; readonly durationMs?: number }
}

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

export interface ProposalSummary {
  readonly id: string
  readonly title: string
  readonly state: "open" | "dismissed" | "merged" | "superseded"
  readonly createdAt: number
  readonly url?: string
}

export interface ProposalDetail extends ProposalSummary {
  readonly target: { readonly agent?: string; readonly tool?: string; readonly model?: string }
  readonly diff: string
  readonly evidence: {
    readonly query: string
    readonly before: Readonly<Record<string, number>>
    readonly expected: string
    readonly replay?: { readonly before: Readonly<Record<string, number>>; readonly after: Readonly<Record<string, number>> }
  }
  readonly dismissedReason?: string
}
