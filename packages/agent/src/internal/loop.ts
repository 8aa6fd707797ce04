import {
  ActionResult,
  AgentAction,
  DependencyGuard,
  Errors,
  Hash,
  type Ids,
  LanguageModel,
  Message,
  Monitor,
  Tool,
  Usage,
  ValidationPipeline
} from "@patinox/core"
import { Clock, Duration, Effect, Either, Option } from "effect"
import { ModelStep, RevisionStep, RunResult, type Step, ToolStep } from "../RunResult.js"

/** What the loop needs to know about an agent; the public `Agent` carries it. */
export interface LoopAgent {
  readonly name: string
  readonly id: Ids.AgentId
  readonly instructions: string
  readonly tools: ReadonlyArray<Tool.Any>
  readonly maxSteps: number
  readonly temperature: number | undefined
  readonly maxOutputTokens: number | undefined
  readonly modelName: string | undefined
  readonly modelTimeout: Duration.Duration
  readonly toolTimeout: Duration.Duration
}

type LoopError = Errors.RunError

/** Optional observers of a run, for streaming. */
export interface LoopHooks {
  /** Called with every step as soon as it is taken. */
  readonly onStep?: ((step: Step) => Effect.Effect<void>) | undefined
  /** Call the model through its streaming API (the response is still validated whole). */
  readonly streaming?: boolean | undefined
  /** Earlier turns of the same conversation, placed between the instructions and the input. */
  readonly history?: ReadonlyArray<Message.Message> | undefined
  /** Extra context on the `run.start` event (e.g. the delegating run). */
  readonly startContext?: Readonly<Record<string, unknown>> | undefined
  /** The end user the run is for (validators key rate limits on it). */
  readonly userId?: string | undefined
  /** Bounds the whole run; past it, everything in flight is interrupted and the run fails. */
  readonly deadline?: Duration.Duration | undefined
}

/** Runs a tool with its requirements already provided (see `Agent`). */
export type RunTool = (
  tool: Tool.Any,
  rawArguments: string,
  timeout: Duration.Duration
) => Effect.Effect<string, Errors.ToolArgumentsInvalid | Errors.ToolFailed | Errors.ToolTimeout>

const elapsedSince = (start: number) => Effect.map(Clock.currentTimeMillis, (now) => now - start)

const reviseAsRejection = (stage: string, validator: string, feedback: string) =>
  new Errors.ValidationRejected({ validator, stage, reason: feedback })

const describe = (error: Errors.Recoverable) => new ActionResult.Failure({
  error: error._tag,
  message: error.message,
  category: error.category
}, true)

/**
 * One run of the step loop: validate the input, then call the model, run the
 * tools it asks for, and repeat until it answers or the step budget is spent.
 * Every action passes the validation pipeline; every step is reported.
 */
export const runLoop = (
  agent: LoopAgent,
  model: LanguageModel.Service,
  runTool: RunTool,
  input: string,
  runId: Ids.RunId,
  hooks: LoopHooks = {}
): Effect.Effect<RunResult, LoopError, ValidationPipeline.ValidationPipeline | Monitor.Monitor> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const recordResponses = yield* Monitor.RecordModelResponses
    const base = { agentId: agent.id, runId }
    const validationBase = hooks.userId === undefined ? base : { ...base, userId: hooks.userId }
    const guard = Option.getOrUndefined(yield* Effect.serviceOption(DependencyGuard.DependencyGuard))
    const protect = <A, E>(dependency: string, effect: Effect.Effect<A, E>) =>
      guard === undefined ? effect : guard.protect(dependency, effect)
    const report = (event: Omit<Monitor.EventInput, "agentId" | "runId">) => Monitor.report({ ...event, ...base })
    // Entering a state; monitors derive the dwell time in each from consecutive changes.
    const state = (to: "validating" | "calling_model" | "executing_tool" | "done") =>
      report({ type: "state.change", context: { state: to } })

    yield* report({ type: "run.start", action: new AgentAction.UserInput({ input }, true), context: hooks.startContext })

    if (input.trim() === "") return yield* new Errors.InvalidInput({ reason: "input is empty" })
    const checkedInput = yield* ValidationPipeline.check(new AgentAction.UserInput({ input }, true), validationBase)
    if (checkedInput._tag === "Revise") {
      return yield* reviseAsRejection("user_input", checkedInput.validator, checkedInput.feedback)
    }
    const userInput = checkedInput.action._tag === "UserInput" ? checkedInput.action.input : input

    const modelName = agent.modelName ?? model.model
    const context = { ...validationBase, input: userInput, model: modelName }
    const messages: Array<Message.Message> = [
      Message.system(agent.instructions),
      ...(hooks.history ?? []),
      Message.user(userInput)
    ]
    const steps: Array<Step> = []
    const record = (step: Step) => {
      steps.push(step)
      return hooks.onStep === undefined ? Effect.void : hooks.onStep(step)
    }
    const chat = (request: LanguageModel.ChatRequest): Effect.Effect<LanguageModel.ChatResponse, Errors.ModelError> =>
      hooks.streaming === true
        ? LanguageModel.collect(model.provider, model.stream(request)).pipe(
          Effect.timeoutFail({
            duration: agent.modelTimeout,
            onTimeout: () =>
              new Errors.ModelTimeout({ model: modelName, timeoutMs: Duration.toMillis(agent.modelTimeout) })
          })
        )
        : model.chat(request)
    let usage = Usage.zero
    const toolsByName = new Map(agent.tools.map((tool) => [tool.name, tool] as const))
    const definitions = agent.tools.map((tool) => tool.definition)
    const toolNames = agent.tools.map((tool) => tool.name)

    for (let step = 1; step <= agent.maxSteps; step++) {
      // -- model request -----------------------------------------------------
      const checkedCall = yield* ValidationPipeline.check(
        new AgentAction.ModelCall({ step, messages: [...messages], tools: toolNames }, true),
        context
      )
      if (checkedCall._tag === "Revise") {
        return yield* reviseAsRejection("model_request", checkedCall.validator, checkedCall.feedback)
      }
      const callMessages = checkedCall.action._tag === "ModelCall" ? checkedCall.action.messages : messages
      const requestStarted = yield* Clock.currentTimeMillis
      yield* state("calling_model")
      const requestId = `${runId}:${step}`
      yield* report({ type: "model.request", context: { model: modelName, provider: model.provider, step, requestId } })
      const response = yield* protect(DependencyGuard.model, chat({
        messages: callMessages,
        tools: definitions,
        options: {
          temperature: agent.temperature,
          maxOutputTokens: agent.maxOutputTokens,
          model: agent.modelName,
          // Enforced by the model (see `ChatOptions.timeout`): one timer per call, not two.
          timeout: agent.modelTimeout
        }
      })).pipe(
        // No retries here: the model service retries what it knows to be transient (see
        // `LanguageModel.Service`); a second layer multiplied every failing call's attempts.
        // Usage goes on this span only (the provider's own span does not repeat it), so
        // backends do not count tokens twice.
        Effect.tap((response) =>
          Effect.annotateCurrentSpan({
            "gen_ai.response.model": response.model,
            // @effect/opentelemetry would pretty-print an array: a compact JSON string instead
            "gen_ai.response.finish_reasons": JSON.stringify([response.finishReason]),
            "gen_ai.usage.input_tokens": response.usage.inputTokens,
            "gen_ai.usage.output_tokens": response.usage.outputTokens
          })
        ),
        Effect.tapError((error) => Effect.annotateCurrentSpan("error.type", error._tag)),
        Effect.withSpan(`chat ${modelName}`, {
          kind: "client",
          captureStackTrace: false,
          attributes: {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": model.provider,
            "gen_ai.request.model": modelName
          }
        }),
        Effect.tapError((error) =>
          Effect.flatMap(elapsedSince(requestStarted), (latencyMs) =>
            report({
              type: "model.error",
              result: describe(error),
              metrics: { latencyMs },
              context: { model: modelName, provider: model.provider, step, requestId }
            }))
        )
      )
      const latencyMs = yield* elapsedSince(requestStarted)
      usage = Usage.add(usage, response.usage)
      yield* report({
        type: "model.response",
        result: new ActionResult.ModelResult({
          model: response.model,
          finishReason: response.finishReason,
          toolCalls: response.toolCalls.length,
          usage: response.usage
        }, true),
        metrics: { latencyMs, tokensIn: response.usage.inputTokens, tokensOut: response.usage.outputTokens },
        context: recordResponses
          ? {
            model: response.model,
            provider: model.provider,
            step,
            requestId,
            response: {
              content: response.message.content,
              finishReason: response.finishReason,
              toolCalls: response.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }))
            }
          }
          : { model: response.model, provider: model.provider, step, requestId }
      })
      yield* record(
        new ModelStep({
          step,
          model: response.model,
          finishReason: response.finishReason,
          toolCalls: response.toolCalls.map((call) => call.name),
          usage: response.usage,
          latencyMs
        }, true)
      )

      // -- tool calls ----------------------------------------------------------
      if (response.toolCalls.length > 0) {
        messages.push(response.message)
        for (const requested of response.toolCalls) {
          const checkedTool = yield* ValidationPipeline.check(
            new AgentAction.ToolCallAction({ step, toolCall: requested }, true),
            context
          )
          let content: string
          let isError: boolean
          let toolLatency = 0
          const toolCall = checkedTool._tag === "Proceed" && checkedTool.action._tag === "ToolCallAction"
            ? checkedTool.action.toolCall
            : requested
          if (checkedTool._tag === "Revise") {
            content = `Tool call refused by ${checkedTool.validator}: ${checkedTool.feedback}`
            isError = true
            yield* record(
              new RevisionStep({ step, stage: "tool_call", validator: checkedTool.validator, feedback: checkedTool.feedback }, true)
            )
          } else {
            const toolStarted = yield* Clock.currentTimeMillis
            yield* state("executing_tool")
            // The arguments' hash (never the arguments: they are user data) lets the meta-layer find a run
            // calling the same tool with the same arguments again.
            yield* report({
              type: "tool.start",
              context: { tool: toolCall.name, toolCallId: toolCall.id, step, argsHash: Hash.fnv1a(toolCall.arguments) }
            })
            const tool = toolsByName.get(toolCall.name)
            const execution: Effect.Effect<string, Errors.ToolError> = tool === undefined
                ? Effect.fail(new Errors.ToolNotFound({ tool: toolCall.name, available: toolNames }))
                : protect(DependencyGuard.tool(toolCall.name), runTool(tool, toolCall.arguments, agent.toolTimeout)).pipe(
                  Effect.tapError((error) => Effect.annotateCurrentSpan("error.type", error._tag)),
                  Effect.withSpan(`execute_tool ${toolCall.name}`, {
                    captureStackTrace: false,
                    attributes: {
                      "gen_ai.operation.name": "execute_tool",
                      "gen_ai.tool.name": toolCall.name,
                      "gen_ai.tool.call.id": toolCall.id
                    }
                  })
                )
            const outcome = yield* Effect.either(execution)
            toolLatency = yield* elapsedSince(toolStarted)
            if (Either.isRight(outcome)) {
              content = outcome.right
              isError = false
              yield* report({
                type: "tool.end",
                result: new ActionResult.ToolOutput({ tool: toolCall.name, content, isError }, true),
                metrics: { latencyMs: toolLatency },
                context: { tool: toolCall.name, toolCallId: toolCall.id, step }
              })
            } else {
              // Every tool error's recovery strategy is `fallback`: the model sees it and can adapt.
              content = `Error: ${outcome.left.message}`
              isError = true
              yield* report({
                type: "tool.error",
                result: describe(outcome.left),
                metrics: { latencyMs: toolLatency },
                context: { tool: toolCall.name, toolCallId: toolCall.id, step, error: outcome.left._tag }
              })
            }
            const checkedResult = yield* ValidationPipeline.check(
              new AgentAction.ToolResult({ step, toolCallId: toolCall.id, name: toolCall.name, content, isError }, true),
              context
            )
            if (checkedResult._tag === "Revise") {
              content = `Tool result withheld by ${checkedResult.validator}: ${checkedResult.feedback}`
              isError = true
              yield* record(
                new RevisionStep({
                  step,
                  stage: "tool_result",
                  validator: checkedResult.validator,
                  feedback: checkedResult.feedback
                }, true)
              )
            } else if (checkedResult.action._tag === "ToolResult") {
              content = checkedResult.action.content
            }
          }
          messages.push(new Message.ToolMessage({ toolCallId: requested.id, name: requested.name, content, isError }, true))
          yield* record(
            new ToolStep({ step, tool: toolCall.name, arguments: toolCall.arguments, output: content, isError, latencyMs: toolLatency }, true)
          )
        }
        continue
      }

      // -- final answer --------------------------------------------------------
      const answer = response.message.content ?? ""
      yield* state("validating")
      // Answer validators weigh the answer against what this run's tools returned and bound their revisions.
      const checkedAnswer = yield* ValidationPipeline.check(new AgentAction.FinalAnswer({ step, content: answer }, true), {
        ...context,
        toolResults: messages.flatMap((m) => m._tag === "tool" && !m.isError ? [m.content] : []),
        revisions: steps.filter((s) => s._tag === "RevisionStep" && s.stage === "final_answer").length
      })
      if (checkedAnswer._tag === "Revise") {
        messages.push(response.message)
        messages.push(
          Message.user(
            `Your answer was not accepted (${checkedAnswer.validator}): ${checkedAnswer.feedback}\nPlease revise it.`
          )
        )
        yield* record(
          new RevisionStep({ step, stage: "final_answer", validator: checkedAnswer.validator, feedback: checkedAnswer.feedback }, true)
        )
        continue
      }
      const finalAnswer = checkedAnswer.action._tag === "FinalAnswer" ? checkedAnswer.action.content : answer
      const durationMs = yield* elapsedSince(started)
      const result = new RunResult({ runId, agent: agent.name, answer: finalAnswer, steps, usage, durationMs }, true)
      yield* state("done")
      yield* report({
        type: "run.end",
        result: new ActionResult.Answer({ content: finalAnswer, steps: step, usage }, true),
        metrics: { latencyMs: durationMs, tokensIn: usage.inputTokens, tokensOut: usage.outputTokens }
      })
      return result
    }
    return yield* new Errors.MaxStepsExceeded({ agent: agent.name, maxSteps: agent.maxSteps })
  }).pipe(
    // Inside the `run.error` report and the span, so that a run cut by its deadline is recorded as ended.
    (loop) => {
      const deadline = hooks.deadline
      return deadline === undefined ? loop : Effect.timeoutFail(loop, {
        duration: deadline,
        onTimeout: () => new Errors.RunDeadlineExceeded({ agent: agent.name, deadlineMs: Duration.toMillis(deadline) })
      })
    },
    Effect.tapError((error) =>
      Monitor.report({ type: "run.error", agentId: agent.id, runId, result: describe(error) })
    ),
    // A run interrupted from outside (a shutdown past its deadline, a caller gone) is recorded as
    // ended too, so that telemetry never shows it as started and still running.
    Effect.onInterrupt(() =>
      Monitor.report({
        type: "run.error",
        agentId: agent.id,
        runId,
        result: new ActionResult.Failure({
          error: "Interrupted",
          message: `The run of "${agent.name}" was interrupted before it finished`,
          category: "execution"
        }, true)
      })
    ),
    Effect.withSpan(`invoke_agent ${agent.name}`, {
      captureStackTrace: false,
      attributes: {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent.name,
        "gen_ai.agent.id": agent.id,
        "patinox.run.id": runId
      }
    })
  )
