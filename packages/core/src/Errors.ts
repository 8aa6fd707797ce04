/**
 * Every failure that crosses a boundary in Patinox is one of these tagged
 * errors. Each belongs to a category and carries the recovery strategy the
 * runtime applies to it:
 *
 * - `retry`: transient; the call is retried on a bounded schedule
 *   (honouring a server's `retry-after` when given).
 * - `fallback`: the step cannot succeed as asked, but the run can go on; a
 *   failing tool is reported back to the model as a tool error message.
 * - `circuit-break`: the dependency is unhealthy; fail fast without calling it.
 * - `fail`: nothing sensible to retry; the run fails with this error.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** @since 0.1.0 @category models */
export type RecoveryStrategy = "retry" | "fallback" | "circuit-break" | "fail"

/** @since 0.1.0 @category models */
export type ErrorCategory = "validation" | "execution" | "network" | "configuration"

/** @since 0.1.0 @category models */
export interface Recoverable {
  readonly _tag: string
  readonly message: string
  readonly category: ErrorCategory
  readonly recoveryStrategy: RecoveryStrategy
}

// ---------------------------------------------------------------------------
// validation
// ---------------------------------------------------------------------------

/** A validator rejected an action. @since 0.1.0 @category validation */
export class ValidationRejected extends Schema.TaggedError<ValidationRejected>("@patinox/core/ValidationRejected")(
  "ValidationRejected",
  {
    validator: Schema.String,
    stage: Schema.String,
    reason: Schema.String,
    score: Schema.optional(Schema.Number),
    /** Set when the rejection is a rate limit: how long until the action would be allowed. */
    retryAfterMs: Schema.optional(Schema.Number)
  }
) {
  readonly category: ErrorCategory = "validation"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `${this.validator} rejected the ${this.stage}: ${this.reason}`
  }
}

/** A validator asked for more retries than the pipeline allows. @since 0.1.0 @category validation */
export class ValidationRetriesExhausted
  extends Schema.TaggedError<ValidationRetriesExhausted>("@patinox/core/ValidationRetriesExhausted")(
    "ValidationRetriesExhausted",
    { validator: Schema.String, stage: Schema.String, attempts: Schema.Number, feedback: Schema.String }
  )
{
  readonly category: ErrorCategory = "validation"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `${this.validator} still asked for a retry of the ${this.stage} after ${this.attempts} attempts: ${this.feedback}`
  }
}

/** A validator that may not modify actions returned `Modified`. @since 0.1.0 @category validation */
export class ModificationNotAllowed
  extends Schema.TaggedError<ModificationNotAllowed>("@patinox/core/ModificationNotAllowed")(
    "ModificationNotAllowed",
    { validator: Schema.String, stage: Schema.String }
  )
{
  readonly category: ErrorCategory = "validation"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `${this.validator} returned Modified for the ${this.stage} but is not allowed to modify actions`
  }
}

/** Input that does not meet the contract (empty prompt, wrong shape). @since 0.1.0 @category validation */
export class InvalidInput extends Schema.TaggedError<InvalidInput>("@patinox/core/InvalidInput")("InvalidInput", {
  reason: Schema.String
}) {
  readonly category: ErrorCategory = "validation"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `Invalid input: ${this.reason}`
  }
}

// ---------------------------------------------------------------------------
// execution
// ---------------------------------------------------------------------------

/** The model asked for a tool the agent does not have. @since 0.1.0 @category execution */
export class ToolNotFound extends Schema.TaggedError<ToolNotFound>("@patinox/core/ToolNotFound")("ToolNotFound", {
  tool: Schema.String,
  available: Schema.Array(Schema.String)
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fallback"
  override get message(): string {
    return `Unknown tool "${this.tool}". Available tools: ${this.available.join(", ") || "none"}`
  }
}

/** The model's tool arguments do not decode with the tool's schema. @since 0.1.0 @category execution */
export class ToolArgumentsInvalid
  extends Schema.TaggedError<ToolArgumentsInvalid>("@patinox/core/ToolArgumentsInvalid")("ToolArgumentsInvalid", {
    tool: Schema.String,
    reason: Schema.String
  })
{
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fallback"
  override get message(): string {
    return `Invalid arguments for tool "${this.tool}": ${this.reason}`
  }
}

/** A tool's handler failed. @since 0.1.0 @category execution */
export class ToolFailed extends Schema.TaggedError<ToolFailed>("@patinox/core/ToolFailed")("ToolFailed", {
  tool: Schema.String,
  reason: Schema.String
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fallback"
  override get message(): string {
    return `Tool "${this.tool}" failed: ${this.reason}`
  }
}

/** A tool did not finish within its timeout. @since 0.1.0 @category execution */
export class ToolTimeout extends Schema.TaggedError<ToolTimeout>("@patinox/core/ToolTimeout")("ToolTimeout", {
  tool: Schema.String,
  timeoutMs: Schema.Number
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fallback"
  override get message(): string {
    return `Tool "${this.tool}" timed out after ${this.timeoutMs} ms`
  }
}

/** A model call did not finish within its timeout. @since 0.1.0 @category execution */
export class ModelTimeout extends Schema.TaggedError<ModelTimeout>("@patinox/core/ModelTimeout")("ModelTimeout", {
  model: Schema.String,
  timeoutMs: Schema.Number
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "retry"
  readonly retryAfterMs: number | undefined = undefined
  override get message(): string {
    return `Model "${this.model}" did not answer within ${this.timeoutMs} ms`
  }
}

/** The run reached its step budget without a final answer. @since 0.1.0 @category execution */
export class MaxStepsExceeded extends Schema.TaggedError<MaxStepsExceeded>("@patinox/core/MaxStepsExceeded")(
  "MaxStepsExceeded",
  { agent: Schema.String, maxSteps: Schema.Number }
) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `Agent "${this.agent}" reached its limit of ${this.maxSteps} steps without a final answer`
  }
}

/**
 * A run did not finish within its deadline; everything inside it (model calls,
 * their retries, tools, validators) was interrupted. @since 0.1.0 @category execution
 */
export class RunDeadlineExceeded extends Schema.TaggedError<RunDeadlineExceeded>("@patinox/core/RunDeadlineExceeded")(
  "RunDeadlineExceeded",
  { agent: Schema.String, deadlineMs: Schema.Number }
) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `Agent "${this.agent}" did not finish within its deadline of ${this.deadlineMs} ms`
  }
}

/** A message was sent to an agent that is no longer running. @since 0.1.0 @category execution */
export class AgentStopped extends Schema.TaggedError<AgentStopped>("@patinox/core/AgentStopped")("AgentStopped", {
  agent: Schema.String
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `Agent "${this.agent}" is stopped`
  }
}

/** An `ask` got no answer within its timeout. @since 0.1.0 @category execution */
export class AskTimeout extends Schema.TaggedError<AskTimeout>("@patinox/core/AskTimeout")("AskTimeout", {
  agent: Schema.String,
  timeoutMs: Schema.Number
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `Agent "${this.agent}" did not answer within ${this.timeoutMs} ms`
  }
}

/** A dependency's circuit is open: calls fail fast. @since 0.1.0 @category execution */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>("@patinox/core/CircuitOpen")("CircuitOpen", {
  dependency: Schema.String,
  retryAfterMs: Schema.Number
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "circuit-break"
  override get message(): string {
    return `Circuit for "${this.dependency}" is open; retry in ${this.retryAfterMs} ms`
  }
}

/** A person or an alert rule switched a dependency off; it stays off until re-enabled. @since 0.1.0 @category execution */
export class DependencyDisabled extends Schema.TaggedError<DependencyDisabled>("@patinox/core/DependencyDisabled")(
  "DependencyDisabled",
  { dependency: Schema.String, reason: Schema.String }
) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "circuit-break"
  override get message(): string {
    return `"${this.dependency}" is disabled (${this.reason}) until a person re-enables it`
  }
}

// ---------------------------------------------------------------------------
// network
// ---------------------------------------------------------------------------

/** The provider throttled the request (HTTP 429). @since 0.1.0 @category network */
export class ModelRateLimited extends Schema.TaggedError<ModelRateLimited>("@patinox/core/ModelRateLimited")(
  "ModelRateLimited",
  { provider: Schema.String, reason: Schema.String, retryAfterMs: Schema.optional(Schema.Number) }
) {
  readonly category: ErrorCategory = "network"
  readonly recoveryStrategy: RecoveryStrategy = "retry"
  override get message(): string {
    const after = this.retryAfterMs === undefined ? "" : ` (retry after ${this.retryAfterMs} ms)`
    return `${this.provider} rate-limited the request${after}: ${this.reason}`
  }
}

/** The provider failed on its side (HTTP 5xx). @since 0.1.0 @category network */
export class ModelUnavailable extends Schema.TaggedError<ModelUnavailable>("@patinox/core/ModelUnavailable")(
  "ModelUnavailable",
  { provider: Schema.String, status: Schema.Number, reason: Schema.String, retryAfterMs: Schema.optional(Schema.Number) }
) {
  readonly category: ErrorCategory = "network"
  readonly recoveryStrategy: RecoveryStrategy = "retry"
  override get message(): string {
    return `${this.provider} is unavailable (HTTP ${this.status}): ${this.reason}`
  }
}

/** The provider could not be reached or the connection broke. @since 0.1.0 @category network */
export class ModelConnectionFailed
  extends Schema.TaggedError<ModelConnectionFailed>("@patinox/core/ModelConnectionFailed")("ModelConnectionFailed", {
    provider: Schema.String,
    reason: Schema.String
  })
{
  readonly category: ErrorCategory = "network"
  readonly recoveryStrategy: RecoveryStrategy = "retry"
  readonly retryAfterMs: number | undefined = undefined
  override get message(): string {
    return `Could not reach ${this.provider}: ${this.reason}`
  }
}

/** The provider answered with something that is not a valid response. @since 0.1.0 @category network */
export class ModelResponseMalformed
  extends Schema.TaggedError<ModelResponseMalformed>("@patinox/core/ModelResponseMalformed")("ModelResponseMalformed", {
    provider: Schema.String,
    reason: Schema.String
  })
{
  readonly category: ErrorCategory = "network"
  readonly recoveryStrategy: RecoveryStrategy = "retry"
  readonly retryAfterMs: number | undefined = undefined
  override get message(): string {
    return `${this.provider} sent a malformed response: ${this.reason}`
  }
}

// ---------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------

/** The provider refused the request as invalid (HTTP 4xx other than 401/403/429). @since 0.1.0 @category configuration */
export class ModelRequestRejected
  extends Schema.TaggedError<ModelRequestRejected>("@patinox/core/ModelRequestRejected")("ModelRequestRejected", {
    provider: Schema.String,
    status: Schema.Number,
    reason: Schema.String,
    code: Schema.optional(Schema.String)
  })
{
  readonly category: ErrorCategory = "configuration"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `${this.provider} rejected the request (HTTP ${this.status}): ${this.reason}`
  }
}

/** The provider refused the credentials (HTTP 401/403). @since 0.1.0 @category configuration */
export class ModelAuthenticationFailed
  extends Schema.TaggedError<ModelAuthenticationFailed>("@patinox/core/ModelAuthenticationFailed")(
    "ModelAuthenticationFailed",
    { provider: Schema.String, status: Schema.Number, reason: Schema.String }
  )
{
  readonly category: ErrorCategory = "configuration"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `${this.provider} refused the credentials (HTTP ${this.status}): ${this.reason}. Check OPENAI_API_KEY.`
  }
}

/** A configuration value is missing or invalid. @since 0.1.0 @category configuration */
export class ConfigurationInvalid
  extends Schema.TaggedError<ConfigurationInvalid>("@patinox/core/ConfigurationInvalid")("ConfigurationInvalid", {
    key: Schema.String,
    reason: Schema.String
  })
{
  readonly category: ErrorCategory = "configuration"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `Invalid configuration "${this.key}": ${this.reason}`
  }
}

// ---------------------------------------------------------------------------
// unions
// ---------------------------------------------------------------------------

/** Everything a `LanguageModel` call can fail with. @since 0.1.0 @category unions */
export type ModelError =
  | ModelTimeout
  | ModelRateLimited
  | ModelUnavailable
  | ModelConnectionFailed
  | ModelResponseMalformed
  | ModelRequestRejected
  | ModelAuthenticationFailed
  | CircuitOpen
  | DependencyDisabled

/** @since 0.1.0 @category unions */
export const ModelError = Schema.Union(
  ModelTimeout,
  ModelRateLimited,
  ModelUnavailable,
  ModelConnectionFailed,
  ModelResponseMalformed,
  ModelRequestRejected,
  ModelAuthenticationFailed,
  CircuitOpen,
  DependencyDisabled
)

/** What a tool step can fail with; all of them go back to the model. @since 0.1.0 @category unions */
export type ToolError = ToolNotFound | ToolArgumentsInvalid | ToolFailed | ToolTimeout | CircuitOpen | DependencyDisabled

/** What the validation pipeline can fail an action with. @since 0.1.0 @category unions */
export type ValidationError = ValidationRejected | ValidationRetriesExhausted | ModificationNotAllowed

/** Everything an agent run can fail with. @since 0.1.0 @category unions */
export type RunError = ModelError | ValidationError | InvalidInput | MaxStepsExceeded | RunDeadlineExceeded

/** @since 0.1.0 @category unions */
export const RunError = Schema.Union(
  ModelError,
  ValidationRejected,
  ValidationRetriesExhausted,
  ModificationNotAllowed,
  InvalidInput,
  MaxStepsExceeded,
  RunDeadlineExceeded
)

// ---------------------------------------------------------------------------
// actors
// ---------------------------------------------------------------------------

/** A running agent's mailbox is full and its overflow policy is `"fail"`. @since 0.1.0 @category actors */
export class MailboxFull extends Schema.TaggedError<MailboxFull>("@patinox/core/MailboxFull")("MailboxFull", {
  agent: Schema.String,
  capacity: Schema.Number
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "retry"
  readonly retryAfterMs: number | undefined = undefined
  override get message(): string {
    return `Agent "${this.agent}" has ${this.capacity} messages waiting: mailbox full`
  }
}

/** No running agent has this id. @since 0.1.0 @category actors */
export class AgentNotFound extends Schema.TaggedError<AgentNotFound>("@patinox/core/AgentNotFound")("AgentNotFound", {
  agent: Schema.String,
  available: Schema.Array(Schema.String)
}) {
  readonly category: ErrorCategory = "configuration"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `No running agent "${this.agent}". Running: ${this.available.join(", ") || "none"}`
  }
}

/** An agent asked another through too many levels of delegation (a cycle, usually). @since 0.1.0 @category actors */
export class DelegationDepthExceeded
  extends Schema.TaggedError<DelegationDepthExceeded>("@patinox/core/DelegationDepthExceeded")("DelegationDepthExceeded", {
    agent: Schema.String,
    maxDepth: Schema.Number
  })
{
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fallback"
  override get message(): string {
    return `Delegating to "${this.agent}" would exceed the maximum delegation depth of ${this.maxDepth}`
  }
}

/** An agent crashed (a defect) while handling this message; it is restarted. @since 0.1.0 @category actors */
export class AgentCrashed extends Schema.TaggedError<AgentCrashed>("@patinox/core/AgentCrashed")("AgentCrashed", {
  agent: Schema.String,
  reason: Schema.String
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `Agent "${this.agent}" crashed on this message: ${this.reason}`
  }
}

/** A supervisor ran out of restarts for an agent and gave up. @since 0.1.0 @category actors */
export class AgentEscalated extends Schema.TaggedError<AgentEscalated>("@patinox/core/AgentEscalated")("AgentEscalated", {
  agent: Schema.String,
  supervisor: Schema.String,
  restarts: Schema.Number,
  reason: Schema.String
}) {
  readonly category: ErrorCategory = "execution"
  readonly recoveryStrategy: RecoveryStrategy = "fail"
  override get message(): string {
    return `Supervisor "${this.supervisor}" gave up on agent "${this.agent}" after ${this.restarts} restarts: ${this.reason}`
  }
}
