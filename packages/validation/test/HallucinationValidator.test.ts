import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { AgentAction, Ids, Monitor, ValidationPipeline } from "@patinox/core"
import { ScriptedModel } from "@patinox/testing"
import { Effect, Layer } from "effect"
import * as HallucinationValidator from "../src/HallucinationValidator.js"
import * as KnowledgeBase from "../src/KnowledgeBase.js"
import * as Pipeline from "../src/Pipeline.js"
import { tempDatabase } from "./fixtures.js"

const LIGHTHOUSE =
  "The Skerrow Point lighthouse stands on the northern cape of the island of Vell. " +
  "It was first lit on 2 October 1871 and its tower is 38 metres tall. " +
  "The lamp was designed by the engineer Marta Holm and can be seen from 22 nautical miles."
const FERRY =
  "A ferry leaves the harbour of Vell for the mainland port of Ardlow three times a day. " +
  "The crossing takes 75 minutes and the fare for an adult is 14 euros."

const ids = { agentId: Ids.AgentId.make("agent-halu"), runId: Ids.RunId.make("run-halu") }

const seeded = Layer.effectDiscard(
  Effect.flatMap(KnowledgeBase.KnowledgeBase, (kb) =>
    kb.addMany([
      { id: "lighthouse", title: "Skerrow Point lighthouse", text: LIGHTHOUSE },
      { id: "ferry", title: "Vell ferry", text: FERRY }
    ]))
)

const kbLayer = Layer.mergeAll(Monitor.layerMemory(), seeded.pipe(Layer.provideMerge(KnowledgeBase.layer))).pipe(
  Layer.provide(tempDatabase("patinox-halv-"))
)

const answer = (content: string) => new AgentAction.FinalAnswer({ step: 3, content })

const check = (
  input: string,
  content: string,
  config: HallucinationValidator.ConfigInput = {},
  run: { readonly toolResults?: ReadonlyArray<string>; readonly revisions?: number } = {}
) =>
  ValidationPipeline.check(answer(content), { ...ids, input, ...run }).pipe(
    Effect.provide(Pipeline.stack(Pipeline.empty, HallucinationValidator.layer(config)))
  )

const QUESTION = "How tall is the Skerrow Point lighthouse?"
const WRONG = "The Skerrow Point lighthouse is 52 metres tall."
// Little of it is in the sources and nothing there contradicts it: the rules reject it, well clear of their threshold.
const UNSURE = "The keeper of the lighthouse painted its lamp room blue every spring."
// Half of it is in the sources: the rules pass it, but only just.
const CLOSE = "The lighthouse tower on the northern cape was painted white and red."
// Asks the judge about every checkable answer short of a contradiction or full support.
const ALWAYS = { enabled: true, band: [-1, 1] } as const
const judgeCalls = Effect.flatMap(ScriptedModel.Recorder, (r) => r.requests).pipe(Effect.map((requests) => requests.length))

describe("HallucinationValidator", () => {
  layer(kbLayer)("against a SQLite knowledge base", (it) => {
    it.effect("approves an answer the sources support", () =>
      Effect.gen(function*() {
        const content = "The Skerrow Point lighthouse is 38 metres tall and was first lit in 1871."
        const verdict = yield* check(QUESTION, content)
        assert.strictEqual(verdict._tag, "Proceed")
        if (verdict._tag === "Proceed" && verdict.action._tag === "FinalAnswer") {
          assert.strictEqual(verdict.action.content, content)
        }
      }))

    it.effect("asks the model to revise an answer with a wrong number, naming the claim", () =>
      Effect.gen(function*() {
        const verdict = yield* check(QUESTION, WRONG)
        assert.strictEqual(verdict._tag, "Revise")
        if (verdict._tag !== "Revise") return
        assert.strictEqual(verdict.validator, "hallucination")
        assert.include(verdict.feedback, `"${WRONG}"`)
        assert.include(verdict.feedback, "52")
      }))

    it.effect("annotates the answer instead in annotate mode", () =>
      Effect.gen(function*() {
        const verdict = yield* check(QUESTION, WRONG, { mode: "annotate" })
        assert.strictEqual(verdict._tag, "Proceed")
        if (verdict._tag !== "Proceed" || verdict.action._tag !== "FinalAnswer") return assert.fail("expected an answer")
        assert.isTrue(verdict.action.content.startsWith(WRONG))
        assert.include(verdict.action.content, "Note: the following could not be verified")
        assert.include(verdict.action.content, `"${WRONG}"`)
        assert.strictEqual(verdict.action.step, 3)
      }))

    it.effect("approves an answer the knowledge base knows nothing about", () =>
      Effect.gen(function*() {
        const verdict = yield* check("What is a quasar?", "Quasars are extremely luminous galactic nuclei.")
        assert.strictEqual(verdict._tag, "Proceed")
      }))

    it.effect("flags an unverifiable answer when configured to", () =>
      Effect.gen(function*() {
        const verdict = yield* check("What is a quasar?", "Quasars are extremely luminous galactic nuclei.", {
          whenUnverifiable: "flag"
        })
        assert.strictEqual(verdict._tag, "Revise")
      }))

    it.effect("counts this run's tool results as evidence: a calculator's result is not a hallucination", () =>
      Effect.gen(function*() {
        // The question shares words with the ferry passage, which says nothing of 7.
        const question = "About the ferry fare: what is 3 + 4?"
        const toolResults = [JSON.stringify({ result: 7, expression: "3 + 4 = 7" })]
        const verdict = yield* check(question, "3 + 4 = 7", {}, { toolResults })
        assert.strictEqual(verdict._tag, "Proceed")
        if (verdict._tag === "Proceed" && verdict.action._tag === "FinalAnswer") {
          assert.strictEqual(verdict.action.content, "3 + 4 = 7")
        }
        // A tool result that says something else supports nothing.
        const other = yield* check(question, "3 + 4 = 8", {}, { toolResults })
        assert.strictEqual(other._tag, "Revise")
      }))

    it.effect("judges a claim whose evidence is a tool result by the tool threshold", () =>
      Effect.gen(function*() {
        const toolResults = ["The parcel from Ardlow was delivered to the harbour office at noon on Friday."]
        const content = "The parcel from Ardlow reached the harbour office on Friday around lunchtime."
        const run = { toolResults }
        assert.strictEqual((yield* check("Where is my parcel?", content, {}, run))._tag, "Proceed")
        assert.strictEqual((yield* check("Where is my parcel?", content, { toolClaimThreshold: 0.95 }, run))._tag, "Revise")
        // The knowledge-base threshold does not apply to it.
        const strictKb = { claimThreshold: 0.95, toolClaimThreshold: 0.5 }
        assert.strictEqual((yield* check("Where is my parcel?", content, strictKb, run))._tag, "Proceed")
      }))

    it.effect("counts a delegated agent's answer, a JSON string, as evidence for a verbatim quote", () =>
      Effect.gen(function*() {
        const quote = "According to \"ferry-2\": The night ferry to Ardlow was withdrawn in 1998 after 41 years."
        const verdict = yield* check("When does the Vell ferry leave?", quote, {}, { toolResults: [JSON.stringify(quote)] })
        assert.strictEqual(verdict._tag, "Proceed")
        const alone = yield* check("When does the Vell ferry leave?", quote)
        assert.strictEqual(alone._tag, "Revise")
      }))

    it.effect("approves with a low-confidence note what no retrieved passage speaks to, without a revision", () =>
      Effect.gen(function*() {
        // The ferry passage is found for the question's words; it shares none with the claim.
        const content = "Cats purr when they are content."
        const memory = yield* Monitor.MemoryMonitor
        yield* memory.clear
        const verdict = yield* check("Is there a joke about cats on the ferry?", content)
        assert.strictEqual(verdict._tag, "Proceed")
        if (verdict._tag !== "Proceed" || verdict.action._tag !== "FinalAnswer") return assert.fail("expected an answer")
        assert.isTrue(verdict.action.content.startsWith(content))
        assert.include(verdict.action.content, "could not be verified")
        const records = (yield* memory.events).flatMap((e) => e.metrics.decisions ?? [])
        assert.strictEqual(records[0]?.decision, "modified")
        assert.match(records[0]?.reason ?? "", /^low confidence: no source speaks to 1 claim/)
      }))

    it.effect("passes a supported answer with an unverifiable note on the claim no source speaks to", () =>
      Effect.gen(function*() {
        const content = "The Skerrow Point lighthouse is 38 metres tall. Goat cheese keeps for weeks in brine."
        const memory = yield* Monitor.MemoryMonitor
        yield* memory.clear
        const verdict = yield* check(QUESTION, content)
        assert.strictEqual(verdict._tag, "Proceed")
        if (verdict._tag !== "Proceed" || verdict.action._tag !== "FinalAnswer") return assert.fail("expected an answer")
        assert.isTrue(verdict.action.content.startsWith(content))
        assert.include(verdict.action.content, "could not be verified: \"Goat cheese keeps for weeks in brine.\"")
        const records = (yield* memory.events).flatMap((e) => e.metrics.decisions ?? [])
        assert.strictEqual(records[0]?.decision, "modified")
        assert.match(records[0]?.reason ?? "", /approved with an "unverifiable" note$/)
      }))

    it.effect("asks for one revision per run, then rejects an answer still unsupported", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* check(QUESTION, WRONG, {}, { revisions: 0 }))._tag, "Revise")
        const error = yield* Effect.flip(check(QUESTION, WRONG, {}, { revisions: 1 }))
        assert.strictEqual(error._tag, "ValidationRejected")
        if (error._tag === "ValidationRejected") {
          assert.strictEqual(error.validator, "hallucination")
          assert.include(error.reason, `still not supported by the sources after 1 revision(s): "${WRONG}"`)
        }
        // The bound is configurable; 0 rejects at once.
        assert.strictEqual((yield* Effect.flip(check(QUESTION, WRONG, { maxRevisions: 0 })))._tag, "ValidationRejected")
        assert.strictEqual((yield* check(QUESTION, WRONG, { maxRevisions: 3 }, { revisions: 2 }))._tag, "Revise")
      }))

    it.effect("ignores actions other than the final answer", () =>
      Effect.gen(function*() {
        const action = new AgentAction.UserInput({ input: WRONG })
        const verdict = yield* ValidationPipeline.check(action, ids).pipe(
          Effect.provide(Pipeline.stack(Pipeline.empty, HallucinationValidator.layer()))
        )
        assert.strictEqual(verdict._tag, "Proceed")
      }))

    it.effect("records the decision under the validator's name", () =>
      Effect.gen(function*() {
        const memory = yield* Monitor.MemoryMonitor
        yield* memory.clear
        yield* check(QUESTION, WRONG)
        const records = (yield* memory.events).flatMap((e) => e.metrics.decisions ?? [])
        assert.deepStrictEqual(records.map((r) => [r.validator, r.stage, r.decision]), [[
          "hallucination",
          "final_answer",
          "retry"
        ]])
      }))

    it.effect("judge: a contradicted verdict turns a rule-approved answer into a revision", () =>
      Effect.gen(function*() {
        const verdict = yield* check(QUESTION, CLOSE, { judge: { enabled: true } })
        assert.strictEqual(verdict._tag, "Revise")
        if (verdict._tag === "Revise") assert.include(verdict.feedback, `- "${CLOSE}"`)
        const requests = yield* Effect.flatMap(ScriptedModel.Recorder, (r) => r.requests)
        assert.strictEqual(requests.length, 1)
        assert.include(requests[0]?.messages[1]?.content ?? "", "first lit on 2 October 1871")
      }).pipe(
        Effect.provide(ScriptedModel.layer([
          ScriptedModel.text(JSON.stringify({ verdict: "contradicted", unsupportedClaims: [] }))
        ]))
      ))

    it.effect("judge: an entailed verdict approves, and a broken reply falls back to the rules", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* check(QUESTION, UNSURE, { judge: ALWAYS }))._tag, "Proceed")
        const fallback = yield* check(QUESTION, UNSURE, { judge: ALWAYS })
        assert.strictEqual(fallback._tag, "Revise")
      }).pipe(
        Effect.provide(ScriptedModel.layer([
          ScriptedModel.text(JSON.stringify({ verdict: "entailed", unsupportedClaims: [] })),
          ScriptedModel.text("Looks entailed to me.")
        ]))
      ))

    it.effect("judge: a neutral verdict once the revisions are spent is a rejection, not another revision", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* check(QUESTION, CLOSE, { judge: { enabled: true } }))._tag, "Revise")
        const error = yield* Effect.flip(check(QUESTION, CLOSE, { judge: { enabled: true } }, { revisions: 1 }))
        assert.strictEqual(error._tag, "ValidationRejected")
      }).pipe(
        Effect.provide(ScriptedModel.layer([
          ScriptedModel.text(JSON.stringify({ verdict: "neutral", unsupportedClaims: [] })),
          ScriptedModel.text(JSON.stringify({ verdict: "neutral", unsupportedClaims: [] }))
        ]))
      ))

    it.effect("judge: asked only about close calls, never about a contradiction or clear support", () =>
      Effect.gen(function*() {
        const judge = { enabled: true }
        // A wrong number is a contradiction: the rules ask for a revision without the model.
        assert.strictEqual((yield* check(QUESTION, WRONG, { judge }))._tag, "Revise")
        // Every claim backed: approved without the model.
        const backed = "The Skerrow Point lighthouse is 38 metres tall and was first lit in 1871."
        assert.strictEqual((yield* check(QUESTION, backed, { judge }))._tag, "Proceed")
        assert.strictEqual(yield* judgeCalls, 0)
        // Little of it backed: rejected without the model.
        assert.strictEqual((yield* check(QUESTION, UNSURE, { judge }))._tag, "Revise")
        assert.strictEqual(yield* judgeCalls, 0)
        // A close call the rules would pass goes to the model, whose verdict decides.
        assert.strictEqual((yield* check(QUESTION, CLOSE, { judge }))._tag, "Revise")
        assert.strictEqual(yield* judgeCalls, 1)
        // An empty band never asks it, and the rules' verdict stands.
        assert.strictEqual((yield* check(QUESTION, CLOSE, { judge: { enabled: true, band: [0, 0] } }))._tag, "Proceed")
        assert.strictEqual(yield* judgeCalls, 1)
      }).pipe(
        Effect.provide(ScriptedModel.layer([
          ScriptedModel.text(JSON.stringify({ verdict: "neutral", unsupportedClaims: [] }))
        ]))
      ))

    it.effect("judge: a broken reply fails closed with onError reject", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(check(QUESTION, UNSURE, { judge: { ...ALWAYS, onError: "reject" } }))
        assert.strictEqual(error._tag, "ValidationRejected")
        if (error._tag === "ValidationRejected") assert.include(error.reason, "JudgeReplyInvalid")
      }).pipe(Effect.provide(ScriptedModel.layer([ScriptedModel.text("not json")]))))
  })

  layer(Layer.merge(Monitor.layerMemory(), tempDatabase("patinox-halv-broken-")))(
    "when the knowledge base fails",
    (it) => {
      it.effect("fails closed with the storage error", () =>
        Effect.gen(function*() {
          // A knowledge base whose tables are gone under it: every search fails.
          const kb = yield* KnowledgeBase.make()
          yield* Effect.flatMap(SqliteClient.SqliteClient, (sql) => sql`DROP TABLE kb_passages`).pipe(Effect.orDie)
          const error = yield* Effect.flip(
            check(QUESTION, WRONG).pipe(Effect.provideService(KnowledgeBase.KnowledgeBase, kb))
          )
          assert.strictEqual(error._tag, "ValidationRejected")
          if (error._tag === "ValidationRejected") {
            assert.include(error.reason, "validator failed: KnowledgeBaseError")
          }
        }))
    }
  )
})
