/**
 * A document store with BM25 full-text search (SQLite FTS5), kept in the
 * same database as the rest of telemetry. Validators retrieve evidence from
 * it: the hallucination detector checks an answer's claims against the
 * passages it finds.
 *
 * Titles, sources, texts and metadata values are redacted before they are
 * stored (`Redaction`): a secret pasted into a document would otherwise sit in
 * the file and come back verbatim in every search hit and validator prompt.
 *
 * @since 0.1.0
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Redaction } from "@patinox/core"
import { Context, Effect, Layer, Schema } from "effect"
import { chunk, type ChunkOptions, matchExpression } from "./internal/kbText.js"

/** A storage failure of the knowledge base. @since 0.1.0 @category errors */
export class KnowledgeBaseError extends Schema.TaggedError<KnowledgeBaseError>(
  "@patinox/validation/KnowledgeBaseError"
)("KnowledgeBaseError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Knowledge base ${this.operation} failed: ${this.reason}`
  }
}

/** A document to index. Without an `id` one is generated; an existing `id` is replaced. @since 0.1.0 @category models */
export interface Document {
  readonly id?: string | undefined
  readonly title?: string | undefined
  readonly text: string
  readonly source?: string | undefined
  readonly metadata?: Readonly<Record<string, string>> | undefined
}

/** A search hit: one passage of a document. @since 0.1.0 @category models */
export interface Passage {
  readonly docId: string
  readonly passageId: string
  readonly text: string
  /** BM25 relevance, higher is better (FTS5's rank with its sign flipped). */
  readonly score: number
}

/** A stored document, without its text. @since 0.1.0 @category models */
export interface DocumentInfo {
  readonly id: string
  readonly title: string | undefined
  readonly source: string | undefined
  /** Passages it was chunked into. */
  readonly passages: number
  /** Epoch ms. */
  readonly addedAt: number
}

/** @since 0.1.0 @category models */
export interface SearchOptions {
  /** At most this many passages (default 5). */
  readonly limit?: number | undefined
  /** Only passages of these documents. An empty scope finds nothing. */
  readonly scope?: ReadonlyArray<string> | undefined
}

/** @since 0.1.0 @category models */
export interface Service {
  /** Indexes a document, chunked into overlapping passages; returns its id. */
  readonly add: (document: Document) => Effect.Effect<string, KnowledgeBaseError>
  /** Indexes many documents in one transaction. */
  readonly addMany: (documents: Iterable<Document>) => Effect.Effect<ReadonlyArray<string>, KnowledgeBaseError>
  /** Removes a document and its passages; `false` if there was none. */
  readonly remove: (id: string) => Effect.Effect<boolean, KnowledgeBaseError>
  /**
   * Passages ranked by BM25 against the words of `query`. Any text is a
   * valid query: it is reduced to quoted terms, never passed to FTS5 raw.
   */
  readonly search: (query: string, options?: SearchOptions) => Effect.Effect<ReadonlyArray<Passage>, KnowledgeBaseError>
  /** Number of documents. */
  readonly count: Effect.Effect<number, KnowledgeBaseError>
  /** Every document, newest first. */
  readonly list: Effect.Effect<ReadonlyArray<DocumentInfo>, KnowledgeBaseError>
}

/** @since 0.1.0 @category tags */
export class KnowledgeBase extends Context.Tag("@patinox/validation/KnowledgeBase")<KnowledgeBase, Service>() {}

/** @since 0.1.0 @category models */
export interface Options {
  /** Passage chunking: sentences per passage (default 4), shared with the next (1), character cap (1200). */
  readonly chunking?: Partial<ChunkOptions> | undefined
  /**
   * Applied to title, source, text and metadata before storage. Default:
   * the built-in detectors with no length cut (`documentRedactor`).
   */
  readonly redactor?: Redaction.Redactor | undefined
}

/**
 * The built-in detectors without `Redaction`'s 64 KiB cut: a document is
 * stored whole, so all of it must be scanned (the scan is linear).
 *
 * @since 0.1.0 @category constants
 */
export const documentRedactor: Redaction.Redactor = Redaction.make({ maxLength: Number.POSITIVE_INFINITY })

const defaultChunking: ChunkOptions = { sentencesPerPassage: 4, overlap: 1, maxPassageChars: 1200 }

const INSERT_BATCH = 200

const failWith = (operation: string) => (error: SqlError.SqlError) =>
  new KnowledgeBaseError({ operation, reason: error.message === "" ? String(error.cause) : error.message })

/**
 * Creates the tables if needed and returns the service.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (options?: Options): Effect.Effect<Service, KnowledgeBaseError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const chunking: ChunkOptions = { ...defaultChunking, ...options?.chunking }
    const redactor = options?.redactor ?? documentRedactor
    const redact = (document: Document): Document => ({
      title: document.title === undefined ? undefined : redactor.text(document.title),
      source: document.source === undefined ? undefined : redactor.text(document.source),
      text: redactor.text(document.text),
      metadata: document.metadata
    })

    yield* sql`CREATE TABLE IF NOT EXISTS kb_documents (
      id TEXT PRIMARY KEY,
      title TEXT,
      source TEXT,
      metadata TEXT NOT NULL DEFAULT '{}',
      text TEXT NOT NULL,
      passages INTEGER NOT NULL,
      created_at INTEGER NOT NULL
    )`.pipe(
      Effect.zipRight(sql`CREATE VIRTUAL TABLE IF NOT EXISTS kb_passages USING fts5(
        text, title, doc_id UNINDEXED, passage_id UNINDEXED,
        tokenize = 'porter unicode61 remove_diacritics 2'
      )`),
      Effect.mapError(failWith("setup"))
    )

    const insert = (original: Document, id: string) =>
      Effect.gen(function*() {
        const document = redact(original)
        yield* sql`DELETE FROM kb_passages WHERE doc_id = ${id}`
        yield* sql`DELETE FROM kb_documents WHERE id = ${id}`
        const passages = chunk(document.text, chunking)
        yield* sql`INSERT INTO kb_documents ${
          sql.insert({
            id,
            title: document.title ?? null,
            source: document.source ?? null,
            // `value` also blanks values under secret-looking keys (`apiKey`, `password`).
            metadata: JSON.stringify(redactor.value(document.metadata ?? {})),
            text: document.text,
            passages: passages.length,
            created_at: Date.now()
          })
        }`
        const rows = passages.map((text, index) => ({
          text,
          title: document.title ?? "",
          doc_id: id,
          passage_id: `${id}#${index}`
        }))
        for (let i = 0; i < rows.length; i += INSERT_BATCH) {
          yield* sql`INSERT INTO kb_passages ${sql.insert(rows.slice(i, i + INSERT_BATCH))}`
        }
        return id
      })

    const newId = (document: Document) => Effect.sync(() => document.id ?? crypto.randomUUID())

    const add = Effect.fn("KnowledgeBase.add")(function*(document: Document) {
      const id = yield* newId(document)
      return yield* sql.withTransaction(insert(document, id)).pipe(Effect.mapError(failWith("add")))
    })

    const addMany = Effect.fn("KnowledgeBase.addMany")(function*(documents: Iterable<Document>) {
      const all = [...documents]
      return yield* sql.withTransaction(
        Effect.forEach(all, (document) => Effect.flatMap(newId(document), (id) => insert(document, id)))
      ).pipe(Effect.mapError(failWith("addMany")))
    })

    const remove = Effect.fn("KnowledgeBase.remove")(function*(id: string) {
      return yield* sql.withTransaction(
        Effect.gen(function*() {
          const existing = yield* sql<{ id: string }>`SELECT id FROM kb_documents WHERE id = ${id}`
          yield* sql`DELETE FROM kb_passages WHERE doc_id = ${id}`
          yield* sql`DELETE FROM kb_documents WHERE id = ${id}`
          return existing.length > 0
        })
      ).pipe(Effect.mapError(failWith("remove")))
    })

    const search = Effect.fnUntraced(function*(query: string, options?: SearchOptions) {
      const expression = matchExpression(query)
      const scope = options?.scope
      if (expression === undefined || (scope !== undefined && scope.length === 0)) return []
      const limit = Math.max(1, Math.min(1000, Math.floor(options?.limit ?? 5)))
      const rows = yield* sql<{ doc_id: string; passage_id: string; text: string; rank: number }>`
        SELECT doc_id, passage_id, text, bm25(kb_passages, 1.0, 0.5) AS rank
        FROM kb_passages
        WHERE kb_passages MATCH ${expression}
        ${scope === undefined ? sql.literal("") : sql`AND ${sql.in("doc_id", scope)}`}
        ORDER BY rank
        LIMIT ${limit}`.pipe(Effect.mapError(failWith("search")))
      return rows.map((row): Passage => ({
        docId: row.doc_id,
        passageId: row.passage_id,
        text: row.text,
        score: -row.rank
      }))
    }, Effect.withSpan("KnowledgeBase.search", { captureStackTrace: false }))

    const count = sql<{ n: number }>`SELECT COUNT(*) AS n FROM kb_documents`.pipe(
      Effect.map((rows) => rows[0]?.n ?? 0),
      Effect.mapError(failWith("count")),
      Effect.withSpan("KnowledgeBase.count")
    )

    const list = sql<{ id: string; title: string | null; source: string | null; passages: number; created_at: number }>`
      SELECT id, title, source, passages, created_at FROM kb_documents ORDER BY created_at DESC, id`.pipe(
      Effect.map((rows) =>
        rows.map((row): DocumentInfo => ({
          id: row.id,
          title: row.title ?? undefined,
          source: row.source ?? undefined,
          passages: Number(row.passages),
          addedAt: Number(row.created_at)
        }))
      ),
      Effect.mapError(failWith("list")),
      Effect.withSpan("KnowledgeBase.list")
    )

    return KnowledgeBase.of({ add, addMany, remove, search, count, list })
  })

/**
 * The knowledge base on the `SqlClient` in context, default chunking.
 *
 * @since 0.1.0 @category layers
 */
export const layer: Layer.Layer<KnowledgeBase, KnowledgeBaseError, SqlClient.SqlClient> = Layer.effect(
  KnowledgeBase,
  make()
)

/**
 * The knowledge base with custom chunking.
 *
 * @since 0.1.0 @category layers
 */
export const layerWith = (options: Options): Layer.Layer<KnowledgeBase, KnowledgeBaseError, SqlClient.SqlClient> =>
  Layer.effect(KnowledgeBase, make(options))
