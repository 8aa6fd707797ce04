/**
 * The service's config file: JSON or YAML (`.yaml` / `.yml`, with comments,
 * like the agents' behaviour files), decoded with a Schema so that a bad
 * value stops the service at start with the path of the offending key. Every
 * field has an embedded default, so the file is optional.
 *
 * Found at `PATINOX_CONFIG` if set (then it must exist), else
 * `./patinox.config.json` if present, else the defaults.
 */
import { LocalModelConfig } from "@patinox/local-model"
import { MetaConfig } from "@patinox/meta"
import { PatinoxConfig } from "@patinox/patinox"
import { Config, Data, Effect, Option, ParseResult, Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { parseDocument } from "yaml"

const Positive = Schema.Number.pipe(Schema.positive())
const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegative = Schema.Number.pipe(Schema.nonNegative())

export const AgentsConfig = Schema.Struct({
  /**
   * The folder of agents' behaviour files; relative to the config file's folder. Unset: the first
   * `agents/` folder from the working directory up (PATINOX_AGENTS_DIR overrides both).
   */
  behaviourDir: Schema.optional(Schema.NonEmptyTrimmedString),
  /** On shutdown, how long in-flight messages may take to finish before they are interrupted. */
  shutdownDeadlineMs: Schema.optionalWith(Positive, { default: () => 10_000 }),
  /** How many levels an agent may delegate through other agents (cycles stop here). */
  maxDelegationDepth: Schema.optionalWith(PositiveInt, { default: () => 3 }),
  /** How long an agent asking another waits for the answer. */
  askTimeoutMs: Schema.optionalWith(Positive, { default: () => 60_000 }),
  /** Bounds a whole run (model calls and their retries, tools, validators); past it the run fails. */
  runDeadlineMs: Schema.optionalWith(Positive, { default: () => 120_000 })
})

/** Who may call the service, and what a request may carry (see docs/http-api.md). */
export const ServerConfig = Schema.Struct({
  /** Required bearer token (overridden by PATINOX_API_TOKEN); needed to bind a non-loopback address. */
  apiToken: Schema.optional(Schema.Redacted(Schema.NonEmptyTrimmedString)),
  /** Origins answered with CORS headers; none by default, so browsers on other origins get no access. */
  allowedOrigins: Schema.optionalWith(Schema.Array(Schema.NonEmptyTrimmedString), { default: () => [] }),
  /** Larger request bodies get 413 before they are read. */
  maxBodyBytes: Schema.optionalWith(PositiveInt, { default: () => 1_048_576 }),
  /** Deeper JSON gets 400 before it is parsed (parsers and decoders recurse per level). */
  maxJsonDepth: Schema.optionalWith(PositiveInt.pipe(Schema.lessThanOrEqualTo(1_000)), { default: () => 64 })
})
export type ServerConfig = typeof ServerConfig.Type

/** `Patinox.layer`'s configuration, with the service's own sections: the server, the agents, the simulated model. */
export const ConfigFile = Schema.Struct({
  ...PatinoxConfig.PatinoxConfig.fields,
  server: Schema.optionalWith(ServerConfig, { default: () => ServerConfig.make({}) }),
  agents: Schema.optionalWith(AgentsConfig, { default: () => AgentsConfig.make({}) }),
  /** The offline simulated model (used when no real model is configured). */
  simulatedModel: Schema.optionalWith(
    Schema.Struct({
      /** Delay before each answer, to try the service under realistic latency (load, shutdown). */
      latencyMs: Schema.optionalWith(NonNegative, { default: () => 0 })
    }),
    { default: () => ({ latencyMs: 0 }) }
  ),
  /**
   * Demo mode (docs/demo.md): a synthetic workload on the simulated model, so that every dashboard
   * panel has data within a minute. `patinox serve --demo` turns it on too.
   */
  demo: Schema.optionalWith(
    Schema.Struct({ enabled: Schema.optionalWith(Schema.Boolean, { default: () => false }) }),
    { default: () => ({ enabled: false }) }
  ),
  /** The meta-layer: what `patinox analyze` reads, and the scheduled pass (docs/cli.md). */
  meta: Schema.optionalWith(MetaConfig.MetaConfig, { default: () => MetaConfig.defaults }),
  /**
   * Validators on local models (docs/local-model.md): a prompt-injection classifier and a grounding
   * cross-encoder, each loaded from a directory, never downloaded. Off unless a section is present.
   */
  localModel: Schema.optionalWith(LocalModelConfig.LocalModelConfig, { default: () => LocalModelConfig.disabled })
})
export type ConfigFile = typeof ConfigFile.Type

export class ConfigFileError extends Data.TaggedError("ConfigFileError")<{ readonly path: string; readonly reason: string }> {
  override get message() {
    return `Invalid config file ${this.path}: ${this.reason}`
  }
}

const decode = Schema.decodeUnknown(ConfigFile, { errors: "all", onExcessProperty: "error" })
const decodeJson = Schema.decodeUnknown(Schema.parseJson(ConfigFile), { errors: "all", onExcessProperty: "error" })

const isYaml = (path: string) => path.endsWith(".yaml") || path.endsWith(".yml")

/** Decodes config text (YAML when `path` ends in `.yaml` / `.yml`); errors name the file and every offending key path. */
export const parse = (text: string, path: string): Effect.Effect<ConfigFile, ConfigFileError> =>
  Effect.suspend((): Effect.Effect<ConfigFile, ParseResult.ParseError | ConfigFileError> => {
    if (!isYaml(path)) return decodeJson(text)
    const doc = parseDocument(text, { prettyErrors: true })
    const [first] = doc.errors
    // An empty YAML file is `null`: the defaults, like `{}`.
    return first === undefined ? decode(doc.toJS() ?? {}) : Effect.fail(new ConfigFileError({ path, reason: first.message }))
  }).pipe(
    Effect.mapError((error) =>
      error instanceof ConfigFileError ? error : new ConfigFileError({
        path,
        reason: ParseResult.ArrayFormatter.formatErrorSync(error)
          // An optional section's "or undefined" alternative adds nothing to the real issue beneath it.
          .filter((issue) => !issue.message.startsWith("Expected undefined"))
          .map((issue) => `${issue.path.length === 0 ? "(file)" : issue.path.join(".")}: ${issue.message}`)
          .join("; ")
      })
    )
  )

/** Finds and reads the config file, or returns the defaults. */
export const load: Effect.Effect<{ readonly config: ConfigFile; readonly path: string | undefined }, ConfigFileError | import("effect").ConfigError.ConfigError> =
  Effect.gen(function*() {
    const explicit = yield* Config.option(Config.string("PATINOX_CONFIG"))
    const path = Option.isSome(explicit) ? resolve(explicit.value) : resolve("patinox.config.json")
    if (Option.isNone(explicit) && !existsSync(path)) {
      return { config: yield* parse("{}", "(defaults)"), path: undefined }
    }
    const text = yield* Effect.try({
      try: () => readFileSync(path, "utf8"),
      catch: (error) => new ConfigFileError({ path, reason: error instanceof Error ? error.message : String(error) })
    })
    const config = yield* parse(text, path)
    const behaviourDir = config.agents.behaviourDir
    // A folder named in the file belongs with the file, wherever the service is started from.
    return {
      config: behaviourDir === undefined
        ? config
        : { ...config, agents: { ...config.agents, behaviourDir: resolve(dirname(path), behaviourDir) } },
      path
    }
  })
