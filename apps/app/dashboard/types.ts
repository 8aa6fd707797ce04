// The API's wire shapes the dashboard reads: the encoded types of the schemas in
// `@patinox/patinox/Api`, imported as types only, so the page bundles no Schema
// and a change to the API is a type error here.
import type * as Api from "@patinox/patinox/Api"

export type Health = typeof Api.Health.Encoded

export type MonitorStatus = typeof Api.MonitorStatus.Encoded
export type PerformanceMetrics = typeof Api.PerformanceMetrics.Encoded
export type Alerts = typeof Api.AlertsView.Encoded

export type RunListItem = typeof Api.RunListItem.Encoded
export type DecisionKind = typeof Api.RunDecisionKind.Type
export type Decision = typeof Api.RunDecision.Encoded
export type ToolCall = typeof Api.ToolCallTrace.Encoded
export type Step = typeof Api.RunStep.Encoded
export type RunTrace = typeof Api.RunTrace.Encoded

export type Timeseries = typeof Api.Timeseries.Encoded
export type TelemetrySummary = typeof Api.TelemetrySummary.Encoded

export type ProposalSummary = typeof Api.ProposalSummary.Encoded
export type ProposalDetail = typeof Api.ProposalDetail.Encoded
