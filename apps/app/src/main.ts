/**
 * The one runtime edge: `pnpm --filter app start`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { AgentRuntime } from "@patinox/agent"
import { Cause, Effect, Layer, Option, Predicate } from "effect"
import { resolve } from "node:path"
import * as AppConfig from "./AppConfig.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Http from "./Http.js"

/**
 * The first non-empty message along an error's `cause` chain: the server's
 * `ServeError` has none of its own, the `listen` error beneath it says what
 * went wrong (`listen EADDRINUSE: address already in use 127.0.0.1:7070`).
 */
const reason = (error: unknown): string => {
  for (let current = error, depth = 0; current !== undefined && depth < 5; depth++) {
    if (current instanceof Error && current.message !== "") return current.message
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return String(error)
}

const main = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* AppConfig.load
    const file = yield* ConfigFile.load
    yield* Effect.logInfo(file.path === undefined ? "Config: embedded defaults" : `Config: ${file.path}`)
    // Relative paths resolve against the working directory, which depends on how the service was started.
    yield* Effect.logInfo(`Database: ${resolve(file.config.database.path)}`)
    return Http.layer(config, file.config)
  })
)

// Runs until a signal (SIGINT/SIGTERM: graceful shutdown, exit 0) or until a
// supervisor escalates an agent that keeps crashing (exit 1).
Effect.scoped(
  Effect.flatMap(Layer.build(main), (context) =>
    Effect.provide(Effect.flatMap(AgentRuntime.AgentRuntime, (runtime) => runtime.awaitEscalation), context))
).pipe(
  // A configuration or start-up error is reported as its message, without a stack trace.
  Effect.tapErrorCause((cause) =>
    Option.match(Cause.failureOption(cause), {
      onNone: () => Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("Patinox failed", cause),
      onSome: (error) => Effect.logError(`Patinox could not start: ${reason(error)}`)
    })
  ),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
