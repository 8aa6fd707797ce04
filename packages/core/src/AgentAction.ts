/**
 * What an agent is about to do. Every action passes through the validation
 * pipeline at its stage before it is carried out.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ToolCallId } from "./Ids.js"
import { Message, ToolCall } from "./Message.js"

/** The stages of a run at which validators can act. @since 0.1.0 @category schemas */
export const Stage = Schema.Literal("user_input", "model_request", "tool_call", "tool_result", "final_answer")
/** @since 0.1.0 @category models */
export type Stage = typeof Stage.Type

/** Input from the user, before anything else happens. @since 0.1.0 @category schemas */
export class UserInput extends Schema.TaggedClass<UserInput>("@patinox/core/UserInput")("UserInput", {
  input: Schema.String
}) {}

/** A request about to be sent to the model. @since 0.1.0 @category schemas */
export class ModelCall extends Schema.TaggedClass<ModelCall>("@patinox/core/ModelCall")("ModelCall", {
  step: Schema.Number,
  messages: Schema.Array(Message),
  tools: Schema.Array(Schema.String)
}) {}

/** A tool call the model asked for, about to be executed. @since 0.1.0 @category schemas */
export class ToolCallAction extends Schema.TaggedClass<ToolCallAction>("@patinox/core/ToolCallAction")(
  "ToolCallAction",
  { step: Schema.Number, toolCall: ToolCall }
) {}

/** A tool's output, about to be shown to the model. @since 0.1.0 @category schemas */
export class ToolResult extends Schema.TaggedClass<ToolResult>("@patinox/core/ToolResult")("ToolResult", {
  step: Schema.Number,
  toolCallId: ToolCallId,
  name: Schema.String,
  content: Schema.String,
  isError: Schema.Boolean
}) {}

/** The answer about to be returned to the caller. @since 0.1.0 @category schemas */
export class FinalAnswer extends Schema.TaggedClass<FinalAnswer>("@patinox/core/FinalAnswer")("FinalAnswer", {
  step: Schema.Number,
  content: Schema.String
}) {}

/** @since 0.1.0 @category schemas */
export const AgentAction = Schema.Union(UserInput, ModelCall, ToolCallAction, ToolResult, FinalAnswer)
/** @since 0.1.0 @category models */
export type AgentAction = typeof AgentAction.Type

/** The stage at which an action is validated. @since 0.1.0 @category accessors */
export const stageOf = (action: AgentAction): Stage => {
  switch (action._tag) {
    case "UserInput":
      return "user_input"
    case "ModelCall":
      return "model_request"
    case "ToolCallAction":
      return "tool_call"
    case "ToolResult":
      return "tool_result"
    case "FinalAnswer":
      return "final_answer"
  }
}

/**
 * The text a text validator reads in an action: the input, a tool's result or
 * arguments, the answer; `undefined` for a model call, whose messages were
 * each read at their own stage.
 *
 * @since 0.1.0
 */
export const textOf = (action: AgentAction): string | undefined => {
  switch (action._tag) {
    case "UserInput":
      return action.input
    case "ToolResult":
      return action.content
    case "FinalAnswer":
      return action.content
    case "ToolCallAction":
      return action.toolCall.arguments
    case "ModelCall":
      return undefined
  }
}
