// Shared by the benchmarks: the tool every benchmarked agent calls.
import { Tool } from "@patinox/core"
import { Effect, Schema } from "effect"

export const add = Tool.make("add", {
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Struct({ sum: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed({ sum: a + b })
})
