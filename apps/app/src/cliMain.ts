#!/usr/bin/env node
/**
 * The command line's runtime edge: `corepack pnpm --filter app patinox …`,
 * or `dist/bin/cli.js` once bundled. The commands are in `Cli.ts` (this file is
 * not `cli.ts`: the two names collide on case-insensitive file systems).
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Cli from "./Cli.js"

// SIGINT/SIGTERM interrupt the command (exit 0); the exit code otherwise says how it ended (docs/cli.md).
NodeRuntime.runMain(Cli.main(process.argv), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => onExit(Cli.exitCode(exit))
})
