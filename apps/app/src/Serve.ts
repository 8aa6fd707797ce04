/**
 * The service as one program: read the config, start the server, run until
 * a signal (graceful shutdown) or an agent's supervisor escalates. `main.ts`
 * and `patinox serve` run it.
 */
import { HttpServer } from "@effect/platform"
import { AgentRuntime } from "@patinox/agent"
import { LanguageModel } from "@patinox/core"
import { Cause, Context, Effect, Layer, Option, Predicate } from "effect"
import { resolve } from "node:path"
import { BehaviourDir } from "./Agents.js"
import * as AppConfig from "./AppConfig.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Demo from "./Demo.js"
import * as Http from "./Http.js"
import * as SimulatedModel from "./SimulatedModel.js"

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

/** How the service is started: `--demo` turns demo mode on whatever the config file says. */
export interface ServeOptions {
  readonly demo?: boolean | undefined
}

/** What the first-start message says, once the server listens. */
export interface Started {
  readonly url: string
  readonly model: { readonly provider: string; readonly name: string; readonly simulated: boolean }
  readonly database: string
  readonly behaviourDir: string
  readonly tokenRequired: boolean
  readonly demo: boolean
}

/** The first-start message: where the dashboard is, which model answers, where the data is kept. */
export const startedMessage = (started: Started): string =>
  [
    "Patinox is ready.",
    `  Dashboard:  ${started.url}`,
    `  Model:      ${started.model.simulated ? "simulated" : `${started.model.provider}/${started.model.name}`}` +
    (started.model.simulated ? " (offline; set OPENAI_API_KEY or OPENAI_BASE_URL for a real model)" : ""),
    `  Database:   ${started.database}`,
    `  Agents:     ${started.behaviourDir}`,
    `  API token:  ${started.tokenRequired ? "required (Authorization: Bearer <token>)" : "not required (loopback only)"}`,
    ...(started.demo ? ["  Demo mode:  on (a synthetic workload; turn it off before real use)"] : [])
  ].join("\n")

// A wildcard bind is reachable on every address; the browser on this machine reaches it on loopback.
const browsable = (host: string) => host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host

const service = (options: ServeOptions) =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const config = yield* AppConfig.load
      const file = yield* ConfigFile.load
      yield* Effect.logInfo(file.path === undefined ? "Config: embedded defaults" : `Config: ${file.path}`)
      // Relative paths resolve against the working directory, which depends on how the service was started.
      const database = resolve(file.config.database.path)
      yield* Effect.logInfo(`Database: ${database}`)
      const demo = options.demo === true || file.config.demo.enabled
      if (demo) yield* Demo.check(config)
      const layer = demo ? Demo.layer(Http.layer(config, Demo.configure(file.config))) : Http.layer(config, file.config)
      return Layer.tap(layer, (context) =>
        Effect.gen(function*() {
          const address = Context.get(context, HttpServer.HttpServer).address
          const model = Context.get(context, LanguageModel.LanguageModel)
          yield* Effect.logInfo(startedMessage({
            url: address._tag === "TcpAddress" ? `http://${browsable(config.host)}:${address.port}/` : "(a unix socket)",
            model: { provider: model.provider, name: model.model, simulated: model.provider === SimulatedModel.service.provider },
            database,
            behaviourDir: Context.get(context, BehaviourDir),
            tokenRequired: (config.apiToken ?? file.config.server.apiToken) !== undefined,
            demo
          }))
        }))
    })
  )

/**
 * Runs until interrupted (SIGINT/SIGTERM at the edge: graceful shutdown) or
 * until a supervisor escalates an agent that keeps crashing (a failure). A
 * configuration or start-up error is logged as its message, without a stack
 * trace.
 */
export const serveWith = (options: ServeOptions): Effect.Effect<void, unknown> =>
  Effect.scoped(
    Effect.flatMap(Layer.build(service(options)), (context) =>
      Effect.provide(Effect.flatMap(AgentRuntime.AgentRuntime, (runtime) => runtime.awaitEscalation), context))
  ).pipe(
    Effect.tapErrorCause((cause) =>
      Option.match(Cause.failureOption(cause), {
        onNone: () => Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("Patinox failed", cause),
        onSome: (error) => Effect.logError(`Patinox could not start: ${reason(error)}`)
      })
    )
  )

/** The service as configured (demo mode as the config file says). */
export const serve: Effect.Effect<void, unknown> = serveWith({})
