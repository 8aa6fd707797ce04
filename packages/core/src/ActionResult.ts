/**
 * What came of an action, as recorded by monitoring.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Usage } from "./Usage.js"

/** @since 0.1.0 @category schemas */
export const FinishReason = Schema.Literal("stop", "tool_calls", "length", "content_filter", "unknown")
/** @since 0.1.0 @category models */
export type FinishReason = typeof FinishReason.Type

/** The model answered. @since 0.1.0 @category schemas */
export class ModelResult extends Schema.TaggedClass<ModelResult>("@patinox/core/ModelResult")("ModelResult", {
  model: Schema.String,
  finishReason: FinishReason,
  toolCalls: Schema.Number,
  usage: Usage
}) {}

/** A tool returned (or failed, reported back to the model). @since 0.1.0 @category schemas */
export class ToolOutput extends Schema.TaggedClass<ToolOutput>("@patinox/core/ToolOutput")("ToolOutput", {
  tool: Schema.String,
  content: Schema.String,
  isError: Schema.Boolean
}) {}

/** The run produced its final answer. @since 0.1.0 @category schemas */
export class Answer extends Schema.TaggedClass<Answer>("@patinox/core/Answer")("Answer", {
  content: Schema.String,
  steps: Schema.Number,
  usage: Usage
}) {}

/** The action failed with a typed error. @since 0.1.0 @category schemas */
export class Failure extends Schema.TaggedClass<Failure>("@patinox/core/Failure")("Failure", {
  error: Schema.String,
  message: Schema.String,
  category: Schema.optional(Schema.String)
}) {}

/** @since 0.1.0 @category schemas */
export const ActionResult = Schema.Union(ModelResult, ToolOutput, Answer, Failure)
/** @since 0.1.0 @category models */
export type ActionResult = typeof ActionResult.Type
