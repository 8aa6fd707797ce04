// The command line's pure parts, in process (the commands themselves run as processes in AnalyzeProcess.test.ts).
import { assert, describe, it } from "@effect/vitest"
import { RunResult } from "@patinox/agent"
import { Ids, Usage } from "@patinox/core"
import * as Cli from "../src/Cli.js"

describe("patinox run's trace", () => {
  it("is the answer, one line per step with timings and tokens, then the totals", () => {
    const usage = (inputTokens: number, outputTokens: number) => new Usage.Usage({ inputTokens, outputTokens })
    const result = new RunResult.RunResult({
      runId: Ids.RunId.make("run-1"),
      agent: "assistant",
      answer: "6 * 7 = 42",
      steps: [
        new RunResult.ModelStep({ step: 1, model: "m", finishReason: "tool_calls", toolCalls: ["calculator"], usage: usage(40, 9), latencyMs: 3.2 }),
        new RunResult.ToolStep({ step: 1, tool: "calculator", arguments: "{}", output: "42", isError: false, latencyMs: 1 }),
        new RunResult.RevisionStep({ step: 2, stage: "final_answer", validator: "hallucination", feedback: "Unsupported.\nMore." }),
        new RunResult.ModelStep({ step: 2, model: "m", finishReason: "stop", toolCalls: [], usage: usage(60, 4), latencyMs: 0.4 })
      ],
      usage: usage(100, 13),
      durationMs: 12.6
    })
    assert.deepStrictEqual(Cli.trace(result).split("\n"), [
      "6 * 7 = 42",
      "  1 model m -> calculator (3 ms, 40+9 tokens)",
      "  1 tool calculator ok (1 ms)",
      "  2 hallucination sent back the final answer: Unsupported.",
      "  2 model m -> stop (0 ms, 60+4 tokens)",
      "run run-1: 4 steps, 100+13 tokens, 13 ms"
    ])
  })

  it("shows control characters from a model's answer escaped", () => {
    const result = new RunResult.RunResult({
      runId: Ids.RunId.make("run-2"),
      agent: "assistant",
      answer: "done\u001b[2J",
      steps: [],
      usage: new Usage.Usage({ inputTokens: 0, outputTokens: 0 }),
      durationMs: 1
    })
    assert.strictEqual(Cli.trace(result).split("\n")[0], "done\\u001b[2J")
  })
})
