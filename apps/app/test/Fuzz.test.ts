import { assert, describe, it } from "@effect/vitest"
import { FakeOpenAi } from "@patinox/testing"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { ConfigProvider, Effect, Layer, Logger } from "effect"
import { request as httpRequest } from "node:http"
import { connect } from "node:net"
import * as Http from "../src/Http.js"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { config, startServer } from "./server.js"

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly headers: Headers
  readonly text: string
}

/** A real request; the raw answer, so that a non-JSON body fails the shape check instead of the helper. */
const send = (url: string, init?: RequestInit) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, init)
    return {
      status: response.status,
      contentType: response.headers.get("content-type") ?? "",
      headers: response.headers,
      text: await response.text()
    }
  })

/** An error is one JSON object `{ error, message, runId?, details? }` (plus its class's own fields). */
const assertShape = (label: string, answer: Answer) => {
  if (answer.status < 400) return
  assert.include(answer.contentType, "application/json", `${label}: content type`)
  const body = JSON.parse(answer.text) as Record<string, unknown>
  assert.isString(body.error, `${label}: error`)
  assert.isString(body.message, `${label}: message`)
  assert.isFalse("_tag" in body, `${label}: no _tag`)
  if ("runId" in body) assert.isString(body.runId, `${label}: runId`)
  if ("details" in body) assert.isArray(body.details, `${label}: details`)
}

/** A POST whose body goes out in chunks, without Content-Length (fetch cannot send one without a stream). */
const sendChunked = (url: string, chunks: ReadonlyArray<string>) =>
  Effect.async<Answer>((resume) => {
    const request = httpRequest(url, { method: "POST", headers: { "content-type": "application/json" } }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (text += chunk))
      response.on("end", () =>
        resume(Effect.succeed({
          status: response.statusCode ?? 0,
          contentType: response.headers["content-type"] ?? "",
          headers: new Headers(),
          text
        })))
    })
    for (const chunk of chunks) request.write(chunk)
    request.end()
  })

/** Bytes straight to the socket, for what no HTTP client sends; the whole raw answer. */
const sendRaw = (base: string, bytes: string) =>
  Effect.async<string>((resume) => {
    const url = new URL(base)
    const socket = connect(Number(url.port), url.hostname, () => socket.end(bytes))
    let answer = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => (answer += chunk))
    socket.on("close", () => resume(Effect.succeed(answer)))
  })

const json = (body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body
})

const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth)
const evil = { origin: "http://evil.example" }
const corsHeaderNames = (headers: Headers) => {
  const names: Array<string> = []
  headers.forEach((_, name) => name.startsWith("access-control-") && names.push(name))
  return names
}

describe("fuzzing the service over real HTTP", () => {
  it.scopedLive("answers every malformed request with a 4xx in the one error shape and stays healthy", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const run = `${base}/agents/assistant/runs`
      const knowledge = `${base}/knowledge`
      const binary = new Uint8Array(4096).map((_, i) => (i * 7919) % 256)
      const form = new FormData()
      form.set("text", "poison")
      const cases: ReadonlyArray<readonly [string, string, RequestInit | undefined, number]> = [
        ["empty body", run, json(""), 400],
        ["{}", run, json("{}"), 400],
        ["wrong type", run, json(JSON.stringify({ input: 42 })), 400],
        ["array body", run, json("[1,2,3]"), 400],
        ["null", run, json("null"), 400],
        ["truncated JSON", run, json("{\"input\": "), 400],
        ["knowledge wrong types", knowledge, json(JSON.stringify({ text: ["a"], title: 3 })), 400],
        ["1 MB body", knowledge, json(JSON.stringify({ text: "a".repeat(1_048_576) })), 413],
        ["10 MB body", run, json(JSON.stringify({ input: "a".repeat(10 * 1_048_576) })), 413],
        ["10 000-deep arrays on a run", run, json(deep(10_000)), 400],
        ["10 000-deep arrays on the knowledge base", knowledge, json(deep(10_000)), 400],
        ["10 000-deep objects", knowledge, json("{\"a\":".repeat(10_000) + "1" + "}".repeat(10_000)), 400],
        ["invalid UTF-8", run, json(new Uint8Array([123, 34, 105, 110, 112, 117, 116, 34, 58, 34, 0xff, 0xfe, 34, 125])), 400],
        ["binary with a JSON content type", run, json(binary), 400],
        ["form post from another origin", knowledge, {
          method: "POST",
          headers: { ...evil, "content-type": "application/x-www-form-urlencoded" },
          body: "text=poison"
        }, 415],
        ["multipart post from another origin", knowledge, { method: "POST", headers: evil, body: form }, 415],
        ["text/plain post from another origin", knowledge, {
          method: "POST",
          headers: { ...evil, "content-type": "text/plain" },
          body: JSON.stringify({ text: "poison" })
        }, 415],
        ["a body without a content type", run, { method: "POST", body: new Blob([JSON.stringify({ input: "hi" })]) }, 415],
        ["an unknown agent", `${base}/agents/nobody/runs`, json(JSON.stringify({ input: "hi" })), 404],
        ["an unknown route", `${base}/nope`, undefined, 404],
        ["a long unknown route", `${base}/${"a".repeat(8_000)}`, undefined, 404],
        ["a URL beyond Node's header limit", `${base}/${"a".repeat(20_000)}`, undefined, 431],
        ["a wrong method", `${base}/agents`, { method: "DELETE" }, 405],
        ["GET on a POST route", run, undefined, 405],
        ["a bad query parameter", `${base}/knowledge/search?q=x&limit=nope`, undefined, 400],
        ["a missing query parameter", `${base}/knowledge/search`, undefined, 400],
        ["many headers", `${base}/agents`, {
          headers: Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`x-fuzz-${i}`, "v".repeat(16)]))
        }, 431],
        ["a hundred headers", `${base}/agents`, {
          headers: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-fuzz-${i}`, "v"]))
        }, 200]
      ]
      for (const [label, url, init, expected] of cases) {
        const answer = yield* send(url, init)
        assert.isBelow(answer.status, 500, `${label}: ${answer.status} ${answer.text.slice(0, 200)}`)
        assertShape(label, answer)
        assert.strictEqual(answer.status, expected, `${label}: ${answer.text.slice(0, 200)}`)
        if (label.includes("another origin")) assert.deepStrictEqual(corsHeaderNames(answer.headers), [], label)
      }
      const garbage = yield* sendRaw(base, "NOT AN HTTP REQUEST\r\n\r\n")
      assert.match(garbage, /^HTTP\/1\.1 400 /)
      assert.include(garbage, "content-type: application/json")
      const garbageBody = JSON.parse(garbage.slice(garbage.indexOf("\r\n\r\n") + 4)) as { error: string; message: string }
      assert.strictEqual(garbageBody.error, "InvalidRequest")
      const chunked = yield* sendChunked(run, ["{\"input\":", "\"hi\"}"])
      assertShape("a chunked body", chunked)
      assert.strictEqual(chunked.status, 411)
      const decode = JSON.parse((yield* send(run, json("{}"))).text) as { message: string; details: ReadonlyArray<{ path: ReadonlyArray<string> }> }
      assert.include(decode.message, "input")
      assert.deepStrictEqual(decode.details[0]?.path, ["input"])
      const notAllowed = yield* send(`${base}/agents`, { method: "DELETE" })
      assert.strictEqual(notAllowed.headers.get("allow"), "GET")
      const search = yield* send(`${base}/knowledge/search?q=poison`)
      assert.strictEqual(search.text, "[]", "nothing from the refused posts reached the knowledge base")
      const health = yield* send(`${base}/health`)
      assert.strictEqual(health.status, 200)
    }))
})

describe("authentication", () => {
  const withToken = JSON.stringify({ server: { apiToken: "s3cret-token" } })

  it.scopedLive("with a token, refuses requests without it or with a wrong one (401) and serves those with it", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer, withToken)
      const runBody = JSON.stringify({ input: "What is 17 + 25?" })
      const refused: ReadonlyArray<readonly [string, Record<string, string>]> = [
        ["no token", {}],
        ["a wrong token", { authorization: "Bearer s3cret-tokeN" }],
        ["a longer token", { authorization: "Bearer s3cret-token-and-more" }],
        ["basic auth", { authorization: "Basic czNjcmV0LXRva2Vu" }],
        ["an empty bearer", { authorization: "Bearer " }],
        ["a huge token", { authorization: `Bearer ${"x".repeat(8_000)}` }]
      ]
      for (const [label, headers] of refused) {
        for (const [url, init] of [
          [`${base}/agents`, { headers }],
          [`${base}/agents/assistant/runs`, json(runBody, headers)],
          [`${base}/knowledge`, json(JSON.stringify({ text: "poison" }), headers)],
          [`${base}/tools/calculator/enable`, { method: "POST", headers }],
          [`${base}/metrics`, { headers }]
        ] as const) {
          const answer = yield* send(url, init)
          assertShape(`${label} ${url}`, answer)
          assert.strictEqual(answer.status, 401, `${label} ${url}`)
          assert.strictEqual(JSON.parse(answer.text).error, "Unauthorized")
          assert.notInclude(answer.text, "s3cret")
        }
      }
      const authorization = { authorization: "Bearer s3cret-token" }
      const agents = yield* send(`${base}/agents`, { headers: authorization })
      assert.strictEqual(agents.status, 200)
      const run = yield* send(`${base}/agents/assistant/runs`, json(runBody, authorization))
      assert.strictEqual(run.status, 200)
      assert.include(JSON.parse(run.text).answer, "42")
      assert.strictEqual((yield* send(`${base}/health`)).status, 200, "/health needs no token")
    }))
})

describe("CORS", () => {
  it.scopedLive("answers a configured origin, preflight included, and no other", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer, JSON.stringify({ server: { allowedOrigins: ["http://app.example"] } }))
      const preflight = yield* send(`${base}/knowledge`, {
        method: "OPTIONS",
        headers: { origin: "http://app.example", "access-control-request-method": "POST" }
      })
      assert.strictEqual(preflight.status, 204)
      assert.strictEqual(preflight.headers.get("access-control-allow-origin"), "http://app.example")
      assert.include(String(preflight.headers.get("access-control-allow-headers")), "content-type")
      const allowed = yield* send(`${base}/agents`, { headers: { origin: "http://app.example" } })
      assert.strictEqual(allowed.status, 200)
      assert.strictEqual(allowed.headers.get("access-control-allow-origin"), "http://app.example")
      const other = yield* send(`${base}/agents`, { headers: evil })
      assert.deepStrictEqual(corsHeaderNames(other.headers), [])
      const otherPreflight = yield* send(`${base}/knowledge`, {
        method: "OPTIONS",
        headers: { ...evil, "access-control-request-method": "POST" }
      })
      assert.deepStrictEqual(corsHeaderNames(otherPreflight.headers), [])
      assertShape("preflight from another origin", otherPreflight)
    }))
})

describe("run errors over HTTP", () => {
  const withEnv = (env: Record<string, string>) =>
    Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  const fakeModel = (url: string) =>
    Http.modelLayer({ ...config, realModel: true }).pipe(
      Layer.provide(withEnv({ OPENAI_BASE_URL: url, OPENAI_API_KEY: "sk-test-123" }))
    )

  it.scopedLive("answers a run that reaches its step budget with 422 and its run id", () =>
    Effect.gen(function*() {
      const loop = FakeOpenAi.toolCall("calculator", { operation: "add", a: 1, b: 1 })
      const fake = yield* FakeOpenAi.make({ replies: Array.from({ length: 10 }, () => loop) })
      const base = yield* startServer(fakeModel(fake.url))
      const answer = yield* send(`${base}/agents/calculator/runs`, json(JSON.stringify({ input: "1 + 1, forever" })))
      assertShape("step budget", answer)
      assert.strictEqual(answer.status, 422)
      const body = JSON.parse(answer.text) as { error: string; runId: string }
      assert.strictEqual(body.error, "MaxStepsExceeded")
      // The run id finds the run, once the sink (which writes in batches) has stored it.
      let run = yield* send(`${base}/runs/${body.runId}`)
      for (let i = 0; i < 100 && run.status === 404; i++) {
        yield* Effect.sleep("50 millis")
        run = yield* send(`${base}/runs/${body.runId}`)
      }
      assert.strictEqual(run.status, 200, run.text)
      const stored = (JSON.parse(run.text) as { run: { status: string; error?: string } }).run
      assert.deepStrictEqual([stored.status, stored.error], ["failed", "MaxStepsExceeded"])
    }))

  it.scopedLive("answers a run past its deadline with 504 and its run id", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.make({ replies: [FakeOpenAi.hang] })
      const base = yield* startServer(fakeModel(fake.url), JSON.stringify({ agents: { runDeadlineMs: 300 } }))
      const answer = yield* send(`${base}/agents/assistant/runs`, json(JSON.stringify({ input: "hi" })))
      assertShape("deadline", answer)
      assert.strictEqual(answer.status, 504)
      const body = JSON.parse(answer.text) as { error: string; runId: string }
      assert.strictEqual(body.error, "RunDeadlineExceeded")
      assert.isString(body.runId)
    }))
})

describe("the delegate agents", () => {
  it.scopedLive("lists calculator and researcher and runs them directly", () =>
    Effect.gen(function*() {
      const base = yield* startServer(SimulatedModel.layer)
      const list = JSON.parse((yield* send(`${base}/agents`)).text) as ReadonlyArray<{ name: string }>
      // In the order of their files' names in agents/.
      assert.deepStrictEqual(list.map((a) => a.name), ["assistant", "calculator", "researcher", "router"])
      const calculator = yield* send(`${base}/agents/calculator/runs`, json(JSON.stringify({ input: "What is 3 + 4?" })))
      assert.strictEqual(calculator.status, 200)
      assert.include(JSON.parse(calculator.text).answer, "7")
      const researcher = yield* send(`${base}/agents/researcher/runs`, json(JSON.stringify({ input: "What is Patinox?" })))
      assert.strictEqual(researcher.status, 200, researcher.text)
    }))
})

describe("request logs and spans", () => {
  it.scopedLive("redact query values and never record the token", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.make(({ annotations, message }) => {
        lines.push(JSON.stringify({ message, annotations: Object.fromEntries(annotations) }))
      })
      const exporter = new InMemorySpanExporter()
      const base = yield* startServer(
        SimulatedModel.layer,
        JSON.stringify({ server: { apiToken: "s3cret-token" } }),
        [new SimpleSpanProcessor(exporter)]
      ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      const secret = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
      const url = `${base}/knowledge/search?q=deploy%20key%20${secret}&limit=5`
      assert.strictEqual((yield* send(url, { headers: { authorization: "Bearer s3cret-token" } })).status, 200)
      assert.strictEqual((yield* send(url, { headers: { authorization: "Bearer wrong-token" } })).status, 401)
      const logged = lines.join("\n")
      assert.include(logged, "/knowledge/search?q=[REDACTED:query]&limit=5")
      const spans = exporter.getFinishedSpans().filter((span) => span.name.startsWith("http.server"))
      assert.isAtLeast(spans.length, 2)
      const recorded = logged + JSON.stringify(spans.map((span) => span.attributes))
      for (const leak of ["sk-proj", "deploy", "s3cret", "wrong-token"]) assert.notInclude(recorded, leak)
    }))
})
