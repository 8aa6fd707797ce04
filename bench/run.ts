/**
 * `pnpm bench [name...]`: runs the benchmarks in `bench/*.bench.ts` (or only
 * the named ones), prints a table, and writes `bench-results.json` at the
 * repository root with one row per figure.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Benchmark, type BenchRow, importBenchModules } from "./harness.js"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")

const isRow = (u: unknown): u is BenchRow =>
  typeof u === "object" && u !== null && "name" in u && typeof u.name === "string" && "value" in u

const readPrevious = (file: string): ReadonlyArray<BenchRow> => {
  if (!existsSync(file)) return []
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, "utf8"))
    return Array.isArray(parsed) ? parsed.filter(isRow) : []
  } catch {
    return [] // a corrupt results file is replaced, not fatal
  }
}

const isBenchmark = (u: unknown): u is Benchmark =>
  typeof u === "object" && u !== null && "name" in u && "run" in u && typeof u.run === "function"

const main = async () => {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"))
  const benchmarks: Array<Benchmark> = []
  for (const mod of await importBenchModules()) if (isBenchmark(mod.default)) benchmarks.push(mod.default)
  const selected = wanted.length === 0 ? benchmarks : benchmarks.filter((b) => wanted.includes(b.name))
  const unknown = wanted.filter((w) => !benchmarks.some((b) => b.name === w))
  if (unknown.length > 0) {
    console.error(`Unknown benchmark(s): ${unknown.join(", ")}. Available: ${benchmarks.map((b) => b.name).join(", ")}`)
    process.exitCode = 2
    return
  }
  const rows: Array<BenchRow> = []
  for (const [i, bench] of selected.entries()) {
    console.log(`[${i + 1}/${selected.length}] ${bench.name}: ${bench.description}`)
    const started = performance.now()
    const result = await bench.run((message) => console.log(`  … ${message}`))
    console.log(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    rows.push(...result)
  }
  console.log("")
  console.table(
    rows.map((r) => ({
      name: r.name,
      metric: r.metric,
      value: r.value,
      unit: r.unit,
      baseline: r.baseline ?? "",
      ratio: r.ratio ?? ""
    }))
  )
  // Rows of benchmarks that did not run this time are kept, so `pnpm bench <name>`
  // refreshes its own figures without dropping the others'.
  const file = join(root, "bench-results.json")
  const ran = selected.map((b) => `${b.name}/`)
  const previous = readPrevious(file).filter((row) => !ran.some((prefix) => row.name.startsWith(prefix)))
  writeFileSync(file, JSON.stringify([...previous, ...rows], null, 2) + "\n")
  console.log(`wrote ${rows.length} rows to bench-results.json (${previous.length} kept from earlier runs)`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
