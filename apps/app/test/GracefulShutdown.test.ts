// Issue 23, item 3: SIGTERM with requests in flight. The real service process
// (`node --import tsx src/main.ts`, which pnpm does not forward signals to),
// the simulated model slowed down by its configured latency.
import { assert, describe, it } from "@effect/vitest"
import { TempDir } from "@patinox/testing"
import { Deferred, Effect } from "effect"
import { writeFileSync } from "node:fs"
import { connect } from "node:net"
import { join } from "node:path"
import { type Service, startService } from "./serviceProcess.js"

/** The service on a free port with `config` over a fresh database. */
const startWith = (config: Record<string, unknown>) =>
  Effect.gen(function*() {
    const dir = yield* TempDir.make("patinox-shutdown-")
    const configPath = join(dir, "patinox.config.json")
    writeFileSync(configPath, JSON.stringify({ database: { path: join(dir, "patinox.db") }, ...config }))
    return yield* startService({ PATINOX_PORT: "0", PATINOX_CONFIG: configPath })
  })

/** Polls (real time: a separate process) until `check` holds, failing with the service's log after ~20 s. */
const eventually = (service: Service, what: string, check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 400; tries++) {
      if (yield* check) return
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage(`${what} never happened:\n${service.output()}`)
  })

/** Runs of `agent` started so far, from the service's own metrics. */
const runsStarted = (service: Service, agent: string) =>
  Effect.promise(() => fetch(`${service.url}/metrics`).then((response) => response.text())).pipe(
    Effect.map((text) => {
      const line = text.split("\n").find((line) =>
        line.startsWith(`patinox_agent_actions_total{type="run.start",agent="${agent}"`)
      )
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
    })
  )

/** What a client saw: a status and body, or the network error (a reset, a refused connection). */
type Outcome = { readonly status: number; readonly body: string } | { readonly failed: string }

const runRequest = (service: Service, input: string): Promise<Outcome> =>
  fetch(`${service.url}/agents/assistant/runs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input }),
    signal: AbortSignal.timeout(30_000)
  }).then(
    async (response) => ({ status: response.status, body: await response.text() }),
    (error: unknown) => ({ failed: error instanceof Error ? `${error.message} ${String(error.cause)}` : String(error) })
  )

/** A raw keep-alive connection, to send a request on it after the listener has closed. */
const rawConnection = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const socket = connect(Number(new URL(url).port), "127.0.0.1")
      let received = ""
      socket.on("data", (chunk) => (received += chunk.toString()))
      socket.on("error", () => undefined)
      const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()))
      return { socket, received: () => received, closed }
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

const rawRun = (input: string) => {
  const body = JSON.stringify({ input })
  return `POST /agents/assistant/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

const order = (output: string, lines: ReadonlyArray<string>) => {
  const at = lines.map((line) => output.indexOf(line))
  at.forEach((index, i) => assert.isAtLeast(index, 0, `log line "${lines[i]}" missing:\n${output}`))
  for (let i = 1; i < at.length; i++) {
    assert.isBelow(at[i - 1] ?? -1, at[i] ?? -1, `"${lines[i - 1]}" should come before "${lines[i]}":\n${output}`)
  }
}

// A service process started, 100 runs and a drain: each step has its own deadline below (start-up
// 30 s, the shutdown 30 s), so vitest's 30 s default would cut a slow but healthy run first.
const processTest = { timeout: 120_000 }

describe("SIGTERM with 100 requests in flight", () => {
  it.scopedLive("answers every one, refuses new connections, then drains agents, flushes telemetry and exits 0", () =>
    Effect.gen(function*() {
      const service = yield* startWith({
        // Runs of 2 x 4 s: long enough to be in flight however slow the machine, well within the deadline.
        simulatedModel: { latencyMs: 4000 },
        validation: { rateLimit: { enabled: false } },
        agents: { shutdownDeadlineMs: 25_000 }
      })
      const ready = yield* Effect.promise(() => fetch(`${service.url}/ready`).then(async (r) => [r.status, await r.json()]))
      assert.deepStrictEqual(ready, [200, { status: "ready", checks: { store: "ok", model: "simulated" } }])

      // One run on a connection of our own, to send another request on it during shutdown.
      const raw = yield* rawConnection(service.url)
      raw.socket.write(rawRun("What is 1 + 2?"))
      const clients = Array.from({ length: 100 }, (_, i) => runRequest(service, `What is ${i} + 1?`))
      // Every run has started: all 101 are in flight.
      yield* eventually(service, "101 runs in flight", Effect.map(runsStarted(service, "assistant"), (n) => n === 101))
      service.process.kill("SIGTERM")
      yield* eventually(service, "the listener closing", Effect.sync(() => service.output().includes("stopped accepting")))
      // On the open connection, pipelined behind its run: answered 503 at once, sent after the run's answer.
      raw.socket.write("GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

      // A new connection is refused.
      const late = yield* Effect.promise(() => fetch(`${service.url}/health`).then(() => "answered", () => "refused"))
      assert.strictEqual(late, "refused")

      const outcomes = yield* Effect.promise(() => Promise.all(clients))
      const failures = outcomes.filter((outcome) => "failed" in outcome)
      assert.deepStrictEqual(failures, [], "no request was reset or left hanging")
      assert.deepStrictEqual(outcomes.map((o) => "status" in o ? o.status : 0), Array.from({ length: 100 }, () => 200))
      yield* Effect.promise(() => raw.closed)
      const responses = raw.received().split(/(?=HTTP\/1\.1 \d{3} )/)
      assert.strictEqual(responses.length, 2, raw.received())
      assert.match(responses[0] ?? "", /^HTTP\/1\.1 200 /)
      assert.include(responses[0] ?? "", "\"answer\":\"1 + 2 = 3\"")
      assert.match(responses[1] ?? "", /^HTTP\/1\.1 503 /)
      assert.include(responses[1] ?? "", "{\"error\":\"ShuttingDown\",\"message\":")
      const exit = yield* Deferred.await(service.exit).pipe(Effect.timeout("30 seconds"))
      assert.strictEqual(exit.code, 0, service.output())
      const output = service.output()
      assert.include(output, "101 requests in flight")
      assert.include(output, "(101 answered, 0 answered 503, 1 refused with 503)")
      order(output, ["Shutdown: stopped accepting", "Shutdown: requests done", "Agents stopped: drained=true", "Telemetry flushed"])
    }), processTest)

  it.scopedLive("answers 503 ShuttingDown to the requests still running at the deadline, and exits 0", () =>
    Effect.gen(function*() {
      const service = yield* startWith({
        // Runs of 2 x 60 s: only the deadline can end them while the test runs.
        simulatedModel: { latencyMs: 60_000 },
        validation: { rateLimit: { enabled: false } },
        agents: { shutdownDeadlineMs: 500 }
      })
      const clients = Array.from({ length: 100 }, (_, i) => runRequest(service, `What is ${i} + 1?`))
      yield* eventually(service, "100 runs in flight", Effect.map(runsStarted(service, "assistant"), (n) => n === 100))
      service.process.kill("SIGTERM")

      const outcomes = yield* Effect.promise(() => Promise.all(clients))
      assert.deepStrictEqual(outcomes.filter((outcome) => "failed" in outcome), [], "no request was reset or left hanging")
      for (const outcome of outcomes) {
        assert.strictEqual("status" in outcome ? outcome.status : 0, 503)
        const body = "body" in outcome ? JSON.parse(outcome.body) as Record<string, unknown> : {}
        assert.strictEqual(body["error"], "ShuttingDown")
        assert.include(String(body["message"]), "did not finish within 500 ms")
      }
      const exit = yield* Deferred.await(service.exit).pipe(Effect.timeout("30 seconds"))
      assert.strictEqual(exit.code, 0, service.output())
      order(service.output(), ["Shutdown: stopped accepting", "Shutdown: requests done", "Agents stopped", "Telemetry flushed"])
    }), processTest)
})
