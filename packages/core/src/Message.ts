/**
 * The conversation an agent holds with its model, in a provider-neutral shape.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ToolCallId } from "./Ids.js"

/**
 * A tool call requested by the model. `arguments` is the raw JSON text the
 * model produced: it is decoded against the tool's schema only when executed,
 * so malformed arguments can be reported back to the model.
 *
 * @since 0.1.0 @category schemas
 */
export class ToolCall extends Schema.Class<ToolCall>("@patinox/core/ToolCall")({
  id: ToolCallId,
  name: Schema.String,
  arguments: Schema.String
}) {}

/** @since 0.1.0 @category schemas */
export class SystemMessage extends Schema.TaggedClass<SystemMessage>("@patinox/core/SystemMessage")("system", {
  content: Schema.String
}) {}

/** @since 0.1.0 @category schemas */
export class UserMessage extends Schema.TaggedClass<UserMessage>("@patinox/core/UserMessage")("user", {
  content: Schema.String
}) {}

/** @since 0.1.0 @category schemas */
export class AssistantMessage extends Schema.TaggedClass<AssistantMessage>("@patinox/core/AssistantMessage")(
  "assistant",
  {
    content: Schema.NullOr(Schema.String),
    toolCalls: Schema.Array(ToolCall)
  }
) {}

/** @since 0.1.0 @category schemas */
export class ToolMessage extends Schema.TaggedClass<ToolMessage>("@patinox/core/ToolMessage")("tool", {
  toolCallId: ToolCallId,
  name: Schema.String,
  content: Schema.String,
  isError: Schema.Boolean
}) {}

/** @since 0.1.0 @category schemas */
export const Message = Schema.Union(SystemMessage, UserMessage, AssistantMessage, ToolMessage)
/** @since 0.1.0 @category models */
export type Message = typeof Message.Type

/** @since 0.1.0 @category constructors */
export const system = (content: string): SystemMessage => new SystemMessage({ content })
/** @since 0.1.0 @category constructors */
export const user = (content: string): UserMessage => new UserMessage({ content })
