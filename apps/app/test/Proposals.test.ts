import { HttpServer } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { type Proposal, ProposalStore } from "@patinox/meta"
import { Patinox } from "@patinox/patinox"
import { TempDir } from "@patinox/testing"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import * as ConfigFile from "../src/ConfigFile.js"
import * as Http from "../src/Http.js"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { config, post, request } from "./server.js"

/**
 * The real service on a free port, as `startServer` does, plus a proposal
 * store on the service's own database (its `Patinox.Database`), so that the
 * test writes the rows the API then reads.
 */
const start = (configText = "{}") =>
  Effect.gen(function*() {
    const parsed = yield* ConfigFile.parse(configText, "test")
    const dir = yield* TempDir.make("patinox-app-")
    const file = { ...parsed, database: { path: join(dir, "patinox.db") } }
    const context = yield* Layer.build(Http.serviceLayer(config, file, SimulatedModel.layer))
    const server = yield* Effect.provide(HttpServer.HttpServer, context)
    const address = server.address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    const store = yield* ProposalStore.make.pipe(Effect.provide(Patinox.databaseSqlClient), Effect.provide(context))
    return { base: `http://127.0.0.1:${address.port}`, store }
  })

const proposal = (id: string, key: string): Proposal.Proposal => ({
  id,
  findingKey: key,
  title: `Raise the timeout (${id})`,
  files: [{ path: "agents/assistant.yaml", before: "timeoutMs: 1000\n", after: "timeoutMs: 2000\n" }],
  evidence: { query: "SELECT latency_ms FROM events WHERE tool = ?", before: { p95: 1800 }, expected: "p95 under 1 s" },
  labels: []
})

describe("the proposals API over real HTTP", () => {
  it.scopedLive("lists proposals newest first, by state, and shows one with its diff and evidence", () =>
    Effect.gen(function*() {
      const { base, store } = yield* start()
      yield* store.record(proposal("p1", "tool-latency:tool:search"), { tool: "search" })
      yield* store.record(proposal("p2", "tool-errors:tool:fetch"), { tool: "fetch" })
      yield* store.markPublished("p2", { kind: "git", branch: "patinox/tool-errors", commit: "abc", merged: false })

      const all = yield* request(`${base}/proposals`)
      assert.strictEqual(all.status, 200)
      const items = all.body as unknown as ReadonlyArray<Record<string, unknown>>
      assert.deepStrictEqual(items.map((p) => p.id), ["p2", "p1"])
      assert.deepStrictEqual(Object.keys(items[0] ?? {}).sort(), [
        "branch",
        "createdAt",
        "findingKey",
        "id",
        "state",
        "title",
        "updatedAt"
      ])
      assert.strictEqual(items[0]?.branch, "patinox/tool-errors")

      const paged = yield* request(`${base}/proposals?state=open&limit=1&offset=1`)
      assert.deepStrictEqual((paged.body as unknown as ReadonlyArray<{ id: string }>).map((p) => p.id), ["p1"])

      const shown = yield* request(`${base}/proposals/p1`)
      assert.strictEqual(shown.status, 200)
      assert.include(String(shown.body?.diff), "-timeoutMs: 1000\n+timeoutMs: 2000")
      assert.deepStrictEqual(shown.body?.evidence, proposal("p1", "").evidence)
      assert.deepStrictEqual(shown.body?.target, { tool: "search" })
      assert.strictEqual(shown.body?.state, "open")
    }))

  it.scopedLive("dismisses an open proposal once, then answers 409 with the JSON error shape", () =>
    Effect.gen(function*() {
      const { base, store } = yield* start()
      yield* store.record(proposal("p1", "tool-latency:tool:search"), { tool: "search" })
      yield* store.record(proposal("p2", "tool-errors:tool:fetch"), { tool: "fetch" })

      const dismissed = yield* post(`${base}/proposals/p1/dismiss`, { reason: "the timeout is deliberate" })
      assert.strictEqual(dismissed.status, 200)
      assert.strictEqual(dismissed.body?.state, "dismissed")
      assert.strictEqual(dismissed.body?.dismissedReason, "the timeout is deliberate")
      assert.isTrue(yield* store.wasDismissed("tool-latency:tool:search"))

      // The reason is optional, and so is the body.
      const noReason = yield* request(`${base}/proposals/p2/dismiss`, { method: "POST" })
      assert.strictEqual(noReason.status, 200)
      assert.strictEqual(noReason.body?.state, "dismissed")

      const again = yield* post(`${base}/proposals/p1/dismiss`, {})
      assert.strictEqual(again.status, 409)
      assert.deepStrictEqual(again.body, {
        error: "ProposalNotOpen",
        message: "Proposal \"p1\" is dismissed, not open",
        id: "p1",
        state: "dismissed"
      })
      const listed = yield* request(`${base}/proposals?state=dismissed`)
      assert.deepStrictEqual((listed.body as unknown as ReadonlyArray<{ id: string }>).map((p) => p.id).sort(), ["p1", "p2"])
    }))

  it.scopedLive("answers an unknown id with 404, a bad query or reason with 400, as JSON", () =>
    Effect.gen(function*() {
      const { base } = yield* start()
      const unknown = yield* request(`${base}/proposals/nope`)
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(unknown.body?.error, "ProposalNotFound")
      assert.strictEqual(unknown.body?.id, "nope")
      assert.isString(unknown.body?.message)
      const dismissUnknown = yield* post(`${base}/proposals/nope/dismiss`, {})
      assert.strictEqual(dismissUnknown.status, 404)
      assert.strictEqual(dismissUnknown.body?.error, "ProposalNotFound")

      const badState = yield* request(`${base}/proposals?state=closed`)
      assert.strictEqual(badState.status, 400)
      assert.strictEqual(badState.body?.error, "InvalidRequest")
      assert.isString(badState.body?.message)
      const badLimit = yield* request(`${base}/proposals?limit=0`)
      assert.strictEqual(badLimit.status, 400)
      const longReason = yield* post(`${base}/proposals/nope/dismiss`, { reason: "x".repeat(1_001) })
      assert.strictEqual(longReason.status, 400)
      assert.include(String(longReason.body?.message), "reason must be at most 1000 characters")
      const badJson = yield* post(`${base}/proposals/nope/dismiss`, "{\"reason\": ")
      assert.strictEqual(badJson.status, 400)
      assert.strictEqual(badJson.body?.error, "InvalidRequest")
    }))

  it.scopedLive("needs the bearer token when one is configured", () =>
    Effect.gen(function*() {
      const { base, store } = yield* start(JSON.stringify({ server: { apiToken: "s3cret-token" } }))
      yield* store.record(proposal("p1", "tool-latency:tool:search"), { tool: "search" })
      for (const url of [`${base}/proposals`, `${base}/proposals/p1`]) {
        const refused = yield* request(url)
        assert.strictEqual(refused.status, 401)
        assert.strictEqual(refused.body?.error, "Unauthorized")
      }
      const refusedDismiss = yield* post(`${base}/proposals/p1/dismiss`, {})
      assert.strictEqual(refusedDismiss.status, 401)
      const allowed = yield* request(`${base}/proposals`, { headers: { authorization: "Bearer s3cret-token" } })
      assert.strictEqual(allowed.status, 200)
      assert.strictEqual((allowed.body as unknown as ReadonlyArray<unknown>).length, 1)
    }))
})
