/**
 * The `monitoring-overhead` bench's first comparison (agent runs with the
 * whole monitoring stack against monitoring off, the fake model answering at
 * once) alone, in a process of its own, after loading what that process
 * should hold besides the stack under test. With every run CPU-bound, the
 * p99 ratio depends on it (see docs/monitoring-overhead.md):
 *
 *   lean     nothing else: the agent, the fake model and the stack
 *   service  the service's modules (`apps/app/src/Http.ts` and its imports)
 *   bench    every benchmark module, as `pnpm bench` loads them
 *
 * Usage: `corepack pnpm tsx bench/overhead-process.ts [lean|service|bench] [rounds]`
 * (default `service`, 150 rounds of 100 runs each way, as the bench). Prints
 * the p50 and p99 ratios with their bootstrap 95 % intervals, and the
 * scavenges per 100 runs and their mean length on each side. Run it several
 * times: one process's p99 ratio moves by a few hundredths from one to the next.
 */
import { Effect, Exit, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ConfigFile from "../apps/app/src/ConfigFile.js"
import { bootstrapRatio, importBenchModules, percentile, round } from "./harness.js"

const loads = ["lean", "service", "bench"] as const
type Load = (typeof loads)[number]
const isLoad = (s: string): s is Load => loads.some((load) => load === s)

const preload = async (load: Load): Promise<void> => {
  if (load === "service") await import("../apps/app/src/Http.js")
  if (load === "bench") await importBenchModules()
}

const main = async () => {
  const [loadArg = "service", roundsArg = "150"] = process.argv.slice(2)
  const rounds = Number(roundsArg)
  if (!isLoad(loadArg) || !Number.isInteger(rounds) || rounds < 2) {
    console.error(`usage: tsx bench/overhead-process.ts [${loads.join("|")}] [rounds >= 2], got ${process.argv.slice(2).join(" ")}`)
    process.exitCode = 2
    return
  }
  await preload(loadArg)
  // After the preload, so that `lean` loads no more than the comparison needs.
  const { compare, runtimes } = await import("./monitoring-overhead.bench.js")
  const scope = Effect.runSync(Scope.make())
  const dir = mkdtempSync(join(tmpdir(), "patinox-overhead-process-"))
  try {
    const file = await Effect.runPromise(ConfigFile.parse("{}", "defaults"))
    const pair = await runtimes(scope, file, dir, 0, "monitored.db")
    const { gc, samples } = await compare(pair, rounds, 100, `${loadArg}, model at 0 ms`, (m) => console.log(`  … ${m}`))
    const ratio = (q: number) => {
      const { high, low } = bootstrapRatio(samples.monitored, samples.off, q)
      return `${round(percentile(samples.monitored, q) / percentile(samples.off, q))} [${round(low)}, ${round(high)}]`
    }
    const side = (name: "monitored" | "off") =>
      `${round(gc[name].scavengesPer100, 2)} scavenges per 100 runs, ${round(gc[name].meanScavengeMs, 2)} ms each`
    console.log(`${loadArg}: ${rounds * 100} runs each way; ratio monitored/off p50 ${ratio(50)}, p99 ${ratio(99)} (target <= 1.05)`)
    console.log(`  monitored: ${side("monitored")}; off: ${side("off")}`)
    await pair.monitored.dispose()
    await pair.off.dispose()
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
