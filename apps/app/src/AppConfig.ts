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
}

const port = Config.integer("PATINOX_PORT").pipe(
  Config.orElse(() => Config.integer("PORT")),
  Config.withDefault(7070),
  Config.validate({ message: "must be a port number between 0 and 65535", validation: (p) => p >= 0 && p <= 65535 })
)

export const load: Effect.Effect<AppConfig, import("effect").ConfigError.ConfigError> = Effect.gen(function*() {
  const host = yield* Config.withDefault(Config.string("PATINOX_HOST"), "127.0.0.1")
  const apiKey = yield* Config.option(Config.redacted("OPENAI_API_KEY"))
  const baseUrl = yield* Config.option(Config.string("OPENAI_BASE_URL"))
  const realModel = Option.exists(apiKey, (k) => Redacted.value(k).trim() !== "") ||
    Option.exists(baseUrl, (u) => u.trim() !== "")
  return { host, port: yield* port, realModel }
})
