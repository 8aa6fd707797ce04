// Global setup for the projects whose tests start the telemetry sink: its write thread bundled
// once per run, which the sink then starts (`PATINOX_WRITE_WORKER`) instead of loading the
// thread's sources through tsx at every start. The test workers inherit this environment.
import { build } from "esbuild"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { nodeBundle } from "./apps/app/scripts/nodeBundle.js"

export const setup = async () => {
  // Inside the package, where the bundle's one external (better-sqlite3) resolves.
  const cache = fileURLToPath(new URL("packages/telemetry-store/node_modules/.cache", import.meta.url))
  mkdirSync(cache, { recursive: true })
  const dir = mkdtempSync(join(cache, "write-worker-"))
  const outfile = join(dir, "writeWorker.js")
  await build({
    entryPoints: [fileURLToPath(new URL("packages/telemetry-store/src/internal/writeWorker.ts", import.meta.url))],
    outfile,
    ...nodeBundle,
    external: ["better-sqlite3"]
  })
  process.env["PATINOX_WRITE_WORKER"] = outfile
  return () => rmSync(dir, { recursive: true, force: true })
}
