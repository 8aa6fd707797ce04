/**
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"
export * as HallucinationDetector from "./HallucinationDetector.js"
export * as HallucinationValidator from "./HallucinationValidator.js"
export * as JailbreakValidator from "./JailbreakValidator.js"
export * as KnowledgeBase from "./KnowledgeBase.js"
export * as Pipeline from "./Pipeline.js"
export * as PromptGuard from "./PromptGuard.js"
export * as RateLimiter from "./RateLimiter.js"
export * as Validator from "./Validator.js"
