// Issue 23, item 12: metrics docs/monitoring.md lists must be on a real server's /metrics
// from the start, not only after the first drop, miss or breaker state change.
// The service runs as its own process: Effect's metric registry is global to a process,
// and the test files before this one share theirs (vitest's `isolate: false`).
import { assert, describe, it } from "@effect/vitest"
import { FakeOpenAi, TempDir } from "@patinox/testing"
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { post } from "./server.js"
import { startService } from "./serviceProcess.js"

const metrics = (base: string) => Effect.promise(() => fetch(`${base}/metrics`).then((response) => response.text()))

/** The sample's value for the first metric line starting with `series` (name and labels), if exported. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((line) => line.startsWith(series))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
}

const breakerOn = (dependency: string) => `patinox_circuit_breaker_state{dependency="${dependency}"`

describe("/metrics", () => {
  it.scopedLive("exports the bus's loss counters at 0 and every dependency's breaker state from the start", () =>
    Effect.gen(function*() {
      // Every model call fails; retry-after-ms keeps the provider's own retries short.
      const fake = yield* FakeOpenAi.make({
        responder: () => FakeOpenAi.error(500, "The server had an error", { headers: { "retry-after-ms": "1" } })
      })
      const dir = yield* TempDir.make("patinox-metrics-")
      const configPath = join(dir, "patinox.config.json")
      writeFileSync(
        configPath,
        JSON.stringify({
          database: { path: join(dir, "patinox.db") },
          validation: { circuitBreaker: { windowSize: 1, minimumCalls: 1, failureRateThreshold: 1 } }
        })
      )
      const base = (yield* startService({ PATINOX_PORT: "0", PATINOX_CONFIG: configPath, OPENAI_BASE_URL: fake.url })).url
      const atStart = yield* metrics(base)
      assert.strictEqual(sample(atStart, "patinox_monitoring_dropped_events_total"), 0)
      assert.strictEqual(sample(atStart, "patinox_monitoring_consumer_missed_events_total{consumer=\"telemetry-sink\""), 0)
      assert.strictEqual(sample(atStart, "patinox_monitoring_consumer_missed_events_total{consumer=\"metrics\""), 0)
      assert.strictEqual(sample(atStart, breakerOn("model")), 0)
      assert.strictEqual(sample(atStart, breakerOn("tool:calculator")), 0)
      assert.strictEqual(sample(atStart, breakerOn("tool:ask_researcher")), 0)

      // One failed call opens this breaker; the change reaches the gauge through the bus, a batch later.
      const failed = yield* post(`${base}/agents/assistant/runs`, { input: "What is 2 + 2?" })
      assert.strictEqual(failed.status, 502)
      let state = sample(yield* metrics(base), breakerOn("model"))
      for (let tries = 0; state !== 2 && tries < 100; tries++) {
        yield* Effect.sleep("50 millis")
        state = sample(yield* metrics(base), breakerOn("model"))
      }
      assert.strictEqual(state, 2)
      assert.strictEqual(sample(yield* metrics(base), breakerOn("tool:calculator")), 0)
    }))
})
