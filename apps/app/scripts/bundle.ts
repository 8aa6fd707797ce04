/**
 * Builds what `pnpm --filter app start` runs: the service and the sink's
 * write thread as two plain JavaScript files (`dist/bin/main.js`,
 * `dist/bin/writeWorker.js`), with the prompt classifier's model and the
 * dashboard's static assets beside them.
 *
 * Run from source through tsx, every module's TypeScript is compiled at
 * start in each thread and tsx holds its own copies: the service sat at
 * 274-430 MB of RSS idle (see docs/memory.md). Bundled, each thread loads
 * only the code it uses, once. The tests and the benches still run the
 * sources through tsx.
 */
import { build } from "esbuild"
import { copyFileSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { buildDashboard } from "./dashboard.js"
import { nodeBundle } from "./nodeBundle.js"

const path = (relative: string) => fileURLToPath(new URL(relative, import.meta.url))

// Imported only when the config has a `localModel` section (transformers.js, ONNX Runtime's native
// addon beneath): not in the assembled tree; deployments that use it install it (docs/deploy.md).
const optional = ["@huggingface/transformers"]
// Native: loaded from node_modules as installed (deploy/assemble.sh copies them).
const required = ["better-sqlite3"]

await build({
  entryPoints: {
    main: path("../src/main.ts"),
    // `patinox` (the package's bin): the command line.
    cli: path("../src/cliMain.ts"),
    // `TelemetrySink` starts `./writeWorker.js` beside the module that holds it: here, `main.js`.
    writeWorker: path("../../../packages/telemetry-store/src/internal/writeWorker.ts")
  },
  outdir: path("../dist/bin"),
  ...nodeBundle,
  external: [...required, ...optional],
  // Smaller source for V8 to hold; names kept for stack traces and spans.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true
})

// `PromptGuard` reads its model at `../models/prompt-classifier.bin` from its own module: from `dist/bin`, `dist/models`.
mkdirSync(path("../dist/models"), { recursive: true })
copyFileSync(
  path("../../../packages/validation/models/prompt-classifier.bin"),
  path("../dist/models/prompt-classifier.bin")
)

// The dashboard's static assets, served at / from `dist/dashboard` (docs/dashboard.md).
await buildDashboard(path("../dist/dashboard"))
