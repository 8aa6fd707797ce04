/**
 * Framework overhead per agent run: one tool call, two model calls, against
 * the fake OpenAI server with zero latency, beside the same two calls made
 * with the bare `openai` SDK in the same process and run. Rounds alternate
 * between the two so that drift (JIT, GC, the other core) hits both alike.
 */
import { Agent } from "@patinox/agent"
import { Monitor, ValidationPipeline } from "@patinox/core"
import { OpenAiLanguageModel } from "@patinox/provider-openai"
import { FakeOpenAi } from "@patinox/testing"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Scope } from "effect"
import OpenAI from "openai"
import { add } from "./fixtures.js"
import type { Benchmark, BenchRow } from "./harness.js"
import { percentile, round } from "./harness.js"

const ROUNDS = 6
const PER_ROUND = 150
const WARMUP = 200


const instructions = "You add numbers with the add tool."
const input = "What is 17 + 25?"

const benchmark: Benchmark = {
  name: "agent-overhead",
  description: "agent run (2 model calls + 1 tool) vs the bare openai SDK, fake server at zero latency",
  run: async (progress) => {
    const scope = Effect.runSync(Scope.make())
    const fake = await Effect.runPromise(
      Scope.extend(FakeOpenAi.make({ responder: FakeOpenAi.toolThenAnswer("add", { a: 17, b: 25 }, "42") }), scope)
    )
    try {
      // -- framework: model built once, run through the full loop with pipeline and monitor
      const runtime = ManagedRuntime.make(
        Layer.mergeAll(
          OpenAiLanguageModel.layer({
            apiKey: Redacted.make("sk-bench"),
            baseURL: fake.url,
            model: "gpt-bench",
            retryPolicy: { maxRetries: 0, baseDelay: "1 millis", maxDelay: "1 millis" }
          }),
          ValidationPipeline.passThrough,
          Monitor.layerMemory()
        )
      )
      const agent = Agent.make("bench").model("gpt-bench").instructions(instructions).tools(add).build()
      const framework = () => runtime.runPromise(Agent.run(agent, input))

      // -- baseline: the same two calls with the bare SDK
      const client = new OpenAI({ apiKey: "sk-bench", baseURL: fake.url, maxRetries: 0 })
      const tools: Array<OpenAI.Chat.Completions.ChatCompletionTool> = [
        { type: "function", function: { name: add.name, description: add.description, parameters: { ...add.definition.parameters } } }
      ]
      const baseline = async () => {
        const messages: Array<OpenAI.Chat.Completions.ChatCompletionMessageParam> = [
          { role: "system", content: instructions },
          { role: "user", content: input }
        ]
        const first = await client.chat.completions.create({ model: "gpt-bench", messages, tools })
        const message = first.choices[0]?.message
        const call = message?.tool_calls?.[0]
        if (message === undefined || call === undefined || call.type !== "function") throw new Error("expected a tool call")
        const args = JSON.parse(call.function.arguments) as { a: number; b: number }
        messages.push(message, { role: "tool", tool_call_id: call.id, content: JSON.stringify({ sum: args.a + args.b }) })
        const second = await client.chat.completions.create({ model: "gpt-bench", messages, tools })
        if (second.choices[0]?.message.content !== "42") throw new Error("unexpected answer")
      }

      progress(`warming up (${WARMUP} runs each)`)
      for (let i = 0; i < WARMUP; i++) {
        await framework()
        await baseline()
      }
      const samples = { framework: [] as Array<number>, baseline: [] as Array<number> }
      const wall = { framework: 0, baseline: 0 }
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, fn] of [["framework", framework], ["baseline", baseline]] as const) {
          const start = performance.now()
          for (let i = 0; i < PER_ROUND; i++) {
            const t0 = performance.now()
            await fn()
            samples[name].push(performance.now() - t0)
          }
          wall[name] += performance.now() - start
        }
        progress(`round ${round + 1}/${ROUNDS}: ${(round + 1) * PER_ROUND} runs each`)
      }
      await runtime.dispose()

      const stats = (name: "framework" | "baseline") => ({
        runsPerSecond: samples[name].length / (wall[name] / 1000),
        p50: percentile(samples[name], 50),
        p99: percentile(samples[name], 99)
      })
      const f = stats("framework")
      const b = stats("baseline")
      const rows: Array<BenchRow> = [
        { name: "agent-overhead/bare-sdk", metric: "runs/s", value: round(b.runsPerSecond, 1), unit: "runs/s" },
        { name: "agent-overhead/bare-sdk", metric: "p50", value: round(b.p50), unit: "ms" },
        { name: "agent-overhead/bare-sdk", metric: "p99", value: round(b.p99), unit: "ms" },
        {
          name: "agent-overhead/framework",
          metric: "runs/s",
          value: round(f.runsPerSecond, 1),
          unit: "runs/s",
          baseline: round(b.runsPerSecond, 1),
          ratio: round(f.runsPerSecond / b.runsPerSecond)
        },
        { name: "agent-overhead/framework", metric: "p50", value: round(f.p50), unit: "ms", baseline: round(b.p50), ratio: round(f.p50 / b.p50) },
        { name: "agent-overhead/framework", metric: "p99", value: round(f.p99), unit: "ms", baseline: round(b.p99), ratio: round(f.p99 / b.p99) }
      ]
      progress(`p50 ratio framework/bare SDK = ${round(f.p50 / b.p50)} (target <= 1.15)`)
      return rows
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

export default benchmark
