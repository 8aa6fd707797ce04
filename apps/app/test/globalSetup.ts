// Once per test run: the bundled service and command line (`dist/bin/main.js`, `dist/bin/cli.js`),
// which the process tests start. Each started in a few hundred ms, where tsx compiled the sources
// again in every process (about 4 s each on two shared cores).
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

export const setup = () => {
  const built = spawnSync(process.execPath, ["--import", "tsx", "scripts/bundle.ts"], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: "inherit"
  })
  if (built.status !== 0) throw new Error(`bundling the app for the process tests failed (exit ${built.status})`)
}
