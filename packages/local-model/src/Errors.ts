/**
 * The local-model stage's errors: a configuration or model directory that
 * cannot be used (at start), and a model that fails on an input (at run time:
 * the validator's failure, on which the pipeline fails closed).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The `localModel` section is invalid, or a model directory it names is
 * missing, incomplete or does not load. `key` is the config key
 * (`localModel.injection.path`), `path` the directory when there is one.
 *
 * @since 0.1.0 @category errors
 */
export class LocalModelConfigError extends Schema.TaggedError<LocalModelConfigError>(
  "@patinox/local-model/LocalModelConfigError"
)("LocalModelConfigError", {
  key: Schema.String,
  path: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.key}${this.path === undefined ? "" : ` (${this.path})`}: ${this.reason}`
  }
}

/**
 * The model failed on an input (tokenizer or ONNX Runtime error).
 *
 * @since 0.1.0 @category errors
 */
export class LocalModelInferenceError extends Schema.TaggedError<LocalModelInferenceError>(
  "@patinox/local-model/LocalModelInferenceError"
)("LocalModelInferenceError", {
  model: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `local model ${this.model} failed: ${this.reason}`
  }
}
