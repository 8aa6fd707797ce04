/**
 * The service's memory as a user sees it (RSS of the whole process, every
 * thread), idle and under load, on the simulated model. For each way of
 * running it (`source`: `node --import tsx src/main.ts`; `bundle`:
 * `node dist/bin/main.js`, what `pnpm --filter app start` runs), alternating:
 * start it, leave it idle `idle` seconds and take the median of one RSS
 * reading a second over the last half; then `clients` closed-loop clients
 * post assistant runs for `seconds` (rate limit off, so that every request
 * runs an agent) and the peak RSS (`VmHWM`) is read, and the RSS 10 s after.
 *
 * Usage: `corepack pnpm --filter app build && corepack pnpm tsx bench/memory.ts [rounds] [clients] [seconds] [idle] [bundle|source]`
 * (default 2 rounds, 200 clients, 20 s, 20 s idle, both ways). With 40 s
 * idle or more it also prints the median 10-20 s after start.
 */
import * as ServiceProcess from "./serviceProcess.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const measure = async (entry: ServiceProcess.Entry, clients: number, seconds: number, idle: number) => {
  const service = await ServiceProcess.start({ validation: { rateLimit: { enabled: false } } }, entry)
  try {
    const pid = service.child.pid!
    const readings: Array<number> = []
    for (let s = 0; s < idle; s++) {
      await sleep(1000)
      readings.push(ServiceProcess.memoryMb(pid).rss)
    }
    const idleRss = ServiceProcess.median(readings.slice(Math.floor(idle / 2)))
    // 10-20 s after start, V8's young generation is still at the size start-up grew it to (see docs/memory.md).
    const earlyRss = idle >= 40 ? ServiceProcess.median(readings.slice(10, 20)) : undefined
    const idlePeak = ServiceProcess.memoryMb(pid).peak
    const result = await ServiceProcess.load(service.port, clients, seconds)
    const peak = ServiceProcess.memoryMb(pid).peak
    await sleep(10_000)
    const after = ServiceProcess.memoryMb(pid).rss
    return { idleRss, earlyRss, idlePeak, peak, after, rps: result.ok / result.seconds, failed: result.failed }
  } finally {
    await service.stop()
  }
}

const main = async () => {
  const [rounds = 2, clients = 200, seconds = 20, idle = 20] = process.argv.slice(2, 6).map(Number)
  const only = process.argv[6]
  const entries: ReadonlyArray<ServiceProcess.Entry> = only === "bundle" || only === "source" ? [only] : ["bundle", "source"]
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? entries : [...entries].reverse()
    for (const entry of order) {
      const r = await measure(entry, clients, seconds, idle)
      console.log(
        `round ${i + 1} ${entry.padEnd(6)}: idle RSS ${r.idleRss.toFixed(0)} MB` +
          (r.earlyRss === undefined ? "" : ` (10-20 s after start ${r.earlyRss.toFixed(0)} MB)`) +
          ` (peak so far ${r.idlePeak.toFixed(0)}), ` +
          `under ${clients} clients peak ${r.peak.toFixed(0)} MB (${r.rps.toFixed(1)} runs/s, non-200 ${r.failed}), ` +
          `10 s after ${r.after.toFixed(0)} MB`
      )
    }
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
