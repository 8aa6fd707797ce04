/**
 * The service's validation stack, built from the config file: circuit
 * breaker (10), rate limiter (20), anti-jailbreak (30), hallucination (40) by
 * default, each a Layer on the pipeline beneath. Priorities come from config;
 * the pipeline orders by them, not by the order of the layers here.
 */
import type { Monitor } from "@patinox/core"
import type { ValidationPipeline } from "@patinox/core"
import {
  CircuitBreaker,
  HallucinationValidator,
  JailbreakValidator,
  KnowledgeBase,
  Pipeline,
  PromptGuard,
  RateLimiter
} from "@patinox/validation"
import { Layer } from "effect"
import type { ValidationConfig } from "./PatinoxConfig.js"

type StackError = PromptGuard.PromptGuardModelError
type StackContext = Monitor.Monitor | CircuitBreaker.CircuitBreaker | KnowledgeBase.KnowledgeBase

/** The pipeline with every enabled validator. */
export const pipelineLayer = (
  config: ValidationConfig
): Layer.Layer<ValidationPipeline.ValidationPipeline, StackError, StackContext> => {
  let stack: Layer.Layer<ValidationPipeline.ValidationPipeline, StackError, StackContext> = Pipeline.layer({
    maxRetries: config.maxRetries,
    maxTotalDelay: `${config.maxTotalDelayMs} millis`
  })
  const add = (
    layer: Layer.Layer<
      ValidationPipeline.ValidationPipeline,
      StackError,
      ValidationPipeline.ValidationPipeline | StackContext
    >
  ) => {
    stack = Layer.provide(layer, stack)
  }
  if (config.circuitBreaker.enabled) {
    add(Pipeline.withValidator(CircuitBreaker.validator({ priority: config.circuitBreaker.priority })))
  }
  const limit = config.rateLimit
  if (limit.enabled) {
    add(RateLimiter.layer({
      priority: limit.priority,
      requests: limit.requests,
      tokens: limit.tokens,
      waitBudget: `${limit.waitBudgetMs} millis`,
      maxKeys: limit.maxUsers
    }))
  }
  if (config.jailbreak.enabled) add(JailbreakValidator.layer(config.jailbreak))
  if (config.hallucination.enabled) add(HallucinationValidator.layer(config.hallucination))
  return stack
}

/** The circuit breaker, shared by its validator and by the agent loop (as `DependencyGuard`). */
export const breakerLayer = (config: ValidationConfig) =>
  CircuitBreaker.layer({
    windowSize: config.circuitBreaker.windowSize,
    minimumCalls: config.circuitBreaker.minimumCalls,
    failureRateThreshold: config.circuitBreaker.failureRateThreshold,
    openDuration: `${config.circuitBreaker.openDurationMs} millis`,
    halfOpenProbes: config.circuitBreaker.halfOpenProbes
  })

/**
 * The pipeline and the breaker (and its `DependencyGuard` view), on a
 * knowledge base from context: what an agent with its own validation
 * settings gets beside the service's, sharing the knowledge base.
 */
export const stack = (config: ValidationConfig) =>
  Layer.mergeAll(
    pipelineLayer(config),
    config.circuitBreaker.enabled ? CircuitBreaker.layerGuard : Layer.empty
  ).pipe(Layer.provideMerge(breakerLayer(config)))

/**
 * Everything validation provides to the service: the pipeline, the breaker
 * (and its `DependencyGuard` view) and the knowledge base (on the service's SqlClient).
 */
export const layer = (config: ValidationConfig) => stack(config).pipe(Layer.provideMerge(KnowledgeBase.layer))

