/**
 * The proposals the meta-layer made, kept in the telemetry store's SQLite
 * file (`proposals`, migration 4): one open proposal per finding key, updated
 * in place as new evidence comes in, and a record of what people dismissed so
 * that the loop does not propose the same edit again.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { fromCause, type TelemetryStoreError } from "@patinox/telemetry-store/TelemetryStoreError"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { Target } from "./Analysis.js"
import * as Proposal from "./publish/Proposal.js"
import type { PublishedRef } from "./publish/Publisher.js"

/** Where a proposal stands. @since 0.1.0 @category schemas */
export const State = Schema.Literal("open", "dismissed", "merged", "superseded")
/** @since 0.1.0 @category models */
export type State = typeof State.Type

/** A stored proposal with its links once published; times are epoch ms. @since 0.1.0 @category schemas */
export class StoredProposal extends Schema.Class<StoredProposal>("@patinox/meta/StoredProposal")({
  id: Schema.String,
  findingKey: Schema.String,
  title: Schema.String,
  target: Target,
  files: Schema.Array(Proposal.FileChange),
  /** All files' changes as one text (`Proposal.diffOf`). */
  diff: Schema.String,
  evidence: Proposal.Evidence,
  state: State,
  kind: Schema.optional(Schema.Literal("git", "github")),
  branch: Schema.optional(Schema.String),
  commit: Schema.optional(Schema.String),
  url: Schema.optional(Schema.String),
  number: Schema.optional(Schema.Number),
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  dismissedReason: Schema.optional(Schema.String)
}) {}

/** No proposal has this id. @since 0.1.0 @category errors */
export class ProposalNotFound extends Schema.TaggedError<ProposalNotFound>("@patinox/meta/ProposalNotFound")(
  "ProposalNotFound",
  { id: Schema.String }
) {
  override get message(): string {
    return `No proposal with id "${this.id}"`
  }
}

/** Only an open proposal can be dismissed. @since 0.1.0 @category errors */
export class ProposalNotOpen extends Schema.TaggedError<ProposalNotOpen>("@patinox/meta/ProposalNotOpen")(
  "ProposalNotOpen",
  { id: Schema.String, state: State }
) {
  override get message(): string {
    return `Proposal "${this.id}" is ${this.state}, not open`
  }
}

/** @since 0.1.0 @category models */
export interface ListOptions {
  readonly state?: State | undefined
  /** At most this many (default 50). */
  readonly limit?: number | undefined
  readonly offset?: number | undefined
}

/** @since 0.1.0 @category models */
export interface Service {
  /**
   * Keeps a proposal for its finding: an open one with the same finding key
   * is updated in place (id and links kept, `created` false), else it is
   * inserted as open.
   */
  readonly record: (
    proposal: Proposal.Proposal,
    target: Target
  ) => Effect.Effect<{ readonly stored: StoredProposal; readonly created: boolean }, TelemetryStoreError>
  /**
   * Whether a person dismissed a proposal for this finding; given `files`,
   * only one that made the same edit (same paths and after-texts) counts.
   */
  readonly wasDismissed: (
    findingKey: string,
    files?: ReadonlyArray<Proposal.FileChange>
  ) => Effect.Effect<boolean, TelemetryStoreError>
  /** Records where the proposal was published; a merged ref makes it `merged`. */
  readonly markPublished: (
    id: string,
    ref: PublishedRef
  ) => Effect.Effect<StoredProposal, TelemetryStoreError | ProposalNotFound>
  /** Most recently updated first. */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<StoredProposal>, TelemetryStoreError>
  readonly get: (id: string) => Effect.Effect<StoredProposal, TelemetryStoreError | ProposalNotFound>
  readonly dismiss: (
    id: string,
    reason?: string
  ) => Effect.Effect<StoredProposal, TelemetryStoreError | ProposalNotFound | ProposalNotOpen>
}

/** @since 0.1.0 @category tags */
export class ProposalStore extends Context.Tag("@patinox/meta/ProposalStore")<ProposalStore, Service>() {}

// A row as SQLite returns it: JSON columns as text, absent links as null.
const Row = Schema.Struct({
  id: Schema.String,
  finding_key: Schema.String,
  target: Schema.parseJson(Target),
  title: Schema.String,
  diff: Schema.String,
  files: Schema.parseJson(Schema.Array(Proposal.FileChange)),
  evidence: Schema.parseJson(Proposal.Evidence),
  state: State,
  kind: Schema.NullOr(Schema.Literal("git", "github")),
  branch: Schema.NullOr(Schema.String),
  commit_sha: Schema.NullOr(Schema.String),
  url: Schema.NullOr(Schema.String),
  number: Schema.NullOr(Schema.Number),
  created_ts: Schema.Number,
  updated_ts: Schema.Number,
  dismissed_reason: Schema.NullOr(Schema.String)
})
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

// Absent links are left out rather than set to undefined, so that a read
// equals what `record` returned.
const present = <K extends string, A>(key: K, value: A | null): { [P in K]?: A } =>
  (value === null ? {} : { [key]: value }) as { [P in K]?: A }

const toStored = (row: typeof Row.Type): StoredProposal =>
  new StoredProposal({
    id: row.id,
    findingKey: row.finding_key,
    title: row.title,
    target: row.target,
    files: row.files,
    diff: row.diff,
    evidence: row.evidence,
    state: row.state,
    ...present("kind", row.kind),
    ...present("branch", row.branch),
    ...present("commit", row.commit_sha),
    ...present("url", row.url),
    ...present("number", row.number),
    createdAt: row.created_ts,
    updatedAt: row.updated_ts,
    ...present("dismissedReason", row.dismissed_reason)
  })

const encodeJson = <A, I>(schema: Schema.Schema<A, I>) => Schema.encode(Schema.parseJson(schema))

// What a dismissal is compared on: the edit itself, not the evidence or the
// title, which change with every pass over new telemetry.
const editOf = (files: ReadonlyArray<Proposal.FileChange>): string =>
  files.map((f) => JSON.stringify([f.path, f.after])).sort().join("\n")

/** The store on the `SqlClient` of a migrated telemetry store. @since 0.1.0 @category constructors */
export const make: Effect.Effect<Service, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const query = <E, R>(operation: string, statement: Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
    statement.pipe(
      Effect.flatMap(decodeRows),
      Effect.map((rows) => rows.map(toStored)),
      Effect.mapError(fromCause(operation))
    )

  const byId = (id: string) => query("proposals.get", sql`SELECT * FROM proposals WHERE id = ${id}`.withoutTransform)

  const get = Effect.fn("ProposalStore.get")(function*(id: string) {
    const [found] = yield* byId(id)
    return found === undefined ? yield* new ProposalNotFound({ id }) : found
  })

  const serialise = (proposal: Proposal.Proposal, target: Target) =>
    Effect.all({
      target: encodeJson(Target)(target),
      files: encodeJson(Schema.Array(Proposal.FileChange))(proposal.files),
      evidence: encodeJson(Proposal.Evidence)(proposal.evidence)
    }).pipe(Effect.mapError(fromCause("proposals.encode")))

  const record = Effect.fn("ProposalStore.record")(function*(proposal: Proposal.Proposal, target: Target) {
    const json = yield* serialise(proposal, target)
    const diff = Proposal.diffOf(proposal.files)
    const now = yield* Clock.currentTimeMillis
    // One transaction, so two passes for the same finding cannot both insert.
    return yield* Effect.gen(function*() {
      const [open] = yield* query(
        "proposals.record",
        sql`SELECT * FROM proposals WHERE finding_key = ${proposal.findingKey} AND state = 'open'
          ORDER BY updated_ts DESC LIMIT 1`.withoutTransform
      )
      if (open !== undefined) {
        yield* sql`UPDATE proposals SET title = ${proposal.title}, target = ${json.target}, diff = ${diff},
          files = ${json.files}, evidence = ${json.evidence}, updated_ts = ${now}
          WHERE id = ${open.id}`.withoutTransform.pipe(Effect.mapError(fromCause("proposals.record")))
        const stored = new StoredProposal({
          ...open,
          title: proposal.title,
          target,
          files: proposal.files,
          diff,
          evidence: proposal.evidence,
          updatedAt: now
        })
        return { stored, created: false }
      }
      yield* sql`INSERT INTO proposals
          (id, finding_key, target, title, diff, files, evidence, state, created_ts, updated_ts)
        VALUES (${proposal.id}, ${proposal.findingKey}, ${json.target}, ${proposal.title}, ${diff},
          ${json.files}, ${json.evidence}, 'open', ${now}, ${now})`.withoutTransform.pipe(
          Effect.mapError(fromCause("proposals.record"))
        )
      const stored = new StoredProposal({
        id: proposal.id,
        findingKey: proposal.findingKey,
        title: proposal.title,
        target,
        files: proposal.files,
        diff,
        evidence: proposal.evidence,
        state: "open",
        createdAt: now,
        updatedAt: now
      })
      return { stored, created: true }
    }).pipe(sql.withTransaction, Effect.catchTag("SqlError", fromCauseFail("proposals.record")))
  })

  const wasDismissed = Effect.fn("ProposalStore.wasDismissed")(function*(
    findingKey: string,
    files?: ReadonlyArray<Proposal.FileChange>
  ) {
    const dismissed = yield* query(
      "proposals.wasDismissed",
      sql`SELECT * FROM proposals WHERE finding_key = ${findingKey} AND state = 'dismissed'`.withoutTransform
    )
    if (files === undefined) return dismissed.length > 0
    const edit = editOf(files)
    return dismissed.some((p) => editOf(p.files) === edit)
  })

  const markPublished = Effect.fn("ProposalStore.markPublished")(function*(id: string, ref: PublishedRef) {
    const now = yield* Clock.currentTimeMillis
    yield* sql`UPDATE proposals SET kind = ${ref.kind}, branch = ${ref.branch}, commit_sha = ${ref.commit},
        url = ${ref.url ?? null}, number = ${ref.number ?? null},
        state = CASE WHEN ${ref.merged ? 1 : 0} = 1 THEN 'merged' ELSE state END, updated_ts = ${now}
      WHERE id = ${id}`.withoutTransform.pipe(Effect.mapError(fromCause("proposals.markPublished")))
    return yield* get(id)
  })

  const list = Effect.fn("ProposalStore.list")(function*(options: ListOptions = {}) {
    const limit = options.limit ?? 50
    const offset = options.offset ?? 0
    const where = sql.and(options.state === undefined ? [] : [sql`state = ${options.state}`])
    // rowid breaks ties between proposals updated in the same millisecond: the later insert first.
    return yield* query(
      "proposals.list",
      sql`SELECT * FROM proposals WHERE ${where} ORDER BY updated_ts DESC, rowid DESC
        LIMIT ${limit} OFFSET ${offset}`.withoutTransform
    )
  })

  const dismiss = Effect.fn("ProposalStore.dismiss")(function*(id: string, reason?: string) {
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.gen(function*() {
      const current = yield* get(id)
      if (current.state !== "open") return yield* new ProposalNotOpen({ id, state: current.state })
      yield* sql`UPDATE proposals SET state = 'dismissed', dismissed_reason = ${reason ?? null}, updated_ts = ${now}
        WHERE id = ${id}`.withoutTransform.pipe(Effect.mapError(fromCause("proposals.dismiss")))
      return yield* get(id)
    }).pipe(sql.withTransaction, Effect.catchTag("SqlError", fromCauseFail("proposals.dismiss")))
  })

  return { record, wasDismissed, markPublished, list, get, dismiss }
})

const fromCauseFail = (operation: string) => (cause: unknown) => Effect.fail(fromCause(operation)(cause))

/** Needs the telemetry store's `SqlClient`, migrated (`Migrations.run`). @since 0.1.0 @category layers */
export const layer: Layer.Layer<ProposalStore, never, SqlClient.SqlClient> = Layer.effect(ProposalStore, make)
