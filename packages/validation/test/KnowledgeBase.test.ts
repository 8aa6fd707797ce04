import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { TempDir } from "@patinox/testing"
import { Effect, Layer } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as KnowledgeBase from "../src/KnowledgeBase.js"
import { tempDatabase } from "./fixtures.js"


const kbLayer = (name: string, options?: KnowledgeBase.Options) =>
  (options === undefined ? KnowledgeBase.layer : KnowledgeBase.layerWith(options)).pipe(
    Layer.provide(tempDatabase("patinox-kb-", name))
  )

describe("KnowledgeBase", () => {
  layer(kbLayer("search"))("add and search", (it) => {
    it.effect("finds a document by its words and ranks the closer match first", () =>
      Effect.gen(function*() {
        const kb = yield* KnowledgeBase.KnowledgeBase
        yield* kb.add({ id: "lighthouse", text: "The Varnholm lighthouse was built in 1887 on a granite reef." })
        yield* kb.add({ id: "bakery", text: "The harbour bakery sells rye bread every morning to fishermen." })
        yield* kb.add({ id: "reef", text: "A granite reef lies north of the harbour; lighthouse keepers fished there." })

        const hits = yield* kb.search("When was the Varnholm lighthouse built?")
        assert.isAbove(hits.length, 0)
        assert.strictEqual(hits[0]!.docId, "lighthouse")
        assert.isTrue(hits.every((h, i) => i === 0 || hits[i - 1]!.score >= h.score))
        assert.isTrue(hits.every((h) => h.docId !== "bakery"))
      }))

    it.effect("matches inflected forms through the porter stemmer", () =>
      Effect.gen(function*() {
        const kb = yield* KnowledgeBase.KnowledgeBase
        const hits = yield* kb.search("fishing keepers")
        assert.include(hits.map((h) => h.docId), "reef")
      }))

    it.effect("restricts results to the scope, and an empty scope finds nothing", () =>
      Effect.gen(function*() {
        const kb = yield* KnowledgeBase.KnowledgeBase
        const scoped = yield* kb.search("granite reef lighthouse harbour", { scope: ["reef"] })
        assert.deepStrictEqual([...new Set(scoped.map((h) => h.docId))], ["reef"])
        assert.deepStrictEqual(yield* kb.search("granite", { scope: [] }), [])
      }))

    it.effect("honours the limit", () =>
      Effect.gen(function*() {
        const kb = yield* KnowledgeBase.KnowledgeBase
        const hits = yield* kb.search("harbour granite lighthouse rye", { limit: 1 })
        assert.strictEqual(hits.length, 1)
      }))

    it.effect("replaces a document added again under the same id, and removes it", () =>
      Effect.gen(function*() {
        const kb = yield* KnowledgeBase.KnowledgeBase
        yield* kb.add({ id: "note", text: "Quartzite ridges run east." })
        yield* kb.add({ id: "note", text: "Basalt columns stand west." })
        assert.deepStrictEqual(yield* kb.search("quartzite"), [])
        assert.strictEqual((yield* kb.search("basalt"))[0]?.docId, "note")
        const before = yield* kb.count
        assert.isTrue(yield* kb.remove("note"))
        assert.isFalse(yield* kb.remove("note"))
        assert.strictEqual(yield* kb.count, before - 1)
        assert.deepStrictEqual(yield* kb.search("basalt"), [])
      }))

    it.effect("generates ids and adds many documents at once", () =>
      Effect.gen(function*() {
        const kb = yield* KnowledgeBase.KnowledgeBase
        const before = yield* kb.count
        const ids = yield* kb.addMany([
          { text: "Otters eat sea urchins.", title: "Otters", source: "notes", metadata: { lang: "en" } },
          { text: "Urchins graze kelp forests." }
        ])
        assert.strictEqual(ids.length, 2)
        assert.notStrictEqual(ids[0], ids[1])
        assert.strictEqual(yield* kb.count, before + 2)
        const hits = yield* kb.search("urchins")
        assert.sameMembers([...new Set(hits.map((h) => h.docId))], [...ids])
        const listed = yield* kb.list
        assert.strictEqual(listed.length, yield* kb.count)
        const otters = listed.find((d) => d.id === ids[0])
        assert.deepInclude(otters, { title: "Otters", source: "notes", passages: 1 })
        assert.isAbove(otters?.addedAt ?? 0, 0)
        assert.deepInclude(listed.find((d) => d.id === ids[1]), { title: undefined, source: undefined, passages: 1 })
      }))
  })

  layer(kbLayer("chunks", { chunking: { sentencesPerPassage: 2, overlap: 1 } }))("chunking", (it) => {
    it.effect("indexes a long document as overlapping passages", () =>
      Effect.gen(function*() {
        const kb = yield* KnowledgeBase.KnowledgeBase
        const sentences = Array.from({ length: 9 }, (_, i) => `Station ${i} records the marker word tok${i} daily.`)
        yield* kb.add({ id: "long", text: sentences.join(" ") })
        const first = yield* kb.search("tok0")
        const last = yield* kb.search("tok8")
        assert.strictEqual(first.length, 1)
        assert.notStrictEqual(first[0]!.passageId, last[0]!.passageId)
        assert.notInclude(first[0]!.text, "tok8")
        // Sentence 4 sits in two passages because of the overlap.
        const middle = yield* kb.search("tok4", { limit: 10 })
        assert.strictEqual(middle.length, 2)
        assert.isTrue(middle.every((h) => h.docId === "long"))
      }))
  })

  layer(kbLayer("hostile"))("hostile queries", (it) => {
    it.effect("never fail on FTS5 syntax, huge or empty input", () =>
      Effect.gen(function*() {
        const kb = yield* KnowledgeBase.KnowledgeBase
        yield* kb.add({ id: "doc", text: "Near the river, an AND gate and an OR gate sit on the board 🚀." })
        const queries = [
          "\"",
          "\"unbalanced",
          "*",
          "gate*",
          "NEAR(",
          "NEAR(river gate, 2)",
          "AND OR",
          "AND",
          "NOT gate",
          "",
          "   ",
          "^river",
          "col:river",
          "river -gate",
          "🚀🚀🚀",
          "x".repeat(100_000),
          "river ".repeat(20_000),
          "'; DROP TABLE kb_documents; --"
        ]
        for (const query of queries) {
          const hits = yield* kb.search(query)
          assert.isArray(hits)
        }
        assert.isAbove((yield* kb.search("NEAR(river gate, 2)")).length, 0)
        assert.strictEqual(yield* kb.count, 1)
      }))
  })

  it.scoped("stores title, source and text redacted: neither search nor the file holds the secret", () =>
    Effect.gen(function*() {
      // Built at run time so that no secret-shaped literal sits in the repository.
      const key = ["sk", "proj", "Q7m2Vx9LpR4tZ8kW1nB6yH3cJ5dF0gT2"].join("-")
      const email = ["marit.olsen", "fjordmail.example"].join("@")
      const filename = join(yield* TempDir.make("patinox-kb-redact-"), "kb.sqlite")
      const program = Effect.gen(function*() {
        const kb = yield* KnowledgeBase.KnowledgeBase
        yield* kb.add({
          id: "deploy",
          title: `Deploy key ${key} (owner ${email})`,
          source: `mailto:${email}?key=${key}`,
          text: `The deploy key is ${key}. Questions about the deploy go to ${email}.`,
          metadata: { contact: email, apiKey: "plain-looking-value" }
        })
        const hits = yield* kb.search(`deploy key ${key} ${email}`)
        assert.isAbove(hits.length, 0)
        for (const hit of hits) {
          assert.notInclude(hit.text, key)
          assert.notInclude(hit.text, email)
          assert.include(hit.text, "[REDACTED:")
        }
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ title: string; source: string; text: string; metadata: string }>`
          SELECT title, source, text, metadata FROM kb_documents`
        const stored = JSON.stringify(rows)
        assert.notInclude(stored, key)
        assert.notInclude(stored, email)
        assert.notInclude(stored, "plain-looking-value")
        assert.include(rows[0]?.title ?? "", "Deploy key [REDACTED:")
      })
      yield* program.pipe(Effect.provide(KnowledgeBase.layer.pipe(Layer.provideMerge(SqliteClient.layer({ filename })))))
      // The client is closed here: everything is in the main file or what is left of its journal.
      const bytes = [filename, `${filename}-wal`, `${filename}-journal`]
        .filter((file) => existsSync(file))
        .map((file) => readFileSync(file).toString("latin1"))
        .join("")
      assert.isAbove(bytes.length, 0)
      assert.notInclude(bytes, key)
      assert.notInclude(bytes, email)
      assert.notInclude(bytes, "Q7m2Vx9LpR4tZ8kW1nB6yH3cJ5dF0gT2")
    }))
})
