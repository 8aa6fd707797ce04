import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Migrations } from "@patinox/telemetry-store"
import { TempDir } from "@patinox/testing"
import { Effect, Layer, TestClock } from "effect"
import { join } from "node:path"
import { type Analysis, type Proposal, ProposalStore } from "../src/index.js"

// A fresh, migrated SQLite file per test, removed with the test's scope.
const withStore = <A, E>(body: Effect.Effect<A, E, ProposalStore.ProposalStore>) =>
  Effect.gen(function*() {
    const dir = yield* TempDir.make("patinox-proposals-")
    const database = Layer.effectDiscard(Migrations.run()).pipe(
      Layer.provideMerge(SqliteClient.layer({ filename: join(dir, "store.db") }))
    )
    return yield* body.pipe(Effect.provide(ProposalStore.layer.pipe(Layer.provide(database))))
  })

const store = ProposalStore.ProposalStore
const target: Analysis.Target = { tool: "search" }

const proposal = (
  id: string,
  options: { readonly key?: string; readonly after?: string; readonly p95?: number } = {}
): Proposal.Proposal => ({
  id,
  findingKey: options.key ?? "tool-latency:tool:search",
  title: `Raise the search timeout (${id})`,
  files: [{ path: "agents/assistant.yaml", before: "timeoutMs: 1000\n", after: options.after ?? "timeoutMs: 2000\n" }],
  evidence: {
    query: "SELECT latency_ms FROM events WHERE tool = ?",
    before: { p95: options.p95 ?? 1800 },
    expected: "p95 under the timeout"
  },
  labels: ["meta"]
})

describe("ProposalStore", () => {
  it.scoped("records a new proposal as open, with its diff, evidence, target and the clock's time", () =>
    withStore(Effect.gen(function*() {
      yield* TestClock.setTime(1_000)
      const { created, stored } = yield* (yield* store).record(proposal("p1"), target)
      assert.isTrue(created)
      assert.strictEqual(stored.state, "open")
      assert.strictEqual(stored.createdAt, 1_000)
      const read = yield* (yield* store).get("p1")
      assert.deepStrictEqual(read, stored)
      assert.deepStrictEqual(read.target, target)
      assert.deepStrictEqual(read.evidence.before, { p95: 1800 })
      assert.include(read.diff, "--- a/agents/assistant.yaml")
      assert.include(read.diff, "-timeoutMs: 1000\n+timeoutMs: 2000")
    })))

  it.scoped("updates the open proposal of the same finding in place: same id and links, new evidence", () =>
    withStore(Effect.gen(function*() {
      const proposals = yield* store
      yield* TestClock.setTime(1_000)
      yield* proposals.record(proposal("p1"), target)
      yield* proposals.markPublished("p1", { kind: "git", branch: "patinox/x", commit: "abc", merged: false })
      yield* TestClock.setTime(5_000)
      const { created, stored } = yield* proposals.record(proposal("p2", { p95: 2500, after: "timeoutMs: 3000\n" }), target)
      assert.isFalse(created)
      assert.strictEqual(stored.id, "p1")
      assert.strictEqual(stored.title, "Raise the search timeout (p2)")
      assert.deepStrictEqual(stored.evidence.before, { p95: 2500 })
      assert.strictEqual(stored.branch, "patinox/x")
      assert.strictEqual(stored.createdAt, 1_000)
      assert.strictEqual(stored.updatedAt, 5_000)
      assert.deepStrictEqual(yield* proposals.get("p1"), stored)
      assert.include(stored.diff, "+timeoutMs: 3000")
      assert.lengthOf(yield* proposals.list(), 1)
    })))

  it.scoped("inserts a new proposal for a finding whose last one was dismissed", () =>
    withStore(Effect.gen(function*() {
      const proposals = yield* store
      yield* proposals.record(proposal("p1"), target)
      yield* proposals.dismiss("p1", "not now")
      const { created, stored } = yield* proposals.record(proposal("p2"), target)
      assert.isTrue(created)
      assert.strictEqual(stored.id, "p2")
      assert.deepStrictEqual((yield* proposals.list({ state: "open" })).map((p) => p.id), ["p2"])
      assert.strictEqual((yield* proposals.get("p1")).dismissedReason, "not now")
    })))

  it.scoped("tells whether a person dismissed the finding, and with the same edit", () =>
    withStore(Effect.gen(function*() {
      const proposals = yield* store
      const p = proposal("p1")
      yield* proposals.record(p, target)
      assert.isFalse(yield* proposals.wasDismissed(p.findingKey))
      yield* proposals.dismiss("p1")
      assert.isTrue(yield* proposals.wasDismissed(p.findingKey))
      // The same edit with fresher evidence is still the edit the person refused.
      assert.isTrue(yield* proposals.wasDismissed(p.findingKey, proposal("p9", { p95: 9_000 }).files))
      assert.isFalse(yield* proposals.wasDismissed(p.findingKey, proposal("p9", { after: "timeoutMs: 4000\n" }).files))
      assert.isFalse(yield* proposals.wasDismissed("tool-errors:tool:search"))
    })))

  it.scoped("lists the most recently updated first, by state, a page at a time", () =>
    withStore(Effect.gen(function*() {
      const proposals = yield* store
      for (const [i, id] of ["a", "b", "c"].entries()) {
        yield* TestClock.setTime(1_000 * (i + 1))
        yield* proposals.record(proposal(id, { key: `kind:${id}` }), target)
      }
      yield* TestClock.setTime(10_000)
      yield* proposals.dismiss("a")
      assert.deepStrictEqual((yield* proposals.list()).map((p) => p.id), ["a", "c", "b"])
      assert.deepStrictEqual((yield* proposals.list({ state: "open" })).map((p) => p.id), ["c", "b"])
      assert.deepStrictEqual((yield* proposals.list({ state: "dismissed" })).map((p) => p.id), ["a"])
      assert.deepStrictEqual((yield* proposals.list({ state: "merged" })).map((p) => p.id), [])
      assert.deepStrictEqual((yield* proposals.list({ limit: 1, offset: 1 })).map((p) => p.id), ["c"])
    })))

  it.scoped("fails with ProposalNotFound for an unknown id", () =>
    withStore(Effect.gen(function*() {
      const proposals = yield* store
      const error = yield* Effect.flip(proposals.get("nope"))
      assert.strictEqual(error._tag === "ProposalNotFound" ? error.id : error._tag, "nope")
      const dismissed = yield* Effect.flip(proposals.dismiss("nope"))
      assert.strictEqual(dismissed._tag, "ProposalNotFound")
      const published = yield* Effect.flip(
        proposals.markPublished("nope", { kind: "git", branch: "b", commit: "c", merged: false })
      )
      assert.strictEqual(published._tag, "ProposalNotFound")
    })))

  it.scoped("refuses to dismiss a proposal twice with ProposalNotOpen", () =>
    withStore(Effect.gen(function*() {
      const proposals = yield* store
      yield* proposals.record(proposal("p1"), target)
      const dismissed = yield* proposals.dismiss("p1", "wrong file")
      assert.strictEqual(dismissed.state, "dismissed")
      assert.strictEqual(dismissed.dismissedReason, "wrong file")
      const error = yield* Effect.flip(proposals.dismiss("p1"))
      assert.deepStrictEqual(error._tag === "ProposalNotOpen" ? [error.id, error.state] : [error._tag], ["p1", "dismissed"])
    })))

  it.scoped("records where a proposal was published, and a merge as its state", () =>
    withStore(Effect.gen(function*() {
      const proposals = yield* store
      yield* proposals.record(proposal("p1"), target)
      yield* TestClock.setTime(2_000)
      const local = yield* proposals.markPublished("p1", { kind: "git", branch: "patinox/x", commit: "abc", merged: false })
      assert.deepStrictEqual(
        [local.state, local.kind, local.branch, local.commit, local.url, local.number, local.updatedAt],
        ["open", "git", "patinox/x", "abc", undefined, undefined, 2_000]
      )
      const merged = yield* proposals.markPublished("p1", {
        kind: "github",
        branch: "patinox/x",
        commit: "def",
        url: "https://github.com/o/r/pull/7",
        number: 7,
        merged: true
      })
      assert.deepStrictEqual(
        [merged.state, merged.kind, merged.commit, merged.url, merged.number],
        ["merged", "github", "def", "https://github.com/o/r/pull/7", 7]
      )
      const error = yield* Effect.flip(proposals.dismiss("p1"))
      assert.strictEqual(error._tag === "ProposalNotOpen" ? error.state : error._tag, "merged")
    })))
})
