import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { FakeGitHub } from "../src/index.js"

const rejection = (result: FakeGitHub.Rejection | FakeGitHub.Route) => ("status" in result ? result : undefined)

const send = (url: string, method: string, path: string, body?: unknown, token = "t") =>
  Effect.promise(async () => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `token ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const json: unknown = await response.json()
    return { status: response.status, headers: response.headers, json }
  })

describe("FakeGitHub.validate", () => {
  it("accepts a request the REST description allows", () => {
    const route = FakeGitHub.validate("POST", "/repos/o/r/git/refs", { ref: "refs/heads/x", sha: "abc" })
    assert.isUndefined(rejection(route))
    assert.strictEqual("template" in route ? route.template : "", "/repos/{owner}/{repo}/git/refs")
  })

  it("rejects a body missing a required property with 422", () => {
    const result = rejection(FakeGitHub.validate("POST", "/repos/o/r/git/refs", { ref: "refs/heads/x" }))
    assert.strictEqual(result?.status, 422)
    assert.include(result?.message ?? "", "\"sha\"")
  })

  it("rejects a property of the wrong type with 422", () => {
    const result = rejection(FakeGitHub.validate("POST", "/repos/o/r/pulls", { head: "h", base: "b", title: 3 }))
    assert.strictEqual(result?.status, 422)
  })

  it("rejects an unknown route with 404", () => {
    assert.strictEqual(rejection(FakeGitHub.validate("POST", "/repos/o/r/nothing-here", {}))?.status, 404)
    assert.strictEqual(rejection(FakeGitHub.validate("DELETE", "/repos/o/r/git/blobs", undefined))?.status, 404)
  })

  it("matches refs holding slashes and oneOf bodies", () => {
    const route = FakeGitHub.validate("GET", "/repos/o/r/git/ref/heads%2Fpatinox%2Fa-b", undefined)
    assert.deepStrictEqual("params" in route ? route.params["ref"] : "", "heads/patinox/a-b")
    assert.isUndefined(rejection(FakeGitHub.validate("POST", "/repos/o/r/issues/1/labels", { labels: ["a"] })))
    // The current description only has the object form.
    assert.strictEqual(rejection(FakeGitHub.validate("POST", "/repos/o/r/issues/1/labels", ["a"]))?.status, 422)
  })
})

describe("FakeGitHub server", () => {
  it.scoped("answers as GitHub does, errors included, and records requests", () =>
    Effect.gen(function*() {
      const github = yield* FakeGitHub.make({ owner: "o", repo: "r", token: "t", files: { "a.txt": "a\n" } })
      const ref = yield* send(github.url, "GET", "/repos/o/r/git/ref/heads%2Fmain")
      assert.strictEqual(ref.status, 200)

      const invalid = yield* send(github.url, "POST", "/repos/o/r/git/refs", { ref: "refs/heads/x" })
      assert.strictEqual(invalid.status, 422)
      assert.include(JSON.stringify(invalid.json), "documentation_url")

      const missing = yield* send(github.url, "GET", "/repos/o/r/git/ref/heads%2Fnope")
      assert.strictEqual(missing.status, 404)

      const unauthorised = yield* send(github.url, "GET", "/repos/o/r/git/ref/heads%2Fmain", undefined, "wrong")
      assert.strictEqual(unauthorised.status, 401)
      assert.include(JSON.stringify(unauthorised.json), "Bad credentials")

      github.failNext(1, { kind: "secondary-rate-limit", retryAfterSeconds: 7 })
      github.failNext(1, { kind: "server-error" })
      const limited = yield* send(github.url, "GET", "/repos/o/r/git/ref/heads%2Fmain")
      assert.strictEqual(limited.status, 403)
      assert.strictEqual(limited.headers.get("retry-after"), "7")
      assert.strictEqual((yield* send(github.url, "GET", "/repos/o/r/git/ref/heads%2Fmain")).status, 500)
      assert.strictEqual((yield* send(github.url, "GET", "/repos/o/r/git/ref/heads%2Fmain")).status, 200)

      assert.deepStrictEqual(github.requests().map((r) => r.status), [200, 422, 404, 401, 403, 500, 200])
      assert.strictEqual(github.fileAt("main", "a.txt"), "a\n")
    }))
})
