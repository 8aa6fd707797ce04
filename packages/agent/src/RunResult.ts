/**
 * What a finished run returns: the answer, every step taken, and the tokens
 * the provider reported.
 *
 * @since 0.1.0
 */
import { Ids, Usage } from "@patinox/core"
import { Schema } from "effect"

/** The model was called. @since 0.1.0 @category schemas */
export class ModelStep extends Schema.TaggedClass<ModelStep>("@patinox/agent/ModelStep")("ModelStep", {
  step: Schema.Number,
  model: Schema.String,
  finishReason: Schema.String,
  toolCalls: Schema.Array(Schema.String),
  usage: Usage.Usage,
  latencyMs: Schema.Number
}) {}

/** A tool was called (or its failure reported back to the model). @since 0.1.0 @category schemas */
export class ToolStep extends Schema.TaggedClass<ToolStep>("@patinox/agent/ToolStep")("ToolStep", {
  step: Schema.Number,
  tool: Schema.String,
  arguments: Schema.String,
  output: Schema.String,
  isError: Schema.Boolean,
  latencyMs: Schema.Number
}) {}

/** A validator sent feedback to the model instead of letting an action through. @since 0.1.0 @category schemas */
export class RevisionStep extends Schema.TaggedClass<RevisionStep>("@patinox/agent/RevisionStep")("RevisionStep", {
  step: Schema.Number,
  stage: Schema.String,
  validator: Schema.String,
  feedback: Schema.String
}) {}

/** @since 0.1.0 @category schemas */
export const Step = Schema.Union(ModelStep, ToolStep, RevisionStep)
/** @since 0.1.0 @category models */
export type Step = typeof Step.Type

/** @since 0.1.0 @category schemas */
export class RunResult extends Schema.Class<RunResult>("@patinox/agent/RunResult")({
  runId: Ids.RunId,
  agent: Schema.String,
  answer: Schema.String,
  steps: Schema.Array(Step),
  usage: Usage.Usage,
  durationMs: Schema.Number
}) {}
