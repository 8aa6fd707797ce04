import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { request as httpRequest } from "node:http"
import { contentSecurityPolicy } from "../src/Dashboard.js"
import { api, startDashboard } from "./dashboardServer.js"

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** A GET with the path sent as written (`fetch` would resolve `..` first); its status and body. */
const rawGet = (url: string, path: string) =>
  Effect.async<{ readonly status: number; readonly text: string }>((resume) => {
    const request = httpRequest(`${url}${path}`, { method: "GET", path }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => text += chunk)
      response.on("end", () => resume(Effect.succeed({ status: response.statusCode ?? 0, text })))
    })
    request.on("error", (error) => resume(Effect.die(error)))
    request.end()
  })

describe("the dashboard's static assets", () => {
  it.scopedLive("are served at / and /dashboard/* without the token, with their types, ETags and caching", () =>
    Effect.gen(function*() {
      const { url, files } = yield* startDashboard()
      const page = yield* get(`${url}/`)
      assert.strictEqual(page.status, 200)
      assert.strictEqual(page.headers.get("content-type"), "text/html; charset=utf-8")
      assert.strictEqual(page.headers.get("content-security-policy"), contentSecurityPolicy)
      assert.include(page.headers.get("content-security-policy") ?? "", "script-src 'self'")
      assert.strictEqual(page.headers.get("cache-control"), "no-cache")
      const etag = page.headers.get("etag")
      assert.match(etag ?? "", /^"[\w-]+"$/)
      assert.strictEqual((yield* get(`${url}/index.html`)).text, page.text)
      assert.strictEqual((yield* get(`${url}/`, { "if-none-match": etag ?? "" })).status, 304)

      const script = files.find((name) => name.endsWith(".js"))
      const style = files.find((name) => name.endsWith(".css"))
      assert.match(script ?? "", /^dashboard-\w+\.js$/)
      assert.include(page.text, `/dashboard/${script}`)
      assert.include(page.text, `/dashboard/${style}`)
      const js = yield* get(`${url}/dashboard/${script}`)
      assert.strictEqual(js.status, 200)
      assert.strictEqual(js.headers.get("content-type"), "text/javascript; charset=utf-8")
      assert.strictEqual(js.headers.get("cache-control"), "public, max-age=31536000, immutable")
      assert.include(js.text, "patinox-monitor")
      // uPlot is in the bundle: the page loads nothing from elsewhere.
      assert.include(js.text, "uplot")
      // Compressed for browsers, which all accept gzip; as is for a client that does not.
      assert.strictEqual(js.headers.get("content-encoding"), "gzip")
      const plain = yield* get(`${url}/dashboard/${script}`, { "accept-encoding": "identity" })
      assert.isNull(plain.headers.get("content-encoding"))
      assert.strictEqual(plain.text, js.text)
      assert.notStrictEqual(plain.headers.get("etag"), js.headers.get("etag"))
      const css = yield* get(`${url}/dashboard/${style}`)
      assert.strictEqual(css.headers.get("content-type"), "text/css; charset=utf-8")
      const head = yield* Effect.promise(() => fetch(`${url}/dashboard/${script}`, { method: "HEAD" }))
      assert.strictEqual(head.status, 200)

      const missing = yield* get(`${url}/dashboard/nothing.js`)
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(JSON.parse(missing.text).error, "NotFound")
      assert.strictEqual((yield* get(`${url}/dashboard/..%2Fassets.json`)).status, 404)
    }))

  it.scopedLive("opens only the assets: the data behind them and other methods still need the token", () =>
    Effect.gen(function*() {
      const { url } = yield* startDashboard()
      for (const path of ["/monitoring/status", "/agents", "/dashboard-not-an-asset"]) {
        const refused = yield* get(`${url}${path}`)
        assert.strictEqual(refused.status, 401, path)
        assert.strictEqual(JSON.parse(refused.text).error, "Unauthorized")
      }
      // A path that leaves /dashboard/ by its dots is still only looked up among the assets.
      for (const path of ["/dashboard/../monitoring/status", "/dashboard/%2e%2e/monitoring/status"]) {
        const escaped = yield* rawGet(url, path)
        assert.strictEqual(escaped.status, 404, path)
        assert.strictEqual(JSON.parse(escaped.text).error, "NotFound")
      }
      const posted = yield* Effect.promise(() => fetch(`${url}/`, { method: "POST" }))
      assert.strictEqual(posted.status, 401)
      const status = yield* api(`${url}/monitoring/status`)
      assert.strictEqual(status.status, 200)
    }))
})
