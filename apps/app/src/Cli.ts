/**
 * `patinox`, the command line: `patinox analyze` runs the meta-layer's
 * analysis over the telemetry store, beside a running service or alone.
 *
 * Only commands and their effects live here; `cliMain.ts` runs them. See
 * docs/cli.md for usage and exit codes.
 */
import { Args, Command, Options, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { RunResult } from "@patinox/agent"
import type { LanguageModel } from "@patinox/core"
import { TelemetryQueries } from "@patinox/telemetry-store"
import { Analysis, BuiltInAnalysers, MetaConfig, type MetaLayer } from "@patinox/meta"
import { KnowledgeBase } from "@patinox/validation"
import {
  Cause,
  Clock,
  Duration,
  Config,
  Console,
  Data,
  Effect,
  Either,
  Exit,
  Layer,
  Logger,
  LogLevel,
  Option,
  Schedule
} from "effect"
import { existsSync, readFileSync } from "node:fs"
import { basename, resolve } from "node:path"
import { Agents, BehaviourDir } from "./Agents.js"
import * as AppConfig from "./AppConfig.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Eval from "./Eval.js"
import * as Http from "./Http.js"
import * as Meta from "./Meta.js"
import * as Serve from "./Serve.js"

/**
 * Why the command stopped, with its exit code: 1 when a pass failed, 2 for
 * bad usage, a bad config file or a missing database. The message is printed
 * as is, never with a stack trace.
 */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string; readonly exitCode: 1 | 2 }> {}

const usage = (message: string) => new CliError({ message, exitCode: 2 })

/** The analysers a pass runs: the built-in ones, with the config's thresholds. */
export const analysersLayer = (config: MetaConfig.MetaConfig): Layer.Layer<Analysis.Analysers> =>
  BuiltInAnalysers.layer(config)

/** What one pass reads: the meta config (thresholds, analysers) and the window's length. */
export interface AnalyzeOptions {
  readonly meta: MetaConfig.MetaConfig
  readonly windowHours: number
}

/** One pass's outcome, as `--json` prints it; `proposals` and `skipped` only when the pass proposes. */
export interface PassResult {
  readonly window: { readonly since: number; readonly until: number }
  readonly events: number
  readonly findings: ReadonlyArray<Analysis.Finding>
  readonly failures: ReadonlyArray<{ readonly analyser: string; readonly message: string }>
  readonly proposals?: ReadonlyArray<MetaLayer.Proposed> | undefined
  readonly skipped?: ReadonlyArray<{ readonly findingKey: string; readonly reason: string }> | undefined
}

/** How many events the store holds in the window: a pass's context, and its progress between passes. */
const eventsIn = (window: Analysis.Window) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE ts >= ? AND ts < ?", [window.since, window.until])).pipe(
      Effect.map(([counted]) => counted?.n ?? 0)
    )

/**
 * One analysis pass over the window ending now. This is the pass `analyze`
 * and `analyze --watch` repeat: the full meta pass (analyse, plan, replay,
 * publish) replaces its body.
 */
export const analyzeOnce = (options: AnalyzeOptions): Effect.Effect<PassResult, CliError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const window = Analysis.windowEndingAt(yield* Clock.currentTimeMillis, options.windowHours)
    const { failures, findings } = yield* Analysis.run(window).pipe(Effect.provide(analysersLayer(options.meta)))
    return {
      window: { since: window.since, until: window.until },
      events: yield* eventsIn(window),
      findings,
      failures: failures.map(({ analyser, error }) => ({ analyser, message: error.message }))
    }
  }).pipe(
    Effect.catchTag("SqlError", (error) =>
      Effect.fail(new CliError({ message: `analysis pass failed: ${causeMessage(error)}`, exitCode: 1 }))),
    Effect.withSpan("patinox analyze pass")
  )

/** The SQLite error beneath an `SqlError` says what happened ("database is locked"); the wrapper does not. */
const causeMessage = (error: { readonly message: string; readonly cause?: unknown }): string =>
  error.cause instanceof Error ? error.cause.message : error.message

/** How long a read waits on a lock held by the writer (a checkpoint, a WAL recovery) before it fails. */
const BUSY_TIMEOUT_MS = 5_000

/**
 * The store's file for a pass. Read-only for `--findings-only`: no writes
 * at all, safe beside a live service. Otherwise read-write for the
 * proposals a pass records, but still no migrations, retention or WAL
 * switch: the service owns the schema. A missing file or one that is not a
 * store (or predates proposals) is a usage error, not a failed pass.
 */
export const openStore = (file: string, mode: "read" | "write" | "propose"): Layer.Layer<SqlClient.SqlClient, CliError> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    if (!existsSync(file)) {
      return yield* usage(`database not found: ${file} (set database.path in the config file, or pass --db)`)
    }
    const needed = mode === "propose" ? ["events", "proposals"] : ["events"]
    const checked = Layer.effectDiscard(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
      const tables = new Set((yield* sql.unsafe<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
      )).map((row) => row.name))
      const missing = needed.filter((table) => !tables.has(table))
      if (missing.length > 0) {
        return yield* usage(
          `not a Patinox telemetry store, or one older than this version (no ${missing.join(", ")} table): ${file}; ` +
            "start the service on it once to upgrade it"
        )
      }
    }).pipe(
      Effect.catchTag("SqlError", (error) => Effect.fail(usage(`cannot read ${file}: ${causeMessage(error)}`)))
    ))
    return checked.pipe(
      Layer.provideMerge(
        SqliteClient.layer(mode === "read" ? { filename: file, readonly: true, disableWAL: true } : { filename: file, disableWAL: true })
      ),
      Layer.catchAll((error) =>
        Layer.fail(error instanceof CliError ? error : usage(`cannot open ${file}: ${causeMessage(error)}`))
      )
    )
  }))

/** The read-only store of `--findings-only`. */
export const readOnlyStore = (file: string) => openStore(file, "read")

/**
 * The full pass: analyse, plan, replay, record and publish, against the
 * behaviour folder the service uses, with the model the service would use.
 */
export const proposeOnce = (
  options: AnalyzeOptions & { readonly behaviourDir: string }
): Effect.Effect<PassResult, CliError, SqlClient.SqlClient | LanguageModel.LanguageModel | KnowledgeBase.KnowledgeBase> =>
  Effect.gen(function*() {
    const meta = { ...options.meta, analysisWindowHours: options.windowHours }
    const report = yield* Meta.passOnce(meta, options.behaviourDir)
    return {
      window: { since: report.window.since, until: report.window.until },
      events: yield* eventsIn(report.window),
      findings: report.findings,
      failures: report.failures,
      proposals: report.proposals,
      skipped: report.skipped
    }
  }).pipe(
    Effect.mapError((error) =>
      new CliError({
        message: `meta pass failed: ${error._tag === "SqlError" ? causeMessage(error) : error.message}`,
        exitCode: 1
      })
    ),
    Effect.withSpan("patinox analyze pass")
  )

/** `meta.schedule` (or `--every`): an interval (`"1 hour"`) or a cron expression (`"0 3 * * *"`, UTC). */
export const scheduleOf = (text: string, key: string): Either.Either<Schedule.Schedule<unknown>, CliError> =>
  Either.mapLeft(MetaConfig.schedule(text.trim()), (reason) => usage(`${key}: ${reason}`))

/** Control characters in names from telemetry (untrusted) would drive the terminal: shown escaped. */
const printable = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const targetText = (target: Analysis.Target): string =>
  [
    ...(target.agent === undefined ? [] : [`agent:${target.agent}`]),
    ...(target.tool === undefined ? [] : [`tool:${target.tool}`]),
    ...(target.model === undefined ? [] : [`model:${target.model}`])
  ].join(" ") || "-"

/** The human form of a pass: a heading, then one row per finding and per failed analyser. */
export const table = (result: PassResult): string => {
  const heading = `${new Date(result.window.since).toISOString()} .. ${new Date(result.window.until).toISOString()}: ` +
    `${result.events} events, ${result.findings.length} findings, ${result.failures.length} failed analysers`
  const rows = result.findings.map((f) => [f.kind, targetText(f.target), f.summary].map(printable))
  const lines = [heading]
  if (rows.length > 0) {
    const header = ["KIND", "TARGET", "SUMMARY"]
    const widths = [0, 1].map((i) => Math.max(header[i]?.length ?? 0, ...rows.map((row) => row[i]?.length ?? 0)))
    const line = (row: ReadonlyArray<string>) =>
      row.map((cell, i) => i < 2 ? cell.padEnd(widths[i] ?? 0) : cell).join("  ").trimEnd()
    lines.push(line(header), ...rows.map(line))
  }
  for (const failure of result.failures) lines.push(printable(`failed: ${failure.analyser}: ${failure.message}`))
  for (const p of result.proposals ?? []) {
    const where = p.ref === undefined ? `not published (${p.publishError ?? "no publisher"})` : p.ref.url ?? `branch ${p.ref.branch}`
    lines.push(printable(
      `${p.created ? "proposed" : "updated"} ${p.id}: ${p.title}; replayed gain ${(p.replayGain * 100).toFixed(0)} %; ${where}`
    ))
  }
  for (const skipped of result.skipped ?? []) lines.push(printable(`no proposal for ${skipped.findingKey}: ${skipped.reason}`))
  return lines.join("\n")
}

const print = (result: PassResult, json: boolean) => Console.log(json ? JSON.stringify(result) : table(result))

/** A pass whose analysers failed still printed its findings; it fails afterwards, for the exit code. */
const failedAnalysers = (result: PassResult): Effect.Effect<void, CliError> =>
  result.failures.length === 0 ? Effect.void : Effect.fail(
    new CliError({
      message: `${result.failures.length} analyser(s) failed: ${result.failures.map((f) => f.analyser).join(", ")}`,
      exitCode: 1
    })
  )

const configFile = ConfigFile.load.pipe(
  Effect.mapError((error) => usage(error._tag === "ConfigFileError" ? error.message : `PATINOX_CONFIG: ${String(error)}`))
)

/** The store's file: `--db`, else the config file's `database.path`, from the working directory. */
const dbOption = Options.text("db").pipe(
  Options.withPseudoName("path"),
  Options.withDescription("The telemetry store's SQLite file; overrides database.path of the config file."),
  Options.optional
)

const analyze = Command.make(
  "analyze",
  {
    db: dbOption,
    windowHours: Options.float("window-hours").pipe(
      Options.withPseudoName("hours"),
      Options.withDescription("Hours of telemetry to analyse, ending now; overrides meta.analysisWindowHours."),
      Options.optional
    ),
    json: Options.boolean("json").pipe(
      Options.withDescription("One JSON object per pass on stdout instead of a table.")
    ),
    watch: Options.boolean("watch").pipe(
      Options.withDescription("Repeat the pass on meta.schedule (or --every) until SIGINT / SIGTERM.")
    ),
    every: Options.text("every").pipe(
      Options.withPseudoName("duration"),
      Options.withDescription("With --watch: the interval between passes (\"30 minutes\"), instead of meta.schedule."),
      Options.optional
    ),
    findingsOnly: Options.boolean("findings-only").pipe(
      Options.withDescription("Only analyse (read-only): no planning, replay, proposals or publishing.")
    )
  },
  (args) =>
    Effect.gen(function*() {
      const { config, path } = yield* configFile
      yield* Effect.logDebug(path === undefined ? "Config: embedded defaults" : `Config: ${path}`)
      const windowHours = Option.getOrElse(args.windowHours, () => config.meta.analysisWindowHours)
      if (!(windowHours > 0)) return yield* usage(`--window-hours must be positive, got ${windowHours}`)
      if (Option.isSome(args.every) && !args.watch) return yield* usage("--every needs --watch")
      const schedule = args.watch
        ? yield* Option.match(args.every, {
          onNone: () => scheduleOf(config.meta.schedule, "meta.schedule"),
          onSome: (every) => scheduleOf(every, "--every")
        })
        : undefined
      // Relative paths resolve against the working directory, as the service resolves database.path.
      const file = resolve(Option.getOrElse(args.db, () => config.database.path))
      yield* Effect.logDebug(`Database: ${file}${args.findingsOnly ? " (read-only)" : ""}`)
      const options: AnalyzeOptions = { meta: config.meta, windowHours }
      const once = (pass: Effect.Effect<PassResult, CliError, SqlClient.SqlClient>) => {
        const printed = Effect.tap(pass, (result) => print(result, args.json))
        return schedule === undefined
          ? Effect.flatMap(printed, failedAnalysers)
          : Effect.repeat(
            // A failed pass is reported and the next one still runs: a watch outlives a bad moment.
            printed.pipe(
              Effect.flatMap(failedAnalysers),
              Effect.catchAll((error) => Effect.logError(error.message))
            ),
            schedule
          )
      }
      if (args.findingsOnly) return yield* Effect.provide(once(analyzeOnce(options)), readOnlyStore(file))
      const app = yield* AppConfig.load.pipe(Effect.mapError((error) => usage(String(error))))
      const behaviourDir = yield* Effect.provide(BehaviourDir, BehaviourDir.layer(config.agents.behaviourDir))
      return yield* Effect.gen(function*() {
        const services = yield* Effect.context<LanguageModel.LanguageModel | KnowledgeBase.KnowledgeBase>()
        return yield* once(Effect.provide(proposeOnce({ ...options, behaviourDir }), services))
      }).pipe(
        Effect.provide(
          Layer.merge(
            Http.modelLayer(app, config.simulatedModel),
            KnowledgeBase.layer
          ).pipe(
            Layer.mapError((error) => usage(error.message)),
            Layer.provideMerge(openStore(file, "propose"))
          )
        )
      )
    })
).pipe(Command.withDescription(
  "Run a meta-layer pass over the telemetry store: analyse, plan, replay, and propose edits of the behaviour files."
))

const jsonOption = Options.boolean("json").pipe(Options.withDescription("Print JSON on stdout instead of text."))

const serve = Command.make(
  "serve",
  {
    demo: Options.boolean("demo").pipe(
      Options.withDescription("Demo mode: a synthetic workload on the simulated model (docs/demo.md).")
    )
  },
  (args) => Serve.serveWith({ demo: args.demo })
).pipe(Command.withDescription("Start the service (the same as `pnpm --filter app start`)."))

/** A run as a few lines: each step with its timing and tokens, then the totals. */
export const trace = (result: RunResult.RunResult): string => {
  const lines = result.steps.map((step) => {
    switch (step._tag) {
      case "ModelStep":
        return `  ${step.step} model ${step.model} -> ${step.toolCalls.length > 0 ? step.toolCalls.join(", ") : step.finishReason} ` +
          `(${step.latencyMs.toFixed(0)} ms, ${step.usage.inputTokens}+${step.usage.outputTokens} tokens)`
      case "ToolStep":
        return `  ${step.step} tool ${step.tool} ${step.isError ? "failed" : "ok"} (${step.latencyMs.toFixed(0)} ms)`
      case "RevisionStep":
        return `  ${step.step} ${step.validator} sent back the ${step.stage.replace("_", " ")}: ${step.feedback.split("\n")[0] ?? ""}`
    }
  })
  return [
    result.answer,
    ...lines,
    `run ${result.runId}: ${result.steps.length} steps, ${result.usage.inputTokens}+${result.usage.outputTokens} tokens, ` +
    `${result.durationMs.toFixed(0)} ms`
  ].map(printable).join("\n")
}

const run = Command.make(
  "run",
  { agent: Args.text({ name: "agent" }), input: Args.text({ name: "input" }), json: jsonOption },
  (args) =>
    Effect.gen(function*() {
      const { config } = yield* configFile
      const app = yield* AppConfig.load.pipe(Effect.mapError((error) => usage(String(error))))
      const agents = Http.agentsLayer(config).pipe(
        Http.withAgentServices(config, Http.modelLayer(app, config.simulatedModel)),
        Layer.mapError((error) => usage(error instanceof Error ? error.message : String(error)))
      )
      yield* Effect.gen(function*() {
        const hosted = yield* Agents
        const agent = hosted.get(args.agent)
        if (agent === undefined) {
          return yield* usage(`unknown agent "${args.agent}"; the service has: ${hosted.list.map((a) => a.name).join(", ")}`)
        }
        const result = yield* agent.run(args.input, { deadline: Duration.millis(config.agents.runDeadlineMs) }).pipe(
          Effect.mapError((error) => new CliError({ message: `${error._tag}: ${error.message}`, exitCode: 1 }))
        )
        yield* Console.log(args.json ? JSON.stringify(result) : trace(result))
      }).pipe(Effect.provide(agents))
    })
).pipe(Command.withDescription("Run one agent on one input, as the service would, and print its answer and steps."))

const stats = Command.make(
  "stats",
  {
    db: dbOption,
    minutes: Options.integer("minutes").pipe(
      Options.withDescription("The window, in minutes up to now."),
      Options.withDefault(60)
    ),
    json: jsonOption
  },
  (args) =>
    Effect.gen(function*() {
      const { config } = yield* configFile
      if (args.minutes <= 0) return yield* usage(`--minutes must be positive, got ${args.minutes}`)
      const file = resolve(Option.getOrElse(args.db, () => config.database.path))
      const summary = yield* Effect.gen(function*() {
        const queries = yield* TelemetryQueries.TelemetryQueries
        const window = { since: (yield* Clock.currentTimeMillis) - args.minutes * 60_000 }
        return {
          windowMinutes: args.minutes,
          tools: yield* queries.latencyPercentiles("tool", window),
          models: yield* queries.latencyPercentiles("model", window),
          toolErrors: yield* queries.errorRates("tool", window),
          tokensByAgent: yield* queries.tokenUsage("agent", window),
          decisions: yield* queries.decisionCounts(window)
        }
      }).pipe(
        Effect.mapError((error) => new CliError({ message: error.message, exitCode: 1 })),
        Effect.provide(TelemetryQueries.layer.pipe(Layer.provideMerge(readOnlyStore(file))))
      )
      if (args.json) return yield* Console.log(JSON.stringify(summary))
      const errors = new Map(summary.toolErrors.map((e) => [e.key, e.rate] as const))
      const lines = [
        `last ${args.minutes} min`,
        ...summary.tools.map((t) =>
          `tool  ${t.key}: ${t.count} calls, p50 ${t.p50.toFixed(0)} ms, p95 ${t.p95.toFixed(0)} ms, ` +
          `errors ${((errors.get(t.key) ?? 0) * 100).toFixed(1)} %`
        ),
        ...summary.models.map((m) => `model ${m.key}: ${m.count} calls, p50 ${m.p50.toFixed(0)} ms, p95 ${m.p95.toFixed(0)} ms`),
        ...summary.tokensByAgent.map((u) => `agent ${u.key}: ${u.calls} model calls, ${u.tokensIn}+${u.tokensOut} tokens`),
        ...summary.decisions.map((d) => `validator ${d.validator}: ${d.decision} ${d.count}`)
      ]
      yield* Console.log(lines.map(printable).join("\n"))
    })
).pipe(Command.withDescription("Latency, errors, tokens and validator decisions from the store (read-only)."))

const knowledgeAdd = Command.make(
  "add",
  {
    file: Args.file({ name: "file", exists: "yes" }),
    title: Options.text("title").pipe(Options.withDescription("The document's title; its file name otherwise."), Options.optional),
    db: dbOption,
    json: jsonOption
  },
  (args) =>
    Effect.gen(function*() {
      const { config } = yield* configFile
      const text = yield* Effect.try({
        try: () => readFileSync(args.file, "utf8"),
        catch: (error) => usage(`cannot read ${args.file}: ${error instanceof Error ? error.message : String(error)}`)
      })
      if (text.trim() === "") return yield* usage(`${args.file} is empty`)
      const store = resolve(Option.getOrElse(args.db, () => config.database.path))
      const added = yield* Effect.gen(function*() {
        const knowledge = yield* KnowledgeBase.KnowledgeBase
        const id = yield* knowledge.add({ title: Option.getOrElse(args.title, () => basename(args.file)), source: args.file, text })
        return { id, documents: yield* knowledge.count }
      }).pipe(
        Effect.mapError((error) => new CliError({ message: error.message, exitCode: 1 })),
        Effect.provide(KnowledgeBase.layer.pipe(
          Layer.mapError((error) => new CliError({ message: error.message, exitCode: 1 })),
          Layer.provideMerge(openStore(store, "write"))
        ))
      )
      yield* Console.log(args.json ? JSON.stringify(added) : `added ${added.id} (${added.documents} documents in the knowledge base)`)
    })
).pipe(Command.withDescription("Add a text file to the knowledge base (redacted before it is stored)."))

const knowledge = Command.make("knowledge").pipe(
  Command.withDescription("The knowledge base the hallucination validator and search_documents read."),
  Command.withSubcommands([knowledgeAdd])
)

const evalFile = (name: string, description: string) =>
  Options.file(name).pipe(Options.withPseudoName("file"), Options.withDescription(description), Options.optional)

const evaluate = Command.make(
  "eval",
  {
    prompts: evalFile("prompts", "Prompt-guard rows (JSON Lines); default ../shared/eval/prompts_dev.jsonl beside the repository."),
    hallucination: evalFile(
      "hallucination",
      "Hallucination rows (JSON Lines); default ../shared/eval/hallucination_dev.jsonl beside the repository."
    ),
    json: Options.file("json").pipe(
      Options.withPseudoName("out"),
      Options.withDescription("Also write the figures as one JSON object to this file."),
      Options.optional
    ),
    only: Options.choice("only", ["prompts", "hallucination"]).pipe(
      Options.withDescription("Run only one of the two evaluations."),
      Options.optional
    ),
    loso: Options.boolean("loso").pipe(
      Options.withDescription(
        "Also score the prompt guard leave-one-source-out (both dev files with the default; retrains per source: minutes)."
      )
    )
  },
  (args) =>
    Effect.gen(function*() {
      const defaults = Eval.defaultFiles()
      // Relative paths resolve against the working directory, as every other command's.
      yield* Eval.run({
        prompts: resolve(Option.getOrElse(args.prompts, () => defaults.prompts)),
        hallucination: resolve(Option.getOrElse(args.hallucination, () => defaults.hallucination)),
        json: Option.getOrUndefined(Option.map(args.json, (out) => resolve(out))),
        only: Option.getOrUndefined(args.only),
        ...(args.loso ? { loso: true } : {})
      }).pipe(
        Effect.catchTags({
          EvalFileMissing: (error) => Effect.fail(usage(error.message)),
          EvalFailed: (error) => Effect.fail(new CliError({ message: error.message, exitCode: 1 }))
        })
      )
    })
).pipe(Command.withDescription(
  "Evaluate the guardrails offline: the prompt guard and the hallucination detector on JSON Lines files."
))

const patinox = Command.make("patinox").pipe(
  Command.withSubcommands([serve, run, stats, knowledge, analyze, evaluate])
)

const cli = Command.run(patinox, { name: "patinox", version: "0.1.0" })

/** `LOG_LEVEL` (debug, info, warning, error, none), default info. */
const logLevel = Config.withDefault(Config.logLevel("LOG_LEVEL"), LogLevel.Info).pipe(
  Effect.mapError((error) => usage(`LOG_LEVEL: ${String(error)}`))
)

/**
 * The whole command line: `argv` as `process.argv`. Logs go to stderr, so
 * that stdout holds only results; a failure's message is printed once,
 * without a stack trace.
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<void, unknown> =>
  Effect.flatMap(logLevel, (level) => cli(argv).pipe(Logger.withMinimumLogLevel(level))).pipe(
    Effect.tapErrorCause((cause) =>
      Option.match(Cause.failureOption(cause), {
        onNone: () => Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause)),
        // @effect/cli has already printed what was wrong with the arguments.
        onSome: (error) => error instanceof CliError ? Console.error(`patinox: ${error.message}`) : Effect.void
      })
    ),
    Effect.provide(Layer.merge(
      NodeContext.layer,
      Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))
    ))
  )

/** The exit code for how `main` ended: 0 done or stopped by a signal, 1 a failed pass, 2 bad usage. */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.match(exit, {
    onSuccess: () => 0,
    onFailure: (cause) => {
      if (Cause.isInterruptedOnly(cause)) return 0
      const error = Option.getOrUndefined(Cause.failureOption(cause))
      if (error instanceof CliError) return error.exitCode
      return ValidationError.isValidationError(error) ? 2 : 1
    }
  })
