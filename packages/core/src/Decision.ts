/**
 * A validator's verdict on an action, and the record of it that monitoring keeps.
 *
 * @since 0.1.0
 */
import { Data, Schema } from "effect"
import type { AgentAction } from "./AgentAction.js"

/**
 * - `Approved`: go on unchanged.
 * - `Modified`: go on with this action instead (only from validators allowed to modify).
 * - `Rejected`: stop the action.
 * - `Retry`: wait `delayMs`, then validate again, or feed `feedback` back to the model.
 *
 * @since 0.1.0 @category models
 */
export type Decision = Data.TaggedEnum<{
  Approved: {}
  Modified: { readonly action: AgentAction; readonly reason: string }
  /** `retryAfterMs`: when the action would pass if tried again (a rate limit), for a caller's Retry-After. */
  Rejected: { readonly reason: string; readonly score?: number | undefined; readonly retryAfterMs?: number | undefined }
  Retry: { readonly delayMs: number; readonly feedback: string }
}>

/** @since 0.1.0 @category constructors */
export const { Approved, Modified, Rejected, Retry, $is: isDecision, $match: match } = Data.taggedEnum<Decision>()

/** @since 0.1.0 @category schemas */
export const DecisionKind = Schema.Literal("approved", "modified", "rejected", "retry")
/** @since 0.1.0 @category models */
export type DecisionKind = typeof DecisionKind.Type

/** What is recorded for every decision. @since 0.1.0 @category schemas */
export class DecisionRecord extends Schema.Class<DecisionRecord>("@patinox/core/DecisionRecord")({
  validator: Schema.String,
  stage: Schema.String,
  decision: DecisionKind,
  reason: Schema.optional(Schema.String),
  score: Schema.optional(Schema.Number),
  latencyMs: Schema.Number
}) {}

/** @since 0.1.0 @category accessors */
export const kindOf = (decision: Decision): DecisionKind => {
  switch (decision._tag) {
    case "Approved":
      return "approved"
    case "Modified":
      return "modified"
    case "Rejected":
      return "rejected"
    case "Retry":
      return "retry"
  }
}
