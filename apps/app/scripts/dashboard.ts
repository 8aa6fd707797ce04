/**
 * Builds the dashboard (`dashboard/`, browser TypeScript and uPlot) into the
 * static folder `Dashboard.ts` serves: `index.html`, content-hashed script and
 * stylesheet, and `assets.json` naming them. `bundle.ts` runs it into
 * `dist/dashboard`; run directly (`tsx scripts/dashboard.ts`), it does the same.
 */
import { build } from "esbuild"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { basename } from "node:path"
import { fileURLToPath } from "node:url"

const path = (relative: string) => fileURLToPath(new URL(relative, import.meta.url))

/** Where `Dashboard.ts` looks for the built folder (from `src/`, and from `dist/bin` when bundled). */
export const defaultOutDir = path("../dist/dashboard")

/** The one output of an esbuild build that came from `entry`. */
const outputOf = (outputs: Record<string, { readonly entryPoint?: string }>, entry: string) => {
  const found = Object.entries(outputs).find(([, output]) => output.entryPoint === entry)
  if (found === undefined) throw new Error(`esbuild produced nothing for ${entry}`)
  return basename(found[0])
}

/** Builds into `outdir` (emptied first); returns the names of the files written. */
export const buildDashboard = async (outdir: string = defaultOutDir): Promise<ReadonlyArray<string>> => {
  rmSync(outdir, { recursive: true, force: true })
  mkdirSync(outdir, { recursive: true })
  const common = {
    // Entry points in the metafile are relative to it: the app's folder, wherever this runs from.
    absWorkingDir: path(".."),
    outdir,
    bundle: true,
    minify: true,
    // A new build gets new names, so browsers may cache each file for good.
    entryNames: "[name]-[hash]",
    metafile: true,
    logLevel: "warning",
    legalComments: "none"
  } as const
  const script = await build({
    ...common,
    entryPoints: { dashboard: path("../dashboard/main.ts") },
    platform: "browser",
    format: "esm",
    target: "es2022",
    // Components adopt their styles (uPlot's included) as text: a shadow root does not see the page's.
    loader: { ".css": "text" }
  })
  const style = await build({ ...common, entryPoints: { page: path("../dashboard/page.css") } })
  const scriptName = outputOf(script.metafile.outputs, "dashboard/main.ts")
  const styleName = outputOf(style.metafile.outputs, "dashboard/page.css")
  const page = readFileSync(path("../dashboard/index.html"), "utf8")
    .replace("%SCRIPT%", `/dashboard/${scriptName}`)
    .replace("%STYLE%", `/dashboard/${styleName}`)
  writeFileSync(`${outdir}/index.html`, page)
  const files = [scriptName, styleName]
  // Written last: a folder without it is not served.
  writeFileSync(`${outdir}/assets.json`, JSON.stringify({ entry: "index.html", files }, null, 2))
  return ["index.html", ...files]
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildDashboard()
}
