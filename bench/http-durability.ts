/**
 * What durable mode costs over HTTP: the service process with
 * `telemetry.durable` on and off, alternating rounds in one script run (so a
 * drift in the host's speed hits both sides), each round a fresh process
 * and database under `clients` closed-loop clients posting assistant runs
 * (simulated model, rate limit off).
 *
 * Usage: `corepack pnpm --filter app build && corepack pnpm tsx bench/http-durability.ts [rounds] [clients] [seconds] [bundle|source]`
 * (default 4 rounds each way, 16 clients, 10 s measured after 2 s of warm-up,
 * the bundle `pnpm --filter app start` runs).
 * Prints each round's requests a second, median and p99 latency and CPU per
 * run (all the process's threads, from /proc), then the medians over rounds
 * and the ratios on/off.
 */
import * as ServiceProcess from "./serviceProcess.js"

interface Round {
  readonly durable: boolean
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly cpuPerRunMs: number
  readonly failed: number
}

const measure = async (durable: boolean, clients: number, seconds: number, entry: ServiceProcess.Entry): Promise<Round> => {
  const service = await ServiceProcess.start({ telemetry: { durable }, validation: { rateLimit: { enabled: false } } }, entry)
  try {
    await ServiceProcess.load(service.port, clients, 2)
    const pid = service.child.pid!
    const cpuBefore = ServiceProcess.cpuMs(pid)
    const result = await ServiceProcess.load(service.port, clients, seconds)
    const cpu = ServiceProcess.cpuMs(pid) - cpuBefore
    return {
      durable,
      rps: result.ok / result.seconds,
      p50: ServiceProcess.median(result.latencies),
      p99: ServiceProcess.percentile(result.latencies, 99),
      cpuPerRunMs: cpu / Math.max(1, result.ok),
      failed: result.failed
    }
  } finally {
    await service.stop()
  }
}

const fixed = (n: number, digits = 2) => n.toFixed(digits)

const main = async () => {
  const [rounds = 4, clients = 16, seconds = 10] = process.argv.slice(2, 5).map(Number)
  const entry: ServiceProcess.Entry = process.argv[5] === "source" ? "source" : "bundle"
  const results: Array<Round> = []
  for (let i = 0; i < rounds; i++) {
    // Alternate which side goes first, so neither always follows the other.
    for (const durable of i % 2 === 0 ? [true, false] : [false, true]) {
      const round = await measure(durable, clients, seconds, entry)
      results.push(round)
      console.log(
        `round ${i + 1} durable=${durable ? "on " : "off"}: ${fixed(round.rps, 1)} req/s, ` +
          `p50 ${fixed(round.p50)} ms, p99 ${fixed(round.p99)} ms, CPU ${fixed(round.cpuPerRunMs)} ms/run, non-200 ${round.failed}`
      )
    }
  }
  const side = (durable: boolean) => results.filter((r) => r.durable === durable)
  const med = (durable: boolean, pick: (r: Round) => number) => ServiceProcess.median(side(durable).map(pick))
  const pairRatios = (pick: (r: Round) => number) =>
    side(true).map((on, i) => pick(on) / pick(side(false)[i]!))
  console.log(`\n${entry}: ${rounds} rounds each way, ${clients} clients, ${seconds} s each; medians over rounds (on / off, their ratio; the ratio within each round):`)
  for (const [name, pick] of [
    ["req/s", (r: Round) => r.rps],
    ["p50 ms", (r: Round) => r.p50],
    ["p99 ms", (r: Round) => r.p99],
    ["CPU ms/run", (r: Round) => r.cpuPerRunMs]
  ] as const) {
    const on = med(true, pick)
    const off = med(false, pick)
    console.log(
      `${name.padEnd(11)} ${fixed(on)} / ${fixed(off)}  ratio ${fixed(on / off, 3)}, median of the rounds' ratios ` +
        `${fixed(ServiceProcess.median(pairRatios(pick)), 3)} (${pairRatios(pick).map((r) => fixed(r, 3)).join(", ")})`
    )
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
