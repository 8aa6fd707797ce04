/**
 * `pnpm bench http`: the HTTP surface under load, with autocannon.
 *
 * (1) `POST /agents/assistant/runs` ("What is 17 + 25?": two model calls and
 * a calculator call, every validator on but the rate limiter) from 50
 * concurrent clients against the real service, bundled as `pnpm --filter app
 * start` runs it, on the simulated model at zero latency; beside a bare
 * `node:http` server in its own process doing the same JSON round trip (parse
 * the body, answer an object of the run's answer size), measured in the same
 * run: runs/s, p50 and p99, and the ratio.
 *
 * (2) `GET /metrics` with 1,000 series present: the service's layer in this
 * process, with 1,000 label sets of one counter registered through Effect's
 * `Metric` API (what the service's own metrics go through); the median of
 * SCRAPES scrapes.
 *
 * HTTP_SECONDS (default 10) per target.
 */
import { HttpServer } from "@effect/platform"
import autocannon from "autocannon"
import { Effect, Layer, Metric } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as ConfigFile from "../apps/app/src/ConfigFile.js"
import * as Http from "../apps/app/src/Http.js"
import * as SimulatedModel from "../apps/app/src/SimulatedModel.js"
import type { Benchmark, BenchRow } from "./harness.js"
import { round } from "./harness.js"
import * as ServiceProcess from "./serviceProcess.js"

const SECONDS = Number(process.env["HTTP_SECONDS"] ?? 10)
const CONNECTIONS = 50
const SERIES = 1_000
const SCRAPES = 30
const appDir = fileURLToPath(new URL("../apps/app", import.meta.url))
const body = JSON.stringify({ input: "What is 17 + 25?" })

interface Load {
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  readonly ok: number
  readonly other: number
}

const load = async (url: string): Promise<Load> => {
  const result = await autocannon({
    url,
    method: "POST",
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { "content-type": "application/json" },
    body
  })
  return {
    perSecond: result["2xx"] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result["2xx"],
    other: result.non2xx + result.errors + result.timeouts
  }
}

/**
 * The bare server: reads the body, parses it, answers an object of `size`
 * bytes. Its own process, like the service, so that autocannon's process
 * measures both the same way.
 */
const bareServer = (size: number) => `
const http = require("node:http")
const server = http.createServer((req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    const input = JSON.parse(Buffer.concat(chunks).toString("utf8")).input
    const reply = { answer: input, padding: "" }
    reply.padding = "x".repeat(Math.max(0, ${size} - JSON.stringify(reply).length))
    const text = JSON.stringify(reply)
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    res.end(text)
  })
})
server.listen(0, "127.0.0.1", () => console.log("port " + server.address().port))
`

const startBare = async (size: number) => {
  const child = spawn(process.execPath, ["-e", bareServer(size)], { stdio: ["ignore", "pipe", "inherit"] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      const match = /port (\d+)/.exec(chunk.toString())
      if (match?.[1] !== undefined) resolve(Number(match[1]))
    })
    child.on("exit", (code) => reject(new Error(`bare server exited (${code})`)))
  })
  return { port, stop: () => child.kill("SIGKILL") }
}

const runs = async (progress: (message: string) => void): Promise<ReadonlyArray<BenchRow>> => {
  progress("bundling the service (pnpm --filter app build)")
  const built = spawnSync(process.execPath, ["--import", "tsx", "scripts/bundle.ts"], { cwd: appDir, stdio: "inherit" })
  if (built.status !== 0) throw new Error("bundling the service failed")
  const service = await ServiceProcess.start({
    simulatedModel: { latencyMs: 0 },
    // 50 clients from one address would meet the per-user limit (20 runs/s) and measure 429s.
    validation: { rateLimit: { enabled: false } }
  }, "bundle")
  let size: number
  let svc: Load
  try {
    const url = `http://127.0.0.1:${service.port}/agents/assistant/runs`
    const sample = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body })
    size = (await sample.text()).length
    progress(`service: ${CONNECTIONS} clients for ${SECONDS} s (answers of ${size} bytes)`)
    svc = await load(url)
  } finally {
    await service.stop()
  }
  const bare = await startBare(size)
  let raw: Load
  try {
    progress(`bare node:http: ${CONNECTIONS} clients for ${SECONDS} s`)
    raw = await load(`http://127.0.0.1:${bare.port}/`)
  } finally {
    bare.stop()
  }
  const row = (metric: string, value: number, unit: string, baseline: number, ratio: number): BenchRow => ({
    name: `http/runs`,
    metric,
    value: round(value, 1),
    unit,
    baseline: round(baseline, 1),
    ratio: round(ratio, 3)
  })
  return [
    row("runs per second (50 clients)", svc.perSecond, "runs/s", raw.perSecond, svc.perSecond / raw.perSecond),
    row("p50 latency", svc.p50, "ms", raw.p50, svc.p50 / Math.max(raw.p50, 1)),
    row("p99 latency", svc.p99, "ms", raw.p99, svc.p99 / Math.max(raw.p99, 1)),
    { name: "http/runs", metric: "non-2xx, errors and timeouts", value: svc.other, unit: "responses", baseline: raw.other }
  ]
}

/** The service's layer in this process, 1,000 label sets of one counter, then timed scrapes. */
const scrape = (progress: (message: string) => void) =>
  Effect.gen(function*() {
    const dir = mkdtempSync(join(tmpdir(), "patinox-bench-metrics-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    const file = { ...yield* ConfigFile.parse("{}", "bench"), database: { path: join(dir, "patinox.db") } }
    const context = yield* Layer.build(
      Http.serviceLayer({ host: "127.0.0.1", port: 0, realModel: false }, file, SimulatedModel.layer)
    )
    const address = (yield* Effect.provide(HttpServer.HttpServer, context)).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    const counter = Metric.counter("patinox_bench_series_total", { description: "One series per label set, for the scrape bench." })
    yield* Effect.forEach(
      Array.from({ length: SERIES }, (_, i) => i),
      (i) => Metric.increment(Metric.tagged(counter, "series", `s${i}`)),
      { discard: true }
    )
    const url = `http://127.0.0.1:${address.port}/metrics`
    const get = Effect.promise(() => fetch(url).then((response) => response.text()))
    const first = yield* get
    const series = first.split("\n").filter((line) => line !== "" && !line.startsWith("#")).length
    const benchSeries = first.split("\n").filter((line) => line.startsWith("patinox_bench_series")).length
    progress(`/metrics: ${series} series in ${first.length} bytes (${benchSeries} of them the bench's); ${SCRAPES} scrapes`)
    const times: Array<number> = []
    for (let i = 0; i < SCRAPES; i++) {
      const started = performance.now()
      yield* get
      times.push(performance.now() - started)
    }
    times.sort((a, b) => a - b)
    const median = times[Math.floor(times.length / 2)] ?? Number.NaN
    return [
      { name: "http/metrics", metric: `GET /metrics median of ${SCRAPES}`, value: round(median, 2), unit: "ms" },
      { name: "http/metrics", metric: "series in the scrape", value: series, unit: "series" },
      { name: "http/metrics", metric: "scrape size", value: round(first.length / 1024, 1), unit: "KiB" }
    ] satisfies ReadonlyArray<BenchRow>
  }).pipe(Effect.scoped)

const bench: Benchmark = {
  name: "http",
  description: "POST /agents/:name/runs under 50 clients vs a bare node:http JSON round trip; GET /metrics with 1,000 series",
  run: async (progress) => [...await runs(progress), ...await Effect.runPromise(scrape(progress))]
}

export default bench
