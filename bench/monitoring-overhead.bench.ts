/**
 * What embedded monitoring costs an agent, and how it behaves under a burst.
 *
 * 1. Agent-run latency with the service's whole monitoring stack (event bus,
 *    performance / error / usage / metrics / alert monitors, SQLite sink on a
 *    temp file) versus monitoring off (a Monitor that discards), same fake
 *    model at zero latency, rounds interleaved: the ratio at p50 and p99.
 * 2. A burst of 10x what the sink writes, for PATINOX_BENCH_BURST_S seconds
 *    (default 30): memory stays bounded, reporting never waits, drops counted.
 */
import { Agent } from "@patinox/agent"
import { Ids, Monitor, type TelemetryEvent, ValidationPipeline } from "@patinox/core"
import { EventBus } from "@patinox/monitoring"
import { OpenAiLanguageModel } from "@patinox/provider-openai"
import { TelemetrySink } from "@patinox/telemetry-store"
import { FakeOpenAi } from "@patinox/testing"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ConfigFile from "../apps/app/src/ConfigFile.js"
import * as Telemetry from "../apps/app/src/Telemetry.js"
import { add } from "./fixtures.js"
import type { Benchmark, BenchRow } from "./harness.js"
import { percentile, round } from "./harness.js"

const ROUNDS = 6
const PER_ROUND = 150
const WARMUP = 200

const agent = Agent.make("bench").model("gpt-bench").instructions("Add with the add tool.").tools(add).build()

const benchmark: Benchmark = {
  name: "monitoring-overhead",
  description: "agent runs with the full monitoring stack vs monitoring off; a 10x burst into the sink",
  run: async (progress) => {
    const scope = Effect.runSync(Scope.make())
    const dir = mkdtempSync(join(tmpdir(), "patinox-bench-monitoring-"))
    try {
      const fake = await Effect.runPromise(
        Scope.extend(FakeOpenAi.make({ record: false, responder: FakeOpenAi.toolThenAnswer("add", { a: 17, b: 25 }, "42") }), scope)
      )
      const model = OpenAiLanguageModel.layer({
        apiKey: Redacted.make("sk-bench"),
        baseURL: fake.url,
        model: "gpt-bench",
        retryPolicy: { maxRetries: 0, baseDelay: "1 millis", maxDelay: "1 millis" }
      })
      const file = await Effect.runPromise(ConfigFile.parse("{}", "defaults"))
      const monitored = ManagedRuntime.make(
        Layer.mergeAll(model, ValidationPipeline.passThrough).pipe(
          Layer.provideMerge(Telemetry.layer(file)),
          Layer.provide(Telemetry.databaseLayer(join(dir, "monitored.db")))
        )
      )
      const off = ManagedRuntime.make(
        Layer.mergeAll(model, ValidationPipeline.passThrough, Layer.succeed(Monitor.Monitor, { record: () => Effect.void }))
      )
      const runs = { monitored: () => monitored.runPromise(Agent.run(agent, "17 + 25?")), off: () => off.runPromise(Agent.run(agent, "17 + 25?")) }

      progress(`warming up (${WARMUP} runs each)`)
      for (let i = 0; i < WARMUP; i++) {
        await runs.monitored()
        await runs.off()
      }
      const samples = { monitored: [] as Array<number>, off: [] as Array<number> }
      for (let r = 0; r < ROUNDS; r++) {
        for (const name of ["monitored", "off"] as const) {
          for (let i = 0; i < PER_ROUND; i++) {
            const t0 = performance.now()
            await runs[name]()
            samples[name].push(performance.now() - t0)
          }
        }
        progress(`round ${r + 1}/${ROUNDS}`)
      }
      const p = (name: "monitored" | "off", q: number) => percentile(samples[name], q)
      const rows: Array<BenchRow> = [
        { name: "monitoring-overhead/run-monitoring-off", metric: "p50", value: round(p("off", 50)), unit: "ms" },
        { name: "monitoring-overhead/run-monitoring-off", metric: "p99", value: round(p("off", 99)), unit: "ms" },
        {
          name: "monitoring-overhead/run-monitored",
          metric: "p50",
          value: round(p("monitored", 50)),
          unit: "ms",
          baseline: round(p("off", 50)),
          ratio: round(p("monitored", 50) / p("off", 50))
        },
        {
          name: "monitoring-overhead/run-monitored",
          metric: "p99",
          value: round(p("monitored", 99)),
          unit: "ms",
          baseline: round(p("off", 99)),
          ratio: round(p("monitored", 99) / p("off", 99))
        }
      ]
      progress(`p50 ratio monitored/off = ${round(p("monitored", 50) / p("off", 50))} (target <= 1.05)`)

      // -- burst ---------------------------------------------------------------
      const seconds = Number(process.env["PATINOX_BENCH_BURST_S"] ?? 30)
      const sinkStats = await monitored.runPromise(Effect.flatMap(TelemetrySink.TelemetrySink, (s) => s.stats))
      // the sink's measured rate so far is a floor; the burst offers 10x a rate it cannot exceed by much
      const event: TelemetryEvent.TelemetryEvent = {
        timestamp: 0,
        traceId: Ids.TraceId.make("0123456789abcdef0123456789abcdef"),
        spanId: Ids.SpanId.make("0123456789abcdef"),
        type: "tool.end",
        agentId: Ids.AgentId.make("burst"),
        metrics: { latencyMs: 1 },
        context: { tool: "burst" }
      }
      const target = 10 * 50_000 // 10x the sink's ~50k events/s (telemetry-store bench)
      progress(`burst: offering ~${target} events/s for ${seconds} s (sink wrote ${sinkStats.written} so far)`)
      const recordLatencies: Array<number> = []
      let offered = 0
      let heapMax = 0
      const heapBefore = process.memoryUsage().heapUsed
      const record = await monitored.runPromise(Effect.map(Monitor.Monitor, (m) => m.record))
      const started = performance.now()
      while (performance.now() - started < seconds * 1000) {
        const sliceStart = performance.now()
        for (let i = 0; i < target / 100; i++) {
          const t0 = performance.now()
          Effect.runSync(record({ ...event, timestamp: Date.now() }))
          if (i % 100 === 0) recordLatencies.push(performance.now() - t0)
          offered++
        }
        heapMax = Math.max(heapMax, process.memoryUsage().heapUsed)
        // yield to the consumers for the rest of this 10 ms slice
        const wait = 10 - (performance.now() - sliceStart)
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)))
        if (Math.round(performance.now() - started) % 5000 < 12) progress(`burst: ${Math.round((performance.now() - started) / 1000)} s, ${offered} offered`)
      }
      const elapsed = (performance.now() - started) / 1000
      const busStats = await monitored.runPromise(Effect.flatMap(EventBus.EventBus, (b) => b.stats))
      const after = await monitored.runPromise(Effect.flatMap(TelemetrySink.TelemetrySink, (s) => s.stats))
      rows.push(
        { name: "monitoring-overhead/burst", metric: "offered/s", value: round(offered / elapsed, 0), unit: "events/s" },
        { name: "monitoring-overhead/burst", metric: "sink written/s", value: round((after.written - sinkStats.written) / elapsed, 0), unit: "events/s" },
        { name: "monitoring-overhead/burst", metric: "bus dropped", value: busStats.dropped, unit: "events" },
        { name: "monitoring-overhead/burst", metric: "sink dropped", value: after.dropped - sinkStats.dropped, unit: "events" },
        { name: "monitoring-overhead/burst", metric: "record p99", value: round(percentile(recordLatencies, 99), 4), unit: "ms" },
        { name: "monitoring-overhead/burst", metric: "record max", value: round(Math.max(...recordLatencies), 3), unit: "ms" },
        { name: "monitoring-overhead/burst", metric: "heap before", value: round(heapBefore / 1048576, 1), unit: "MB" },
        { name: "monitoring-overhead/burst", metric: "heap max", value: round(heapMax / 1048576, 1), unit: "MB" }
      )
      await monitored.dispose()
      await off.dispose()
      return rows
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default benchmark
