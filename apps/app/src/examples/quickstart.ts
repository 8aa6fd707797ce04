// The README's example, kept here so that it type-checks with the rest:
// `OPENAI_API_KEY=... node --import tsx src/examples/quickstart.ts`
import { NodeRuntime } from "@effect/platform-node"
import { Agent } from "@patinox/agent"
import { Monitor, Tool, ValidationPipeline } from "@patinox/core"
import { OpenAiLanguageModel } from "@patinox/provider-openai"
import { Effect, Layer, Schema } from "effect"

const add = Tool.make("add", {
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number,
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const calculator = Agent.make("calculator")
  .model(OpenAiLanguageModel.layerConfig()) // OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL
  .instructions("Use the add tool for arithmetic.")
  .tools(add)
  .build() // without .model(...) or .instructions(...) this line does not compile

Agent.run(calculator, "What is 17 + 25?").pipe(
  Effect.tap((result) => Effect.log(result.answer, result.usage)),
  Effect.provide(Layer.merge(ValidationPipeline.passThrough, Monitor.layerMemory())),
  NodeRuntime.runMain
)
