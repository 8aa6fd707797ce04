// Shared by the HTTP tests: the real service on a free loopback port.
import { HttpServer } from "@effect/platform"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { LanguageModel } from "@patinox/core"
import { TempDir } from "@patinox/testing"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import * as ConfigFile from "../src/ConfigFile.js"
import * as Http from "../src/Http.js"

export const config = { host: "127.0.0.1", port: 0, realModel: false }

/**
 * Starts the real server, with the config file's defaults (every validator
 * on) unless `configText` says otherwise and a fresh SQLite file (removed
 * with the scope), on a free loopback port; returns its base URL.
 */
export const startServer = (
  model: Layer.Layer<LanguageModel.LanguageModel, unknown>,
  configText = "{}",
  spanProcessors: ReadonlyArray<SpanProcessor> = []
) => Effect.map(startService(model, configText, spanProcessors), (service) => service.base)

/** `startServer`, also returning the path of the service's SQLite file. */
export const startServerWithDatabase = (
  model: Layer.Layer<LanguageModel.LanguageModel, unknown>,
  configText = "{}",
  spanProcessors: ReadonlyArray<SpanProcessor> = []
) =>
  Effect.map(startService(model, configText, spanProcessors), (service) => ({ url: service.base, database: service.database }))

/** `startServer`, also giving the service's context (to read its event bus, say) and its SQLite file. */
export const startService = (
  model: Layer.Layer<LanguageModel.LanguageModel, unknown>,
  configText = "{}",
  spanProcessors: ReadonlyArray<SpanProcessor> = []
) =>
  Effect.gen(function*() {
    const parsed = yield* ConfigFile.parse(configText, "test")
    // Acquired before the service, so removed after it has stopped and closed the file.
    const dir = yield* TempDir.make("patinox-app-")
    const file = { ...parsed, database: { path: join(dir, "patinox.db") } }
    const context = yield* Layer.build(Http.serviceLayer(config, file, model, { spanProcessors }))
    const server = yield* Effect.provide(HttpServer.HttpServer, context)
    const address = server.address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return { base: `http://127.0.0.1:${address.port}`, context, database: file.database.path }
  })

/** A real HTTP request; the body parsed as JSON when there is one. */
export const request = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text) as Record<string, unknown> }
  })

/**
 * Asks `url` until `done` holds of the body (monitors and the store catch up
 * asynchronously), at most ~5 s; returns the last body either way.
 */
export const poll = <A>(url: string, done: (body: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0;; i++) {
      const body = (yield* request(url)).body as A
      if (done(body) || i >= 100) return body
      yield* Effect.sleep("50 millis")
    }
  })

/** POSTs `body` (sent as is when a string, JSON-encoded otherwise). */
export const post = (url: string, body: unknown) =>
  request(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })
