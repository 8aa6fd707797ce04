/**
 * Patinox's entry for the peer framework benchmark (`../shared/peers-bench`,
 * contract at the top of its `patinox/patinox.mjs`): one agent with one tool,
 * `add`, run once per `runOnce` against the benchmark's fake OpenAI server.
 *
 * - `min`: no validators (`ValidationPipeline.passThrough`), a monitor that
 *   discards, no OpenTelemetry: what the peers run.
 * - `full`: the service's own layers on its default config: every default
 *   validator, the monitors, the SQLite telemetry store (a temp file) and
 *   OpenTelemetry, with the rate limits lifted so the benchmark is not throttled.
 *
 * Results and settings: `docs/peers.md`.
 */
import { Agent } from "@patinox/agent"
import { type DependencyGuard, LanguageModel, Monitor, Tool, ValidationPipeline } from "@patinox/core"
import { OpenAiLanguageModel } from "@patinox/provider-openai"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ConfigFile from "../apps/app/src/ConfigFile.js"
import * as Http from "../apps/app/src/Http.js"

export type Variant = "min" | "full"

export interface RunnerOptions {
  readonly baseURL: string
  readonly variant: string
  readonly instructions: string
  readonly input: string
  readonly addNumbers: (args: { readonly a: number; readonly b: number }) => number
}

export interface Runner {
  readonly runOnce: () => Promise<string>
  readonly dispose: () => Promise<void>
}

/** What `Agent.run` needs from context for an agent whose tools need nothing. */
type AgentServices = LanguageModel.LanguageModel | ValidationPipeline.ValidationPipeline | Monitor.Monitor

const modelName = "fake-model"

// The harness reads the runner's last stdout line as its result: only errors may be logged.
const quiet = Logger.minimumLogLevel(LogLevel.Error)

const modelLayer = (baseURL: string) => OpenAiLanguageModel.layer({ apiKey: undefined, baseURL, model: modelName })

const discard: Monitor.Service = { record: () => Effect.void }

const minLayer = (baseURL: string): Layer.Layer<AgentServices> =>
  Layer.mergeAll(
    modelLayer(baseURL).pipe(Layer.orDie),
    ValidationPipeline.passThrough,
    Layer.succeed(Monitor.Monitor, discard),
    quiet
  )

/** Buckets no benchmark run can empty, so that the rate limiter does its work without throttling. */
const unlimited = { capacity: 1e12, refillPerSecond: 1e12 }

/**
 * The service's stack beneath its HTTP server (`Http.withAgentServices`): the
 * tool switch over the circuit breaker, the validation pipeline, monitoring
 * and the telemetry store on one SQLite file, the OpenTelemetry SDK.
 */
const fullLayer = (baseURL: string, databasePath: string) =>
  Effect.map(
    ConfigFile.parse(
      JSON.stringify({
        database: { path: databasePath },
        validation: { rateLimit: { requests: unlimited, tokens: unlimited } }
      }),
      "(peer benchmark)"
    ),
    (file): Layer.Layer<AgentServices, unknown> =>
      // Passes on what the stack provides to it: the agent's services and the guard the loop looks for.
      Layer.effectContext(Effect.context<AgentServices | DependencyGuard.DependencyGuard>()).pipe(
        Http.withAgentServices(file, modelLayer(baseURL)),
        Layer.provide(quiet)
      )
  )

const isVariant = (variant: string): variant is Variant => variant === "min" || variant === "full"

/**
 * Builds the variant's services once into a runtime (the benchmark is a
 * runtime edge) and returns one agent run per `runOnce`.
 */
export const makeRunner = async (options: RunnerOptions): Promise<Runner> => {
  const { variant } = options
  if (!isVariant(variant)) throw new Error(`unknown variant "${variant}": min or full`)

  const add = Tool.make("add", {
    description: "Add two numbers",
    parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
    success: Schema.Number,
    handler: (args) => Effect.sync(() => options.addNumbers(args))
  })
  const agent = Agent.make("calculator").model(modelName).instructions(options.instructions).tools(add).build()

  const dir = variant === "full" ? mkdtempSync(join(tmpdir(), "patinox-peers-")) : undefined
  const layer = dir === undefined
    ? minLayer(options.baseURL)
    : await Effect.runPromise(fullLayer(options.baseURL, join(dir, "telemetry.db")))
  const runtime = ManagedRuntime.make(layer)
  // Built now, so that a start-up failure is reported before the warm-up, not inside it.
  await runtime.runtime()

  return {
    runOnce: () => runtime.runPromise(Effect.map(Agent.run(agent, options.input), (result) => result.answer)),
    dispose: async () => {
      await runtime.dispose()
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    }
  }
}
