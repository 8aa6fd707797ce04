/**
 * The one runtime edge: `pnpm --filter app start`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { AgentRuntime } from "@patinox/agent"
import { Cause, Effect, Layer, Option } from "effect"
import * as AppConfig from "./AppConfig.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Http from "./Http.js"

const main = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* AppConfig.load
    const file = yield* ConfigFile.load
    yield* Effect.logInfo(file.path === undefined ? "Config: embedded defaults" : `Config: ${file.path}`)
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
      onSome: (error) => Effect.logError(`Patinox could not start: ${error.message}`)
    })
  ),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
