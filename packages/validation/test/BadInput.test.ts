import { assert, describe, layer } from "@effect/vitest"
import { AgentAction, Ids, Message, Monitor, ValidationPipeline } from "@patinox/core"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as HallucinationValidator from "../src/HallucinationValidator.js"
import * as JailbreakValidator from "../src/JailbreakValidator.js"
import * as KnowledgeBase from "../src/KnowledgeBase.js"
import * as Pipeline from "../src/Pipeline.js"
import * as PromptGuard from "../src/PromptGuard.js"
import * as RateLimiter from "../src/RateLimiter.js"
import { tempDatabase } from "./fixtures.js"

const ids = { agentId: Ids.AgentId.make("agent-bad"), runId: Ids.RunId.make("run-bad") }

/** Deterministic bytes (xorshift32), so a failure reproduces. */
const randomLatin1 = (length: number, seed: number): string => {
  let x = seed >>> 0 || 1
  const codes = new Array<number>(length)
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    codes[i] = (x >>> 0) & 0xff
  }
  let out = ""
  for (let i = 0; i < length; i += 8192) out += String.fromCharCode(...codes.slice(i, i + 8192))
  return out
}

const SENTENCE = "The pumping station on the canal was rebuilt in 1904 and moves 30 tonnes of water a minute. "
const megabyte = (SENTENCE.repeat(Math.ceil(1_048_576 / SENTENCE.length))).slice(0, 1_048_576)
const loneSurrogates = "\uD800 start \uDC00 middle \uDBFF\uD7FF end \uDFFF" + "\uD83D".repeat(500) + "x\uDE00"
const depth = 10_000
const deepJson = "[".repeat(depth) + "{\"k\":\"v\"}" + "]".repeat(depth) + "{".repeat(depth)

const inputs: ReadonlyArray<readonly [string, string]> = [
  ["empty", ""],
  ["1 MB", megabyte],
  ["binary", randomLatin1(65_536, 0x5eed)],
  ["lone surrogates", loneSurrogates],
  ["deeply nested JSON", deepJson]
]

const actionsFor = (text: string): ReadonlyArray<AgentAction.AgentAction> => [
  new AgentAction.UserInput({ input: text }),
  new AgentAction.ModelCall({ step: 1, messages: [Message.user(text)], tools: [] }),
  new AgentAction.ToolCallAction({
    step: 1,
    toolCall: new Message.ToolCall({ id: Ids.ToolCallId.make("call-bad"), name: "lookup", arguments: text })
  }),
  new AgentAction.ToolResult({ step: 1, toolCallId: Ids.ToolCallId.make("call-bad"), name: "lookup", content: text, isError: false }),
  new AgentAction.FinalAnswer({ step: 2, content: text })
]

const fullStack = Pipeline.stack(
  Pipeline.empty,
  CircuitBreaker.layerValidator,
  RateLimiter.layer({ requests: { capacity: 10_000, refillPerSecond: 1_000 }, waitBudget: "1 second" }),
  JailbreakValidator.layer({ mode: "sanitize" }),
  HallucinationValidator.layer()
)

const kb = Layer.effectDiscard(
  Effect.flatMap(KnowledgeBase.KnowledgeBase, (kb) =>
    kb.add({ id: "canal", text: "The canal pumping station was rebuilt in 1904. It moves 30 tonnes of water a minute." }))
).pipe(
  Layer.provideMerge(KnowledgeBase.layer),
  Layer.provide(tempDatabase("patinox-bad-"))
)

const services = Layer.mergeAll(PromptGuard.layer(), CircuitBreaker.layer(), kb).pipe(
  Layer.provideMerge(Monitor.layerMemory(100))
)

/** Each action gets this long, on the real clock (the block excludes the test services). */
const BOUND = "10 seconds"

describe("bad input through the full validation stack", () => {
  layer(fullStack.pipe(Layer.provideMerge(services)), { timeout: 60_000, excludeTestServices: true })("four validators", (it) => {
    for (const [name, text] of inputs) {
      it.effect(`${name}: every action gets a verdict or a typed error, in time`, () =>
        Effect.gen(function*() {
          for (const action of actionsFor(text)) {
            const exit = yield* ValidationPipeline.check(action, { ...ids, input: text }).pipe(
              Effect.timeout(BOUND),
              Effect.exit
            )
            const where = `${name} ${action._tag}`
            if (Exit.isSuccess(exit)) {
              assert.include(["Proceed", "Revise"], exit.value._tag, where)
              continue
            }
            assert.isFalse(Cause.isDie(exit.cause), `${where} died: ${Cause.pretty(exit.cause)}`)
            const failure = Cause.failureOption(exit.cause)
            assert.isTrue(Option.isSome(failure), `${where}: ${Cause.pretty(exit.cause)}`)
            if (Option.isSome(failure)) {
              assert.notStrictEqual(failure.value._tag, "TimeoutException", `${where} did not finish within ${BOUND}`)
              assert.include(
                ["ValidationRejected", "ValidationRetriesExhausted", "ModificationNotAllowed"],
                failure.value._tag,
                where
              )
            }
          }
        }), 120_000)
    }
  })
})
