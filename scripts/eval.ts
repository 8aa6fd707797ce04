/**
 * `pnpm eval [--prompts FILE] [--hallucination FILE] [--json OUT] [--only prompts|hallucination]`
 *
 * The same command as `patinox eval` (apps/app/src/Eval.ts holds the
 * evaluation, Cli.ts its options): the prompt guard and the hallucination
 * detector on JSON Lines files, by default the shared development files
 * `../shared/eval/*_dev.jsonl` beside the repository (validation split only).
 *
 * Exit codes: 0 done, 1 an evaluation failed, 2 bad arguments or a missing file.
 */
import { Effect } from "effect"
import * as Cli from "../apps/app/src/Cli.js"

const [node = "node", script = "eval"] = process.argv

// The script's runtime edge; `Cli.main` prints what went wrong, the exit code says how it ended.
void Effect.runPromiseExit(Cli.main([node, script, "eval", ...process.argv.slice(2)])).then((exit) => {
  process.exitCode = Cli.exitCode(exit)
})
