/**
 * The one runtime edge of the service: `pnpm --filter app start` (`-- --demo`
 * for demo mode, docs/demo.md).
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Serve from "./Serve.js"

// Runs until a signal (SIGINT/SIGTERM: graceful shutdown, exit 0) or until a
// supervisor escalates an agent that keeps crashing (exit 1).
NodeRuntime.runMain(Serve.serveWith({ demo: process.argv.slice(2).includes("--demo") }), { disableErrorReporting: true })
