// Shared by the dashboard's tests: the dashboard built into a temporary folder
// and the real service serving it, with an API token required.
import { HttpServer } from "@effect/platform"
import { ProposalStore } from "@patinox/meta"
import { Patinox } from "@patinox/patinox"
import { TempDir } from "@patinox/testing"
import { Effect, Layer, Redacted } from "effect"
import { join } from "node:path"
import { buildDashboard } from "../scripts/dashboard.js"
import * as ConfigFile from "../src/ConfigFile.js"
import * as Http from "../src/Http.js"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { config } from "./server.js"

export const token = "dashboard-test-token-0123456789"

/**
 * The built dashboard's files, the service's base URL, and a proposal store on
 * the service's own database (what the meta-layer would write); `configText`
 * is the service's config file.
 */
export const startDashboard = (configText = "{}") => Effect.gen(function*() {
  const dir = yield* TempDir.make("patinox-dashboard-")
  const assets = join(dir, "dashboard")
  const files = yield* Effect.promise(() => buildDashboard(assets))
  const file = { ...(yield* ConfigFile.parse(configText, "test")), database: { path: join(dir, "patinox.db") } }
  const context = yield* Layer.build(
    Http.serviceLayer({ ...config, apiToken: Redacted.make(token), dashboardDir: assets }, file, SimulatedModel.layer)
  )
  const server = yield* Effect.provide(HttpServer.HttpServer, context)
  const address = server.address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  const proposals = yield* ProposalStore.make.pipe(Effect.provide(Patinox.databaseSqlClient), Effect.provide(context))
  return { url: `http://127.0.0.1:${address.port}`, files, proposals }
})

/** A request with the token; the status, headers and JSON body. */
export const api = (url: string, init: { readonly method?: string; readonly body?: unknown } = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
    })
    const text = await response.text()
    return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) as unknown }
  })
