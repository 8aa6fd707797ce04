/**
 * @since 0.1.0
 */
export * as ActionResult from "./ActionResult.js"
export * as AgentAction from "./AgentAction.js"
export * as Decision from "./Decision.js"
export * as DependencyGuard from "./DependencyGuard.js"
export * as Errors from "./Errors.js"
export * as Hash from "./Hash.js"
export * as Ids from "./Ids.js"
export * as LanguageModel from "./LanguageModel.js"
export * as Message from "./Message.js"
export * as Monitor from "./Monitor.js"
export * as Recovery from "./Recovery.js"
export * as Redaction from "./Redaction.js"
export * as TelemetryEvent from "./TelemetryEvent.js"
export * as Tool from "./Tool.js"
export * as Usage from "./Usage.js"
export * as ValidationPipeline from "./ValidationPipeline.js"
