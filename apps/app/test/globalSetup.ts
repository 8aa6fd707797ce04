// Once per test run: the bundled service and command line (`dist/bin/main.js`, `dist/bin/cli.js`),
// which the process tests start. Each started in a few hundred ms, where tsx compiled the sources
// again in every process (about 4 s each on two shared cores). The process tests' fixtures are
// bundled the same way, into `dist/test`.
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { nodeBundle } from "../scripts/nodeBundle.js"

const appDir = fileURLToPath(new URL("..", import.meta.url))
const path = (relative: string) => fileURLToPath(new URL(relative, import.meta.url))

export const setup = async () => {
  const built = spawnSync(process.execPath, ["--import", "tsx", "scripts/bundle.ts"], { cwd: appDir, stdio: "inherit" })
  if (built.status !== 0) throw new Error(`bundling the app for the process tests failed (exit ${built.status})`)
  await build({
    entryPoints: {
      "telemetry-writer": path("fixtures/telemetry-writer.ts"),
      "actors-shutdown": path("fixtures/actors-shutdown.ts"),
      // The writer's sink starts `./writeWorker.js` beside the module that holds it, as in `dist/bin`.
      writeWorker: path("../../../packages/telemetry-store/src/internal/writeWorker.ts")
    },
    outdir: path("../dist/test"),
    ...nodeBundle,
    external: ["better-sqlite3"]
  })
  // The in-process services' sink threads start from the bundled write thread too, not from its
  // sources through tsx (TelemetrySink's `PATINOX_WRITE_WORKER`); the workers inherit this environment.
  process.env["PATINOX_WRITE_WORKER"] = path("../dist/bin/writeWorker.js")
}
