/**
 * Writes one of the tiny test models (see `src/TinyModel.ts`) into a directory.
 *
 * Usage: `pnpm tsx packages/local-model/scripts/make-tiny-model.ts <dir> [injection|grounding]`
 */
import { resolve } from "node:path"
import { groundingSpec, injectionSpec, writeTinyModel } from "../src/TinyModel.js"

const [dir, which = "injection"] = process.argv.slice(2)
if (dir === undefined || (which !== "injection" && which !== "grounding")) {
  console.error("usage: make-tiny-model.ts <dir> [injection|grounding]")
  process.exitCode = 2
} else {
  console.log(`wrote ${writeTinyModel(resolve(dir), which === "injection" ? injectionSpec : groundingSpec)}`)
}
