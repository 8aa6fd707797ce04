import { assert, describe, it } from "@effect/vitest"
import { Behaviour } from "@patinox/meta"
import { TempDir } from "@patinox/testing"
import { Effect } from "effect"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseDocument } from "yaml"

const shipped = fileURLToPath(new URL("../../../agents", import.meta.url))

const commented = `# A commented agent.
name: helper
description: Helps. # inline comment
instructions: >-
  Be brief.
# Steps bound the run.
maxSteps: 4
tools:
  - name: calculator
    timeoutMs: 1000 # tight
  - name: current_time
`

const folder = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const dir = yield* TempDir.make("patinox-behaviour-")
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
    return dir
  })

describe("Behaviour", () => {
  it.effect("loads the shipped agents folder", () =>
    Effect.gen(function*() {
      const loaded = yield* Behaviour.load(shipped)
      assert.deepStrictEqual(loaded.map((l) => l.behaviour.name), ["assistant", "calculator", "researcher", "router"])
      const assistant = loaded[0]!.behaviour
      assert.strictEqual(assistant.maxSteps, 8)
      assert.deepStrictEqual(assistant.tools.map((t) => t.name), ["calculator", "current_time"])
      assert.strictEqual(assistant.tools[1]!.timeoutMs, 5000)
    }))

  it("the shipped files print back unchanged, so an edit's diff is only the edit", () => {
    for (const name of readdirSync(shipped)) {
      const text = readFileSync(join(shipped, name), "utf8")
      assert.strictEqual(String(parseDocument(text)), text, name)
    }
  })

  it.scoped("a bad value fails naming the file and the key path", () =>
    Effect.gen(function*() {
      const dir = yield* folder({ "helper.yaml": commented.replace("timeoutMs: 1000", "timeoutMs: -1") })
      const error = yield* Effect.flip(Behaviour.load(dir))
      assert.strictEqual(error._tag, "BehaviourFileError")
      assert.strictEqual(error.file, join(dir, "helper.yaml"))
      assert.strictEqual(error.key, "tools[0].timeoutMs")
      assert.include(error.message, "helper.yaml at tools[0].timeoutMs")
    }))

  it.scoped("a misspelt key, a YAML syntax error and a missing field are named", () =>
    Effect.gen(function*() {
      const typo = yield* Effect.flip(Behaviour.decode(commented.replace("maxSteps", "maxStep"), "a.yaml"))
      assert.include(typo.reason, "maxSteps")
      assert.include(typo.reason, "maxStep:")
      const syntax = yield* Effect.flip(Behaviour.decode("name: [unclosed\n", "b.yaml"))
      assert.strictEqual(syntax.file, "b.yaml")
      assert.strictEqual(syntax.key, "")
      const missing = yield* Effect.flip(Behaviour.decode("name: x\n", "c.yaml"))
      assert.include(missing.reason, "description")
    }))

  it.scoped("two files defining one agent, a tool listed twice, an empty folder are errors", () =>
    Effect.gen(function*() {
      const dir = yield* folder({ "a.yaml": commented, "b.yml": commented })
      const duplicate = yield* Effect.flip(Behaviour.load(dir))
      assert.strictEqual(duplicate.file, join(dir, "b.yml"))
      assert.strictEqual(duplicate.key, "name")
      const twice = yield* Effect.flip(Behaviour.decode(commented.replace("current_time", "calculator"), "t.yaml"))
      assert.strictEqual(twice.key, "tools[1].name")
      const empty = yield* Effect.flip(Behaviour.load(yield* folder({ "notes.txt": "x" })))
      assert.include(empty.reason, "no agent files")
    }))

  it.effect("an edit changes one line and keeps every comment", () =>
    Effect.gen(function*() {
      const edited = yield* Behaviour.edit(commented, ["tools", 0, "timeoutMs"], 2500)
      const before = commented.split("\n")
      const after = edited.split("\n")
      assert.strictEqual(after.length, before.length)
      const changed = before.flatMap((line, i) => line === after[i] ? [] : [i])
      assert.deepStrictEqual(changed, [9])
      assert.strictEqual(after[9], "    timeoutMs: 2500 # tight")
      const decoded = yield* Behaviour.decode(edited, "edited.yaml")
      assert.strictEqual(decoded.tools[0]!.timeoutMs, 2500)
    }))

  it.effect("an edit of every shipped file's maxSteps changes that line only", () =>
    Effect.gen(function*() {
      for (const name of readdirSync(shipped)) {
        const text = readFileSync(join(shipped, name), "utf8")
        const edited = yield* Behaviour.edit(text, ["maxSteps"], 7)
        const before = text.split("\n")
        const after = edited.split("\n")
        assert.deepStrictEqual(after.filter((line, i) => line !== before[i]), ["maxSteps: 7"], name)
      }
    }))

  it.effect("a hand-folded block scalar the printer would refold stays as written", () =>
    Effect.gen(function*() {
      // Short folded lines (not filling 80 columns) right above the edited key: the yaml printer
      // refolds them, which must not reach the diff.
      const text = [
        "name: ledger",
        "description: Ledger entries.",
        "instructions: >-",
        "  You check ledger entries.",
        "  Say when one is pending.",
        "maxSteps: 10",
        "tools:",
        "  - name: ledger_lookup # the ledger service",
        ""
      ].join("\n")
      const edited = yield* Behaviour.edit(text, ["maxSteps"], 3)
      assert.strictEqual(edited, text.replace("maxSteps: 10", "maxSteps: 3"))
      // A new key under a list item, next to a comment: only the added lines differ.
      const retried = yield* Behaviour.edit(text, ["tools", 0, "retry"], { times: 2 })
      const before = text.split("\n")
      assert.deepStrictEqual(retried.split("\n").filter((line) => !before.includes(line)), ["    retry:", "      times: 2"])
      assert.include(retried, "  You check ledger entries.\n  Say when one is pending.")
    }))

  it.effect("an edit that would make the file invalid fails naming the key", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Behaviour.edit(commented, ["maxSteps"], 0, "helper.yaml"))
      assert.strictEqual(error.file, "helper.yaml")
      assert.strictEqual(error.key, "maxSteps")
      const removed = yield* Behaviour.edit(commented, ["tools", 0, "timeoutMs"], undefined)
      assert.notInclude(removed, "timeoutMs")
      assert.include(removed, "# A commented agent.")
    }))
})
