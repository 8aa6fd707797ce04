// Demo mode: the synthetic workload fills the store within a simulated minute, and is off unless asked for.
import { assert, describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { TempDir } from "@patinox/testing"
import { ConfigProvider, Effect, Layer, TestClock, TestServices } from "effect"
import { join } from "node:path"
import * as ConfigFile from "../src/ConfigFile.js"
import * as Demo from "../src/Demo.js"
import * as Http from "../src/Http.js"
import * as Serve from "../src/Serve.js"
import * as SimulatedModel from "../src/SimulatedModel.js"
import { config } from "./server.js"

// Real time for the write thread and the runs' validators and model calls, between two steps of the test
// clock. At 20 ms, up to 32 runs in flight shared too little of it: some minutes of traffic reached the
// flaky or the slow tool too rarely to show either.
/*
 * Two simulated minutes: the test clock gives the runs 60 ms of real time a second, not a second, so
 * they get through fewer steps a simulated second than a served demo does (which shows every panel's
 * data within its first minute, docs/demo.md).
 */
const simulatedSeconds = 120

const settle = TestServices.provideLive(Effect.sleep("60 millis"))

const count = (sql: SqlClient.SqlClient, query: string) =>
  Effect.map(sql.unsafe<{ n: number }>(query), (rows) => rows[0]?.n ?? 0)

describe("demo mode", () => {
  it.scoped("within two simulated minutes stores runs of several agents, a rejected jailbreak, tool errors and a slow call", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make("patinox-demo-")
      const database = join(dir, "patinox.db")
      // The test clock runs a minute of traffic in a second or two of real time: queues sized for that burst.
      const burst = JSON.stringify({ monitoring: { bus: { capacity: 100_000 } }, telemetry: { queueCapacity: 100_000 } })
      const file = { ...yield* ConfigFile.parse(burst, "test"), database: { path: database } }
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(Demo.layer(Http.serviceLayer(config, Demo.configure(file), SimulatedModel.layer)))
        for (let second = 0; second < simulatedSeconds; second++) {
          yield* TestClock.adjust("1 second")
          yield* settle
        }
        // Runs still working (not sleeping on the clock) finish before the scope closes and interrupts them.
        yield* TestServices.provideLive(Effect.sleep("3 seconds"))
      }))
      // The scope has closed: the agents drained and the telemetry was flushed to the file.
      yield* Effect.provide(stored, SqliteClient.layer({ filename: database, readonly: true }))
    }), { timeout: 120_000 })

  const stored = Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const agents = yield* sql.unsafe<{ agent: string }>(
        "SELECT DISTINCT agent_id AS agent FROM events WHERE type = 'run.start' ORDER BY 1"
      )
      assert.deepStrictEqual(agents.map((row) => row.agent), ["demo-maths", "demo-stock", "demo-weather"])
      assert.isAbove(yield* count(sql, "SELECT count(*) AS n FROM events WHERE type = 'run.start'"), 60)
      assert.isAbove(
        yield* count(sql, "SELECT count(*) AS n FROM events WHERE validator = 'jailbreak' AND decision = 'rejected'"),
        0
      )
      assert.isAbove(yield* count(sql, "SELECT count(*) AS n FROM events WHERE type = 'tool.error' AND tool = 'weather_fetch'"), 0)
      assert.isAbove(
        yield* count(
          sql,
          `SELECT count(*) AS n FROM events WHERE type = 'tool.end' AND tool = 'inventory_lookup' AND latency_ms >= ${Demo.slowCallMs}`
        ),
        0
      )
      assert.isAbove(yield* count(sql, "SELECT count(*) AS n FROM events WHERE type = 'model.response'"), 0)
      // The demo's alert rules fired on the flaky and the slow tool.
      assert.isAbove(yield* count(sql, "SELECT count(*) AS n FROM alerts WHERE state = 'firing'"), 0)
    })

  it.effect("is off unless the config file or --demo asks for it", () =>
    Effect.gen(function*() {
      assert.isFalse((yield* ConfigFile.parse("{}", "test")).demo.enabled)
      assert.isTrue((yield* ConfigFile.parse("demo:\n  enabled: true\n", "test.yaml")).demo.enabled)
    }))

  it.scoped("refuses to start with a real model configured", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Serve.serveWith({ demo: true })).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_BASE_URL", "http://127.0.0.1:9"], ["PATINOX_PORT", "0"]])))
      )
      assert.instanceOf(error, Demo.DemoNeedsSimulatedModel)
      assert.include(error.message, "simulated model only")
    }))
})

describe("the first-start message", () => {
  it("names the URL, the real model, where data is kept, the token, and demo mode", () => {
    const message = Serve.startedMessage({
      url: "http://127.0.0.1:7070/",
      model: { provider: "openai", name: "gpt-4o-mini", simulated: false },
      database: "/var/lib/patinox/patinox.db",
      behaviourDir: "/etc/patinox/agents",
      tokenRequired: true,
      demo: true
    })
    assert.deepStrictEqual(message.split("\n"), [
      "Patinox is ready.",
      "  Dashboard:  http://127.0.0.1:7070/",
      "  Model:      openai/gpt-4o-mini",
      "  Database:   /var/lib/patinox/patinox.db",
      "  Agents:     /etc/patinox/agents",
      "  API token:  required (Authorization: Bearer <token>)",
      "  Demo mode:  on (a synthetic workload; turn it off before real use)"
    ])
  })
})
