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

const check = (input: string, content: string, config: HallucinationValidator.ConfigInput = {}) =>
  ValidationPipeline.check(answer(content), { ...ids, input }).pipe(
    Effect.provide(Pipeline.stack(Pipeline.empty, HallucinationValidator.layer(config)))
  )

const QUESTION = "How tall is the Skerrow Point lighthouse?"
const WRONG = "The Skerrow Point lighthouse is 52 metres tall."

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
        const content = "The lighthouse on Vell was first lit in 1871."
        const verdict = yield* check("When was the lighthouse first lit?", content, { judge: { enabled: true } })
        assert.strictEqual(verdict._tag, "Revise")
        if (verdict._tag === "Revise") assert.include(verdict.feedback, `- "${content}"`)
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
        assert.strictEqual((yield* check(QUESTION, WRONG, { judge: { enabled: true } }))._tag, "Proceed")
        assert.strictEqual((yield* check(QUESTION, WRONG, { judge: { enabled: true } }))._tag, "Revise")
      }).pipe(
        Effect.provide(ScriptedModel.layer([
          ScriptedModel.text(JSON.stringify({ verdict: "entailed", unsupportedClaims: [] })),
          ScriptedModel.text("Looks entailed to me.")
        ]))
      ))

    it.effect("judge: a broken reply fails closed with onError reject", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(check(QUESTION, WRONG, { judge: { enabled: true, onError: "reject" } }))
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
