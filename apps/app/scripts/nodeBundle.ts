/**
 * The esbuild options every Node bundle of the repository shares: the service (`bundle.ts`), the
 * process tests' fixtures (`test/globalSetup.ts`) and the write thread the packages' tests start
 * (`vitest.writeWorker.ts` at the root). Each names its own externals: what the service leaves out
 * is what deploy/assemble.sh must copy.
 */
import type { BuildOptions } from "esbuild"

export const nodeBundle = {
  bundle: true,
  platform: "node",
  // The workspace's packages from their sources, as the tests and tsx run them: no build needed first.
  conditions: ["@patinox/source"],
  format: "esm",
  target: "node20",
  logLevel: "warning",
  // CommonJS dependencies call `require`, which an ES module does not have.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
} satisfies BuildOptions
