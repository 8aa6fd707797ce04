/**
 * The service as one program: read the config, start the server, run until
 * a signal (graceful shutdown) or an agent's supervisor escalates. `main.ts`
 * and `patinox serve` run it.
 */
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

const service = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* AppConfig.load
    const file = yield* ConfigFile.load
    yield* Effect.logInfo(file.path === undefined ? "Config: embedded defaults" : `Config: ${file.path}`)
    // Relative paths resolve against the working directory, which depends on how the service was started.
    yield* Effect.logInfo(`Database: ${resolve(file.config.database.path)}`)
    return Http.layer(config, file.config)
  })
)

/**
 * Runs until interrupted (SIGINT/SIGTERM at the edge: graceful shutdown) or
 * until a supervisor escalates an agent that keeps crashing (a failure). A
 * configuration or start-up error is logged as its message, without a stack
 * trace.
 */
export const serve: Effect.Effect<void, unknown> = Effect.scoped(
  Effect.flatMap(Layer.build(service), (context) =>
    Effect.provide(Effect.flatMap(AgentRuntime.AgentRuntime, (runtime) => runtime.awaitEscalation), context))
).pipe(
  Effect.tapErrorCause((cause) =>
    Option.match(Cause.failureOption(cause), {
      onNone: () => Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("Patinox failed", cause),
      onSome: (error) => Effect.logError(`Patinox could not start: ${reason(error)}`)
    })
  )
)
