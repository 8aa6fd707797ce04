/**
 * A typed tool: parameters and success are Effect Schemas (the model sees the
 * JSON Schema derived from the parameters), the handler is an Effect whose
 * requirements stay in the tool's type and flow into any agent that uses it.
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, JSONSchema, ParseResult, Predicate, Schema } from "effect"
import { ToolArgumentsInvalid, ToolFailed, ToolTimeout } from "./Errors.js"
import type { ToolDefinition } from "./LanguageModel.js"

/** @since 0.1.0 @category type ids */
export const TypeId: unique symbol = Symbol.for("@patinox/core/Tool")
/** @since 0.1.0 @category type ids */
export type TypeId = typeof TypeId

/** @since 0.1.0 @category models */
export interface Tool<
  out Name extends string,
  Params extends Schema.Schema.AnyNoContext,
  Success extends Schema.Schema.AnyNoContext,
  out E,
  out R
> {
  readonly [TypeId]: TypeId
  readonly name: Name
  readonly description: string
  readonly parameters: Params
  readonly success: Success
  readonly handler: (params: Schema.Schema.Type<Params>) => Effect.Effect<Schema.Schema.Type<Success>, E, R>
  /** Overrides the agent's per-tool timeout. */
  readonly timeout: Duration.Duration | undefined
  readonly definition: ToolDefinition
  /** Raw JSON arguments → parameters; built once per tool, not per call. */
  readonly decodeArguments: (raw: string) => Effect.Effect<Schema.Schema.Type<Params>, ParseResult.ParseError>
  /** Result → JSON text through the success schema; built once per tool. */
  readonly encodeResult: (value: Schema.Schema.Type<Success>) => Effect.Effect<string, ParseResult.ParseError>
}

/** Any tool, whatever its types. @since 0.1.0 @category models */
export interface Any extends Tool<string, Schema.Schema.AnyNoContext, Schema.Schema.AnyNoContext, unknown, unknown> {}

/** The services a tool (or a union of tools) needs. @since 0.1.0 @category type-level */
export type Context<T> = T extends Tool<infer _N, infer _P, infer _S, infer _E, infer R> ? R : never

/** The name of a tool (or the union of the names of a union of tools). @since 0.1.0 @category type-level */
export type Name<T> = T extends Tool<infer N, infer _P, infer _S, infer _E, infer _R> ? N : never

/** @since 0.1.0 @category guards */
export const isTool = (u: unknown): u is Any => Predicate.hasProperty(u, TypeId)

const toolName = /^[a-zA-Z0-9_-]{1,64}$/

const jsonSchemaOf = (schema: Schema.Schema.AnyNoContext): Readonly<Record<string, unknown>> => {
  const { $schema: _ignored, ...rest } = JSONSchema.make(schema) as unknown as Record<string, unknown>
  return rest
}

const jsonDecoder = <A, I>(schema: Schema.Schema<A, I, never>) => Schema.decodeUnknown(Schema.parseJson(schema))
const jsonEncoder = <A, I>(schema: Schema.Schema<A, I, never>) => Schema.encode(Schema.parseJson(schema))

/**
 * Defines a tool. The name must be what providers accept (`[a-zA-Z0-9_-]{1,64}`):
 * a bad name is a defect at definition time, where it is a programming error.
 *
 * @since 0.1.0 @category constructors
 */
export const make = <
  const Name extends string,
  Params extends Schema.Schema.AnyNoContext,
  Success extends Schema.Schema.AnyNoContext,
  E = never,
  R = never
>(
  name: Name,
  options: {
    readonly description: string
    readonly parameters: Params
    readonly success: Success
    readonly handler: (params: Schema.Schema.Type<Params>) => Effect.Effect<Schema.Schema.Type<Success>, E, R>
    readonly timeout?: Duration.DurationInput | undefined
  }
): Tool<Name, Params, Success, E, R> => {
  if (!toolName.test(name)) {
    throw new TypeError(`Tool name "${name}" must match ${toolName.source}`)
  }
  return {
    [TypeId]: TypeId,
    name,
    description: options.description,
    parameters: options.parameters,
    success: options.success,
    handler: options.handler,
    timeout: options.timeout === undefined ? undefined : Duration.decode(options.timeout),
    definition: { name, description: options.description, parameters: jsonSchemaOf(options.parameters) },
    decodeArguments: jsonDecoder(options.parameters),
    encodeResult: jsonEncoder(options.success)
  }
}

/**
 * Calls a tool's handler with already-typed parameters.
 *
 * @since 0.1.0 @category execution
 */
export const execute = <N extends string, P extends Schema.Schema.AnyNoContext, S extends Schema.Schema.AnyNoContext, E, R>(
  tool: Tool<N, P, S, E, R>,
  params: Schema.Schema.Type<P>
): Effect.Effect<Schema.Schema.Type<S>, E, R> => tool.handler(params)

const describeFailure = (error: unknown): string => {
  if (Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== "") {
    return Predicate.hasProperty(error, "_tag") && typeof error._tag === "string"
      ? `${error._tag}: ${error.message}`
      : error.message
  }
  if (Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") return error._tag
  return String(error)
}

/**
 * Runs a tool on the raw JSON arguments a model produced, as the agent loop
 * does: decode with the parameter schema, run the handler within `timeout`,
 * encode the result with the success schema to JSON text. Every way this can
 * go wrong — bad JSON, schema mismatch, handler failure or defect, timeout —
 * is a typed error whose recovery strategy is `fallback`: the loop shows it to
 * the model instead of failing the run.
 *
 * @since 0.1.0 @category execution
 */
export const runRaw = <T extends Any>(
  tool: T,
  rawArguments: string,
  timeout: Duration.DurationInput
): Effect.Effect<string, ToolArgumentsInvalid | ToolFailed | ToolTimeout, Context<T>> => {
  const timeoutDuration = tool.timeout ?? Duration.decode(timeout)
  const program = tool.decodeArguments(rawArguments === "" ? "{}" : rawArguments).pipe(
    Effect.mapError((error) =>
      new ToolArgumentsInvalid({
        tool: tool.name,
        reason: ParseResult.TreeFormatter.formatErrorSync(error)
      })
    ),
    Effect.flatMap((params) =>
      tool.handler(params).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.fail(
            new ToolFailed({
              tool: tool.name,
              reason: Cause.failureOption(cause).pipe(
                (failure) => failure._tag === "Some" ? describeFailure(failure.value) : Cause.pretty(cause).split("\n")[0] ?? "defect"
              )
            })
          )
        ),
        Effect.timeoutFail({
          duration: timeoutDuration,
          onTimeout: () => new ToolTimeout({ tool: tool.name, timeoutMs: Duration.toMillis(timeoutDuration) })
        })
      )
    ),
    Effect.flatMap((output) =>
      tool.encodeResult(output).pipe(
        Effect.mapError((error) =>
          new ToolFailed({
            tool: tool.name,
            reason: `result does not match the tool's success schema: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
          })
        )
      )
    )
  )
  // `Any` erases R to unknown; the tool's real requirements are `Context<T>`.
  return program as Effect.Effect<string, ToolArgumentsInvalid | ToolFailed | ToolTimeout, Context<T>>
}
