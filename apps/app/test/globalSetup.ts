// Once per test run: the bundled service and command line (`dist/bin/main.js`, `dist/bin/cli.js`),
// which the process tests start. Each started in a few hundred ms, where tsx compiled the sources
// again in every process (about 4 s each on two shared cores).
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const appDir = fileURLToPath(new URL("..", import.meta.url))

export const setup = () => {
  const built = spawnSync(process.execPath, ["--import", "tsx", "scripts/bundle.ts"], { cwd: appDir, stdio: "inherit" })
  if (built.status !== 0) throw new Error(`bundling the app for the process tests failed (exit ${built.status})`)
  // The in-process services' sink threads start from the bundled write thread too, not from its
  // sources through tsx (TelemetrySink's `PATINOX_WRITE_WORKER`); the workers inherit this environment.
  process.env["PATINOX_WRITE_WORKER"] = fileURLToPath(new URL("../dist/bin/writeWorker.js", import.meta.url))
}
