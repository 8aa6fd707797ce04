import { Tool } from "@patinox/core"
import { Context, Effect, Schema } from "effect"

export const add = Tool.make("add", {
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Struct({ sum: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed({ sum: a + b })
})

export class Ledger extends Context.Tag("test/Ledger")<Ledger, { readonly balance: Effect.Effect<number> }>() {}

/** A tool with a requirement of its own. */
export const balance = Tool.make("balance", {
  description: "Reads the balance from the ledger",
  parameters: Schema.Struct({}),
  success: Schema.Number,
  handler: () => Effect.flatMap(Ledger, (ledger) => ledger.balance)
})
