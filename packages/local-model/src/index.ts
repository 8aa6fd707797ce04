/**
 * Validators on local models (transformers.js over ONNX Runtime), loaded from
 * a directory, never downloaded: a prompt-injection classifier and a
 * grounding cross-encoder. See docs/local-model.md.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Classifier from "./Classifier.js"
/** @since 0.1.0 */
export * from "./Errors.js"
/** @since 0.1.0 */
export * as LocalModel from "./LocalModel.js"
/** @since 0.1.0 */
export * as LocalModelConfig from "./LocalModelConfig.js"
/** @since 0.1.0 */
export * as TinyModel from "./TinyModel.js"
