import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { TempDir } from "@patinox/testing"
import { Deferred, Effect } from "effect"
import { writeFileSync } from "node:fs"
import { createServer, type Server } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { startService } from "./serviceProcess.js"

const appDir = fileURLToPath(new URL("..", import.meta.url))

describe("the service process", () => {
  it.scopedLive("starts on a fresh environment with the simulated model, serves, and exits cleanly on SIGTERM", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-main-")
      const configPath = join(dir, "patinox.config.json")
      writeFileSync(configPath, JSON.stringify({ database: { path: join(dir, "patinox.db") } }))
      const service = yield* startService({ PATINOX_PORT: "0", PATINOX_CONFIG: configPath })
      assert.include(service.output(), "OFFLINE SIMULATED MODEL")
      assert.include(service.output(), `Database: ${join(dir, "patinox.db")}`)
      // The first-start message: one block with where to look and what runs.
      assert.include(
        service.output(),
        [
          "Patinox is ready.",
          `  Dashboard:  ${service.url}/`,
          "  Model:      simulated (offline; set OPENAI_API_KEY or OPENAI_BASE_URL for a real model)",
          `  Database:   ${join(dir, "patinox.db")}`,
          `  Agents:     ${join(appDir, "../../agents")}`,
          "  API token:  not required (loopback only)"
        ].join("\n")
      )
      assert.notInclude(service.output(), "Demo mode")
      const answer = yield* Effect.promise(() =>
        fetch(`${service.url}/agents/assistant/runs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ input: "What is 17 + 25?" })
        }).then((r) => r.json() as Promise<{ answer: string }>)
      )
      assert.strictEqual(answer.answer, "17 + 25 = 42")
      service.process.kill("SIGTERM")
      const exit = yield* Deferred.await(service.exit).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(exit.code, 0)
    }))

  it.scopedLive("on SIGINT drains the agents, then flushes telemetry to SQLite, then exits 0", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-sigint-")
      const configPath = join(dir, "patinox.config.json")
      const database = join(dir, "patinox.db")
      // a flush interval far beyond the test: only the shutdown flush can have written the events
      writeFileSync(configPath, JSON.stringify({ database: { path: database }, telemetry: { flushIntervalMs: 600000 } }))
      const service = yield* startService({ PATINOX_PORT: "0", PATINOX_CONFIG: configPath })
      const answer = yield* Effect.promise(() =>
        fetch(`${service.url}/agents/router/runs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ input: "What is 6 times 7?" })
        }).then((r) => r.json() as Promise<{ answer: string }>)
      )
      assert.strictEqual(answer.answer, "6 * 7 = 42")
      service.process.kill("SIGINT")
      const exit = yield* Deferred.await(service.exit).pipe(Effect.timeout("15 seconds"))
      assert.strictEqual(exit.code, 0)
      assert.include(service.output(), "Agents stopped: drained=true")
      const stored = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ n: number }>`SELECT count(*) AS n FROM events WHERE type = 'run.end'`
      }).pipe(Effect.provide(SqliteClient.layer({ filename: database })), Effect.orDie)
      // the router's run and the calculator's delegated run
      assert.strictEqual(stored[0]?.n, 2)
    }))

  it.scopedLive("fails to start on a bad config file, naming the key", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-config-")
      const path = join(dir, "patinox.config.json")
      writeFileSync(path, JSON.stringify({ validation: { circuitBreaker: { failureRateThreshold: 3 } } }))
      const exit = yield* Effect.flip(startService({ PATINOX_PORT: "0", PATINOX_CONFIG: path }))
      assert.include(exit.message, "validation.circuitBreaker.failureRateThreshold")
    }))

  it.scopedLive("fails to start with a message naming the bad setting", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.flip(startService({ PATINOX_PORT: "not-a-port" }))
      assert.include(exit.message, "PATINOX_PORT")
    }))

  it.scopedLive("refuses to listen on every interface without an API token, saying why", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.flip(startService({ PATINOX_PORT: "0", PATINOX_HOST: "0.0.0.0" }))
      assert.include(exit.message, "refusing to listen on 0.0.0.0 without an API token")
      assert.include(exit.message, "PATINOX_API_TOKEN")
    }))

  it.scopedLive("names the reason when the port is taken", () =>
    Effect.gen(function*() {
      const taken = yield* Effect.acquireRelease(
        Effect.async<Server>((resume) => {
          const server = createServer()
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const address = taken.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const exit = yield* Effect.flip(startService({ PATINOX_PORT: String(port) }))
      assert.include(exit.message, `Patinox could not start: listen EADDRINUSE: address already in use 127.0.0.1:${port}`)
    }))

  it.scopedLive("names the reason when the host is not an address", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.flip(startService({ PATINOX_PORT: "0", PATINOX_HOST: "999.1.1.1", PATINOX_API_TOKEN: "t" }))
      assert.match(exit.message, /Patinox could not start: .*999\.1\.1\.1/)
    }))

  it.scopedLive("names PATINOX_PORT when it is out of range", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.flip(startService({ PATINOX_PORT: "70000" }))
      assert.include(exit.message, "PATINOX_PORT")
      assert.include(exit.message, "between 0 and 65535")
    }))
})
