/**
 * @since 0.1.0
 */
export * as OpenAiLanguageModel from "./OpenAiLanguageModel.js"
