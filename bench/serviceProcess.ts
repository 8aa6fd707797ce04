/**
 * The service as a user runs it (`node --import tsx src/main.ts` in
 * `apps/app`, what `pnpm --filter app start` runs), on a free port with a
 * config file and database in a temp folder, and an HTTP load against it:
 * for the benches that measure the whole process (`http-durability.ts`,
 * `memory.ts`).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { Agent, request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const appDir = fileURLToPath(new URL("../apps/app", import.meta.url))

export interface ServiceProcess {
  readonly child: ChildProcess
  readonly port: number
  readonly output: () => string
  /** Stops it (SIGTERM, then SIGKILL after 10 s) and removes its folder. */
  readonly stop: () => Promise<void>
}

/**
 * How the process runs the service: `source` through tsx (what the tests
 * run), `bundle` the built `dist/bin/main.js` (what `pnpm --filter app start`
 * runs; build it first with `pnpm --filter app build`).
 */
export type Entry = "source" | "bundle"

/** Starts the service with `config` (merged over a temp database path) and waits until it listens. */
export const start = async (config: Record<string, unknown>, entry: Entry = "source"): Promise<ServiceProcess> => {
  const dir = mkdtempSync(join(tmpdir(), "patinox-bench-"))
  const configPath = join(dir, "patinox.config.json")
  writeFileSync(configPath, JSON.stringify({ database: { path: join(dir, "patinox.db") }, ...config }))
  const env: NodeJS.ProcessEnv = { ...process.env, PATINOX_PORT: "0", PATINOX_CONFIG: configPath }
  delete env.OPENAI_API_KEY
  delete env.OPENAI_BASE_URL
  const args = entry === "bundle" ? ["dist/bin/main.js"] : ["--conditions=@patinox/source", "--import", "tsx", "src/main.ts"]
  const child = spawn(process.execPath, args, {
    cwd: appDir,
    env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (match?.[1] !== undefined) resolve(Number(match[1]))
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("exit", (code) => reject(new Error(`service exited (${code}) before listening:\n${output}`)))
  })
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  return {
    child,
    port,
    output: () => output,
    stop: async () => {
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
      await exited
      clearTimeout(timer)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** The process's CPU time so far (user + system, all its threads), in ms, from `/proc`. */
export const cpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  // utime and stime are the 14th and 15th fields of the whole line (12th and 13th after the name).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

/** Resident and peak resident memory (MB) from `/proc/<pid>/status`. */
export const memoryMb = (pid: number): { readonly rss: number; readonly peak: number } => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 }
}

export interface LoadResult {
  readonly ok: number
  readonly failed: number
  /** Latency of each 200, in ms. */
  readonly latencies: ReadonlyArray<number>
  readonly seconds: number
}

/**
 * `clients` loops posting assistant runs, each waiting for its answer before
 * the next, for `seconds`.
 */
export const load = async (port: number, clients: number, seconds: number): Promise<LoadResult> => {
  const agent = new Agent({ keepAlive: true, maxSockets: clients })
  const latencies: Array<number> = []
  let failed = 0
  const until = performance.now() + seconds * 1000
  const post = (input: string) =>
    new Promise<number>((resolve) => {
      const body = JSON.stringify({ input })
      const req = request({
        host: "127.0.0.1",
        port,
        path: "/agents/assistant/runs",
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
      }, (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      })
      req.on("error", () => resolve(0))
      req.end(body)
    })
  const client = async (n: number) => {
    for (let i = 0; performance.now() < until; i++) {
      const started = performance.now()
      const status = await post(`What is ${n} + ${i}?`)
      if (status === 200) latencies.push(performance.now() - started)
      else failed++
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: clients }, (_, n) => client(n)))
  const elapsed = (performance.now() - started) / 1000
  agent.destroy()
  return { ok: latencies.length, failed, latencies, seconds: elapsed }
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length === 0 ? 0 : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}
