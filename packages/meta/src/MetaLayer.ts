/**
 * The loop: monitor → analyse → plan → execute. One pass reads a window of
 * the store, runs the analysers, plans at most one improvement per finding,
 * verifies it (the edited files decode, a replay of recorded inputs shows
 * the gain), stores it as a proposal (an open proposal for the same finding
 * is updated, not duplicated; a dismissed one is not proposed again) and
 * publishes it. `layer` runs passes on the configured schedule in the
 * host's scope; `patinox analyze` runs the same pass in another process.
 *
 * Nothing here merges: publishers merge only with `meta.autoMerge` on.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Hash } from "@patinox/core"
import type { TelemetryStoreError } from "@patinox/telemetry-store/TelemetryStoreError"
import { Clock, Effect, Either, Layer, Option } from "effect"
import * as Analysis from "./Analysis.js"
import * as Behaviour from "./Behaviour.js"
import { type MetaConfig, schedule } from "./MetaConfig.js"
import * as Plan from "./Plan.js"
import * as ProposalStore from "./ProposalStore.js"
import type { FileChange, Proposal } from "./publish/Proposal.js"
import { Publisher, type PublishedRef } from "./publish/Publisher.js"
import * as Replay from "./Replay.js"

/** @since 0.1.0 @category models */
export interface Options {
  readonly config: MetaConfig
  /** The behaviour folder, as the host loaded it. */
  readonly behaviourDir: string
  /** A loaded file's path as the publisher names it (relative to the repository's root). */
  readonly pathInRepo: (file: string) => string
}

/** One proposal a pass made or updated. @since 0.1.0 @category models */
export interface Proposed {
  readonly id: string
  readonly findingKey: string
  readonly title: string
  readonly created: boolean
  readonly expectedGain: number
  readonly replayGain: number
  readonly ref: PublishedRef | undefined
  /** Why publishing failed; the proposal is stored and the next pass publishes it again. */
  readonly publishError: string | undefined
}

/** @since 0.1.0 @category models */
export interface PassReport {
  readonly window: Analysis.Window
  readonly findings: ReadonlyArray<Analysis.Finding>
  readonly failures: ReadonlyArray<{ readonly analyser: string; readonly message: string }>
  readonly proposals: ReadonlyArray<Proposed>
  /** Findings that yielded no proposal, and why. */
  readonly skipped: ReadonlyArray<{ readonly findingKey: string; readonly reason: string }>
}

/** Applies an improvement's edits, file by file, through the comment-preserving editor. */
const applyEdits = (improvement: Plan.Improvement, texts: ReadonlyMap<string, string>) =>
  Effect.gen(function*() {
    const edited = new Map<string, string>()
    for (const edit of improvement.edits) {
      const text = edited.get(edit.file) ?? texts.get(edit.file)
      if (text === undefined) {
        return yield* new Behaviour.BehaviourFileError({ file: edit.file, key: "", reason: "not a loaded behaviour file" })
      }
      edited.set(edit.file, yield* Behaviour.edit(text, edit.path, edit.value, edit.file))
    }
    return edited
  })

const message = (error: { readonly message: string }) => error.message

// Keys whose change alters what the model is sent: its instructions, a tool's description, the model.
const promptKeys = new Set(["instructions", "description", "model", "modelParameters"])

/** Whether an improvement changes what the model sees, so that recorded responses no longer apply. */
export const touchesPrompt = (improvement: Plan.Improvement): boolean =>
  improvement.edits.some((edit) =>
    edit.path.some((key) => typeof key === "string" && promptKeys.has(key)) ||
    // Removing a tool changes the tool list the model is offered.
    (edit.path[0] === "tools" && edit.path.length === 2 && edit.value === undefined)
  )

/**
 * What stops a pass: the behaviour folder cannot be loaded, or the store
 * cannot be read or written. Everything about a single finding (planning,
 * editing, replay, publishing) is reported in the pass instead.
 *
 * @since 0.1.0 @category errors
 */
export type PassError = Behaviour.BehaviourFileError | TelemetryStoreError | ProposalStore.ProposalNotFound

/**
 * One pass over the window ending now.
 *
 * @since 0.1.0 @category running
 */
export const pass = (options: Options): Effect.Effect<
  PassReport,
  PassError,
  Analysis.Analysers | SqlClient.SqlClient | Replay.Replayer | Publisher | ProposalStore.ProposalStore
> =>
  Effect.gen(function*() {
    const { config } = options
    const now = yield* Clock.currentTimeMillis
    const window = Analysis.windowEndingAt(now, config.analysisWindowHours)
    const { findings, failures } = yield* Analysis.run(window)
    yield* Effect.logInfo(`meta: ${findings.length} finding(s) in the last ${config.analysisWindowHours} h`)
    const files = yield* Behaviour.load(options.behaviourDir)
    const texts = new Map(files.map(({ file, text }) => [file, text] as const))
    const replayer = yield* Replay.Replayer
    const publisher = yield* Publisher
    const store = yield* ProposalStore.ProposalStore

    const proposals: Array<Proposed> = []
    const skipped: Array<{ findingKey: string; reason: string }> = []
    const skip = (finding: Analysis.Finding, reason: string) =>
      Effect.zipRight(
        Effect.sync(() => skipped.push({ findingKey: finding.key, reason })),
        Effect.logDebug(`meta: ${finding.key}: ${reason}`)
      )

    for (const finding of findings) {
      const planned = yield* Effect.either(Plan.plan(finding, files, window))
      if (Either.isLeft(planned)) {
        yield* skip(finding, `planning failed: ${planned.left.message}`)
        continue
      }
      if (Option.isNone(planned.right)) {
        yield* skip(finding, "no edit of the behaviour files addresses it")
        continue
      }
      const improvement = planned.right.value
      if (improvement.expectedGain < config.improvementThreshold) {
        yield* skip(finding, `expected gain ${improvement.expectedGain.toFixed(3)} below ${config.improvementThreshold}`)
        continue
      }
      const edited = yield* Effect.either(applyEdits(improvement, texts))
      if (Either.isLeft(edited)) {
        yield* skip(finding, `the edit does not validate: ${edited.left.message}`)
        continue
      }
      const changes: ReadonlyArray<FileChange> = [...edited.right].map(([file, after]) => ({
        path: options.pathInRepo(file),
        before: texts.get(file) ?? "",
        after
      }))
      if (yield* store.wasDismissed(finding.key, changes)) {
        yield* skip(finding, "a person dismissed the same proposal")
        continue
      }

      // Verify: the same recorded inputs against the files as they are and as edited.
      const inputs = yield* Effect.either(Replay.sample(improvement.agents, window, config.replay.sampleSize))
      if (Either.isLeft(inputs) || inputs.right.length === 0) {
        yield* skip(finding, "no recorded inputs to replay")
        continue
      }
      const current = [...texts].map(([file, text]) => ({ file, text }))
      const candidate = current.map(({ file, text }) => ({ file, text: edited.right.get(file) ?? text }))
      // The recording stands in for the model only while the model would see the same prompt.
      const mode: Replay.Mode = !touchesPrompt(improvement) && inputs.right.every((i) => i.responses !== undefined)
        ? "recorded"
        : "model"
      const replayed = yield* Effect.either(Effect.all([
        replayer.replay(current, inputs.right, mode),
        replayer.replay(candidate, inputs.right, mode)
      ]))
      if (Either.isLeft(replayed)) {
        yield* skip(finding, `replay failed: ${replayed.left.reason}`)
        continue
      }
      const before = Replay.measure(replayed.right[0])
      const after = Replay.measure(replayed.right[1])
      const measured = Replay.gain(improvement.objective, before, after)
      if (measured.regression !== undefined) {
        yield* skip(finding, `replay: ${measured.regression}`)
        yield* Effect.logDebug("meta: replay figures", {
          before: Replay.figures(improvement.objective, before),
          after: Replay.figures(improvement.objective, after),
          edits: improvement.edits
        })
        continue
      }
      if (measured.gain < config.improvementThreshold) {
        yield* skip(finding, `replayed gain ${measured.gain.toFixed(3)} below ${config.improvementThreshold}`)
        continue
      }

      const proposal: Proposal = {
        id: `p-${Hash.fnv1a(finding.key).toString(36)}-${now.toString(36)}`,
        findingKey: finding.key,
        title: improvement.title,
        files: changes,
        evidence: {
          query: finding.query + (finding.parameters.length === 0 ? "" : `\n-- parameters: ${JSON.stringify(finding.parameters)}`),
          before: finding.measures,
          expected: `${improvement.expected} Expected gain ${(improvement.expectedGain * 100).toFixed(0)} %; ` +
            `replayed on ${inputs.right.length} recorded input(s) ` +
            `${mode === "recorded" ? "with the recorded model responses" : "with the configured model"}: ` +
            `${(measured.gain * 100).toFixed(0)} %.`,
          replay: { before: Replay.figures(improvement.objective, before), after: Replay.figures(improvement.objective, after) }
        },
        labels: ["patinox", "meta-layer", finding.kind]
      }
      const { created, stored } = yield* store.record(proposal, finding.target)
      const published = yield* Effect.either(publisher.publish({ ...proposal, id: stored.id }))
      if (Either.isRight(published)) yield* store.markPublished(stored.id, published.right)
      else yield* Effect.logWarning(`meta: publishing ${stored.id} failed: ${message(published.left)}`)
      yield* Effect.logInfo(
        `meta: ${created ? "proposed" : "updated"} ${stored.id} (${finding.key}): replayed gain ${(measured.gain * 100).toFixed(0)} %`
      )
      proposals.push({
        id: stored.id,
        findingKey: finding.key,
        title: improvement.title,
        created,
        expectedGain: improvement.expectedGain,
        replayGain: measured.gain,
        ref: Either.isRight(published) ? published.right : undefined,
        publishError: Either.isLeft(published) ? message(published.left) : undefined
      })
    }
    return {
      window,
      findings,
      failures: failures.map((f) => ({ analyser: f.analyser, message: f.error.message })),
      proposals,
      skipped
    }
  }).pipe(Effect.withSpan("MetaLayer.pass"))

/**
 * Runs `run` on `meta.schedule` in the layer's scope, while `meta.enabled`.
 * A failed pass is logged and the next one runs on time. Hosts that resolve
 * their services per pass (where to publish, say) schedule their own pass.
 *
 * @since 0.1.0 @category layers
 */
export const scheduled = <E, R>(config: MetaConfig, run: Effect.Effect<PassReport, E, R>): Layer.Layer<never, never, R> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    if (!config.enabled) return
    const every = schedule(config.schedule)
    // The config schema rejects a bad schedule; a value built without it is a programming error.
    if (Either.isLeft(every)) return yield* Effect.dieMessage(every.left)
    yield* run.pipe(
      Effect.tap((report) =>
        Effect.logInfo(`meta: pass done, ${report.proposals.length} proposal(s), ${report.skipped.length} skipped`)
      ),
      Effect.catchAllCause((cause) => Effect.logError("meta: pass failed", cause)),
      Effect.schedule(every.right),
      Effect.forkScoped
    )
  }))

/**
 * `pass(options)` on `meta.schedule`, while `meta.enabled`.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (options: Options): Layer.Layer<
  never,
  never,
  Analysis.Analysers | SqlClient.SqlClient | Replay.Replayer | Publisher | ProposalStore.ProposalStore
> => scheduled(options.config, pass(options))
