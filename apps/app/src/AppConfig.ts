/**
 * The service's configuration, from the environment, with embedded defaults
 * so that it starts on a fresh machine.
 */
import { Config, Effect, Option, Redacted } from "effect"

export interface AppConfig {
  readonly host: string
  readonly port: number
  /** True when a real OpenAI-compatible endpoint is configured. */
  readonly realModel: boolean
  /** PATINOX_API_TOKEN: takes precedence over the config file's `server.apiToken`. */
  readonly apiToken?: Redacted.Redacted<string> | undefined
  /** The built dashboard's folder, when not the one beside the service (`Dashboard.defaultDir`); tests build their own. */
  readonly dashboardDir?: string | undefined
}

const portFrom = (name: string) =>
  Config.option(
    Config.integer(name).pipe(
      Config.validate({ message: "must be a port number between 0 and 65535", validation: (p) => p >= 0 && p <= 65535 })
    )
  )

// PATINOX_PORT, else PORT, else 7070; a bad value in either is an error that names it, never a fallback.
const port = Effect.gen(function*() {
  const own = yield* portFrom("PATINOX_PORT")
  if (Option.isSome(own)) return own.value
  return Option.getOrElse(yield* portFrom("PORT"), () => 7070)
})

export const load: Effect.Effect<AppConfig, import("effect").ConfigError.ConfigError> = Effect.gen(function*() {
  const host = yield* Config.withDefault(Config.string("PATINOX_HOST"), "127.0.0.1")
  const apiKey = yield* Config.option(Config.redacted("OPENAI_API_KEY"))
  const baseUrl = yield* Config.option(Config.string("OPENAI_BASE_URL"))
  const realModel = Option.exists(apiKey, (k) => Redacted.value(k).trim() !== "") ||
    Option.exists(baseUrl, (u) => u.trim() !== "")
  const apiToken = yield* Config.option(Config.redacted("PATINOX_API_TOKEN"))
  return {
    host,
    port: yield* port,
    realModel,
    apiToken: Option.getOrUndefined(Option.filter(apiToken, (t) => Redacted.value(t).trim() !== ""))
  }
})
