/**
 * The demo agent's tools: real arithmetic and the real current time.
 */
import { Tool } from "@patinox/core"
import { Clock, Effect, Schema } from "effect"

export class ArithmeticError extends Schema.TaggedError<ArithmeticError>("@patinox/app/ArithmeticError")(
  "ArithmeticError",
  { reason: Schema.String }
) {
  override get message() {
    return this.reason
  }
}

export const Operation = Schema.Literal("add", "subtract", "multiply", "divide", "power")

export const calculator = Tool.make("calculator", {
  description: "Exact arithmetic on two numbers: add, subtract, multiply, divide or power.",
  parameters: Schema.Struct({
    operation: Operation,
    a: Schema.Number.annotations({ description: "left operand" }),
    b: Schema.Number.annotations({ description: "right operand" })
  }),
  success: Schema.Struct({ result: Schema.Number, expression: Schema.String }),
  handler: ({ a, b, operation }) => {
    const symbol = { add: "+", subtract: "-", multiply: "*", divide: "/", power: "^" }[operation]
    if (operation === "divide" && b === 0) return Effect.fail(new ArithmeticError({ reason: "division by zero" }))
    const result = operation === "add"
      ? a + b
      : operation === "subtract"
      ? a - b
      : operation === "multiply"
      ? a * b
      : operation === "divide"
      ? a / b
      : a ** b
    if (!Number.isFinite(result)) return Effect.fail(new ArithmeticError({ reason: `${a} ${symbol} ${b} is not a finite number` }))
    return Effect.succeed({ result, expression: `${a} ${symbol} ${b} = ${result}` })
  }
})

export class UnknownTimeZone extends Schema.TaggedError<UnknownTimeZone>("@patinox/app/UnknownTimeZone")(
  "UnknownTimeZone",
  { timeZone: Schema.String }
) {
  override get message() {
    return `Unknown time zone "${this.timeZone}" (expected an IANA name such as "Europe/Paris")`
  }
}

export const currentTime = Tool.make("current_time", {
  description: "The current date and time, in UTC or in the given IANA time zone.",
  parameters: Schema.Struct({
    timeZone: Schema.optional(Schema.String.annotations({ description: "IANA time zone, e.g. Europe/Paris" }))
  }),
  success: Schema.Struct({ iso: Schema.String, timeZone: Schema.String, local: Schema.String }),
  handler: ({ timeZone }) =>
    Effect.gen(function*() {
      const zone = timeZone ?? "UTC"
      const now = new Date(yield* Clock.currentTimeMillis)
      const format = yield* Effect.try({
        try: () => new Intl.DateTimeFormat("en-GB", { dateStyle: "full", timeStyle: "long", timeZone: zone }),
        catch: () => new UnknownTimeZone({ timeZone: zone })
      })
      return { iso: now.toISOString(), timeZone: zone, local: format.format(now) }
    })
})
