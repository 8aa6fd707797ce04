// The OpenAPI document and the API reference, served by the real service.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { startServer } from "./server.js"

describe("OpenAPI", () => {
  it.scopedLive("serves the document derived from the API and an offline reference UI at /docs", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const spec = yield* Effect.promise(() => fetch(`${base}/openapi.json`).then((r) => r.json() as Promise<unknown>))
      assert.match(String(Reflect.get(spec as object, "openapi")), /^3\./)
      const paths = Object.keys(Reflect.get(spec as object, "paths") as object)
      for (const path of ["/agents", "/agents/{name}/runs", "/agents/{name}/runs/stream", "/runs", "/runs/{runId}", "/proposals", "/proposals/{id}/dismiss", "/health", "/ready"]) {
        assert.include(paths, path)
      }
      const docs = yield* Effect.promise(() =>
        fetch(`${base}/docs`).then(async (r) => ({ status: r.status, type: r.headers.get("content-type"), text: await r.text() }))
      )
      assert.strictEqual(docs.status, 200)
      assert.include(docs.type ?? "", "text/html")
      assert.include(docs.text, "id=\"api-reference\"")
      // The reference's script is inlined, not loaded from a CDN.
      assert.notMatch(docs.text, /<script[^>]*\ssrc=/)
      assert.isAbove(docs.text.length, 1_000_000)
    }))
})
