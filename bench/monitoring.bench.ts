/**
 * Monitoring bus costs. (1) Publish throughput through the production
 * `Monitor` (the event bus) with three monitors (performance, errors, usage)
 * consuming, beside a bare `Queue.offer` loop into a sliding queue of the same
 * capacity. (2) A burst: for BURST_SECONDS (default 10) publishers offer ten
 * times what three deliberately slow consumers can read; the bus must stay
 * bounded in memory, never make a publisher wait, and count every drop.
 */
import { Ids, type TelemetryEvent } from "@patinox/core"
import { AsyncMonitor, ErrorMonitor, EventBus, PerformanceMonitor, UsageMonitor } from "@patinox/monitoring"
import { Effect, Queue } from "effect"
import type { Benchmark, BenchRow } from "./harness.js"
import { percentile, round } from "./harness.js"

const CAPACITY = 4_096
const EVENTS = 200_000
const ROUNDS = 3
const BURST_SECONDS = Number(process.env["BURST_SECONDS"] ?? 10)

const agentId = Ids.AgentId.make("bench-agent")
const traceId = Ids.TraceId.make("0123456789abcdef0123456789abcdef")
const spanId = Ids.SpanId.make("0123456789abcdef")
const kinds = ["tool.start", "tool.end", "model.request", "model.response", "state.change"] as const
const events: ReadonlyArray<TelemetryEvent.TelemetryEvent> = Array.from({ length: 1_000 }, (_, i) => ({
  timestamp: i,
  traceId,
  spanId,
  type: kinds[i % kinds.length] ?? "tool.start",
  agentId,
  runId: Ids.RunId.make(`run-${Math.floor(i / 10)}`),
  metrics: { latencyMs: 5, tokensIn: 10, tokensOut: 5 },
  context: { tool: "search", toolCallId: `c${i}`, model: "gpt-4o-mini", step: i % 10, state: "calling_model" }
}))
const eventAt = (i: number) => events[i % events.length] ?? events[0]!

const builtIns = Effect.all([PerformanceMonitor.make(), ErrorMonitor.make(), UsageMonitor.make()])

/** Publishes EVENTS through the bus with three monitors consuming; events/s of the publisher. */
const busThroughput = Effect.gen(function*() {
  const { bus, monitor } = yield* EventBus.make({ capacity: CAPACITY, strategy: "sliding" })
  const [performance, errors, usage] = yield* builtIns
  for (const m of [performance.monitor, errors.monitor, usage.monitor]) {
    yield* AsyncMonitor.start(m).pipe(Effect.provideService(EventBus.EventBus, bus))
  }
  const started = performance_now()
  for (let i = 0; i < EVENTS; i++) {
    yield* monitor.record(eventAt(i))
    // Let the consumers run now and then, as a real loop would between steps.
    if (i % 512 === 511) yield* Effect.yieldNow()
  }
  const elapsed = performance_now() - started
  const stats = yield* bus.stats
  return { perSecond: EVENTS / (elapsed / 1000), dropped: stats.dropped }
}).pipe(Effect.scoped)

const bareQueue = Effect.gen(function*() {
  const queue = yield* Queue.sliding<TelemetryEvent.TelemetryEvent>(CAPACITY)
  const started = performance_now()
  for (let i = 0; i < EVENTS; i++) {
    yield* Queue.offer(queue, eventAt(i))
    if (i % 512 === 511) yield* Effect.yieldNow()
  }
  return EVENTS / ((performance_now() - started) / 1000)
})

const performance_now = () => performance.now()

/**
 * Consumers read at most 100 events per 10 ms (10 000/s each); publishers
 * offer 1 000 events every 10 ms (100 000/s), ten times that.
 */
const burst = Effect.gen(function*() {
  const { bus, monitor } = yield* EventBus.make({ capacity: 1_024, strategy: "sliding" })
  let observed = 0
  for (const name of ["slow-1", "slow-2", "slow-3"]) {
    const slow: AsyncMonitor.AsyncMonitor = {
      name,
      observe: () => Effect.sync(() => void observed++),
      analyze: Effect.succeed([]),
      report: Effect.succeed({ monitor: name, generatedAt: 0, observed: 0, patterns: [], summary: {} })
    }
    const consumer: AsyncMonitor.AsyncMonitor = {
      ...slow,
      // a batch, then a pause: ~10 000 events/s
      observe: (event) => Effect.zipRight(slow.observe(event), observed % 100 === 0 ? Effect.sleep("10 millis") : Effect.void)
    }
    yield* AsyncMonitor.start(consumer, { batchSize: 100 }).pipe(Effect.provideService(EventBus.EventBus, bus))
  }
  globalThis.gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  const latencies: Array<number> = []
  let maxLatency = 0
  const deadline = performance_now() + BURST_SECONDS * 1000
  let published = 0
  while (performance_now() < deadline) {
    for (let i = 0; i < 1_000; i++) {
      const t0 = performance_now()
      yield* monitor.record(eventAt(published++))
      const dt = performance_now() - t0
      if (dt > maxLatency) maxLatency = dt
      if ((published & 63) === 0) latencies.push(dt)
    }
    yield* Effect.sleep("10 millis")
  }
  const heapAfter = process.memoryUsage().heapUsed
  const stats = yield* bus.stats
  return { heapBefore, heapAfter, maxLatency, p99: percentile(latencies, 99), published, stats, observed }
}).pipe(Effect.scoped)

const benchmark: Benchmark = {
  name: "monitoring",
  description: "event bus publish throughput with 3 monitors vs a bare Queue.offer; 10x burst for drops, memory, latency",
  run: async (progress) => {
    const rows: Array<BenchRow> = []
    const bus: Array<number> = []
    const bare: Array<number> = []
    let dropped = 0
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      const b = await Effect.runPromise(busThroughput)
      bus.push(b.perSecond)
      dropped += b.dropped
      bare.push(await Effect.runPromise(bareQueue))
      progress(`round ${round_ + 1}/${ROUNDS}: bus ${Math.round(b.perSecond)}/s, bare ${Math.round(bare[round_] ?? 0)}/s`)
    }
    const busMedian = percentile(bus, 50)
    const bareMedian = percentile(bare, 50)
    rows.push({ name: "monitoring/bare-queue-offer", metric: "throughput", value: Math.round(bareMedian), unit: "events/s" })
    rows.push({
      name: "monitoring/bus-3-monitors",
      metric: "throughput",
      value: Math.round(busMedian),
      unit: "events/s",
      baseline: Math.round(bareMedian),
      ratio: round(busMedian / bareMedian, 3)
    })
    rows.push({ name: "monitoring/bus-3-monitors", metric: "dropped", value: dropped, unit: "events" })

    progress(`burst: ${BURST_SECONDS} s at 10x the consumers' capacity`)
    const result = await Effect.runPromise(burst)
    const mb = (bytes: number) => round(bytes / (1024 * 1024), 1)
    rows.push({ name: "monitoring/burst-10x", metric: "published", value: result.published, unit: "events" })
    rows.push({ name: "monitoring/burst-10x", metric: "dropped", value: result.stats.dropped, unit: "events" })
    rows.push({
      name: "monitoring/burst-10x",
      metric: "observed (3 consumers)",
      value: result.observed,
      unit: "events"
    })
    rows.push({ name: "monitoring/burst-10x", metric: "heap before", value: mb(result.heapBefore), unit: "MB" })
    rows.push({ name: "monitoring/burst-10x", metric: "heap after", value: mb(result.heapAfter), unit: "MB" })
    rows.push({ name: "monitoring/burst-10x", metric: "bus size at end", value: result.stats.size, unit: "events" })
    rows.push({ name: "monitoring/burst-10x", metric: "max publish latency", value: round(result.maxLatency, 3), unit: "ms" })
    rows.push({ name: "monitoring/burst-10x", metric: "p99 publish latency", value: round(result.p99, 4), unit: "ms" })
    return rows
  }
}

export default benchmark
