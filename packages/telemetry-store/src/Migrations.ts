/**
 * The store's schema, as versioned `@effect/sql` migrations. The migrator
 * records applied ids in `effect_sql_migrations`, so running it again applies
 * only what is new: a database written by an older version is upgraded in
 * place, its rows kept and their new columns backfilled.
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { fromCause, type TelemetryStoreError } from "./TelemetryStoreError.js"

const statements = (...sqls: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(sqls, (s) => sql.unsafe(s), { discard: true }))

/**
 * 1: the `events` table with the envelope columns and the full (redacted)
 * event as JSON, plus the `(type, ts)` index every window query and the
 * age-based retention use.
 */
const createEvents = statements(
  `CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    type TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    run_id TEXT,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    payload TEXT NOT NULL
  )`,
  `CREATE INDEX idx_events_type_ts ON events (type, ts)`
)

/**
 * 2: typed measurement columns (backfilled from the payloads already stored),
 * the lookup indexes, and the `alerts` table. The per-dimension indexes are
 * partial (only rows that have the dimension) and covering for the window
 * queries, so a percentile or error-rate query never touches the table.
 */
const typedColumns = statements(
  `ALTER TABLE events ADD COLUMN tool TEXT`,
  `ALTER TABLE events ADD COLUMN model TEXT`,
  `ALTER TABLE events ADD COLUMN latency_ms REAL`,
  `ALTER TABLE events ADD COLUMN tokens_in INTEGER`,
  `ALTER TABLE events ADD COLUMN tokens_out INTEGER`,
  `ALTER TABLE events ADD COLUMN memory_bytes INTEGER`,
  `ALTER TABLE events ADD COLUMN error_tag TEXT`,
  `ALTER TABLE events ADD COLUMN validator TEXT`,
  `ALTER TABLE events ADD COLUMN decision TEXT`,
  `UPDATE events SET
    tool = coalesce(nullif(json_extract(payload, '$.context.tool'), ''),
      CASE WHEN json_extract(payload, '$.result._tag') = 'ToolOutput' THEN json_extract(payload, '$.result.tool') END),
    model = coalesce(nullif(json_extract(payload, '$.context.model'), ''),
      CASE WHEN json_extract(payload, '$.result._tag') = 'ModelResult' THEN json_extract(payload, '$.result.model') END),
    latency_ms = json_extract(payload, '$.metrics.latencyMs'),
    tokens_in = json_extract(payload, '$.metrics.tokensIn'),
    tokens_out = json_extract(payload, '$.metrics.tokensOut'),
    memory_bytes = json_extract(payload, '$.metrics.memoryBytes'),
    error_tag = CASE WHEN json_extract(payload, '$.result._tag') = 'Failure'
      THEN json_extract(payload, '$.result.error') ELSE nullif(json_extract(payload, '$.context.error'), '') END,
    validator = coalesce(json_extract(payload, '$.metrics.decisions[0].validator'),
      nullif(json_extract(payload, '$.context.validator'), '')),
    decision = coalesce(json_extract(payload, '$.metrics.decisions[0].decision'),
      nullif(json_extract(payload, '$.context.decision'), ''))`,
  `CREATE INDEX idx_events_run ON events (run_id) WHERE run_id IS NOT NULL`,
  `CREATE INDEX idx_events_trace ON events (trace_id)`,
  `CREATE INDEX idx_events_tool_ts ON events (tool, ts, latency_ms, type) WHERE tool IS NOT NULL`,
  `CREATE INDEX idx_events_model_ts ON events (model, ts, latency_ms, type, tokens_in, tokens_out) WHERE model IS NOT NULL`,
  `CREATE INDEX idx_events_validator_ts ON events (validator, ts, decision) WHERE validator IS NOT NULL`,
  `CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    value REAL,
    agent_id TEXT NOT NULL,
    payload TEXT NOT NULL
  )`,
  `CREATE INDEX idx_alerts_ts ON alerts (ts)`,
  `CREATE INDEX idx_alerts_rule_ts ON alerts (rule, ts)`
)

/**
 * 3: events by trace through the runs. An index over every event's random
 * trace id put each insert at a random leaf, the most expensive part of a
 * write: on 80k stored events it wrote 1.5 KB to the WAL per event, of 4.8.
 * Now `run_traces` holds one row per (trace, run) pair, which the writers add
 * once per batch (`INSERT OR IGNORE`), and only events outside any run keep a
 * trace index; the run index, over time-ordered run ids, grows at its end.
 */
const runTraces = statements(
  `CREATE TABLE run_traces (
    trace_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (trace_id, run_id)
  ) WITHOUT ROWID`,
  `INSERT OR IGNORE INTO run_traces (trace_id, run_id, ts)
    SELECT trace_id, run_id, min(ts) FROM events WHERE run_id IS NOT NULL GROUP BY trace_id, run_id`,
  `CREATE INDEX idx_events_trace_unrun ON events (trace_id) WHERE run_id IS NULL`,
  `DROP INDEX idx_events_trace`
)

/**
 * 4: the meta-layer's proposals, beside the telemetry they rest on, so that
 * the loop can tell which findings already have an open proposal and which
 * a person dismissed, and the API can list them. One row per proposal; the
 * `(finding_key, state)` index serves both lookups.
 */
const proposals = statements(
  `CREATE TABLE proposals (
    id TEXT PRIMARY KEY,
    finding_key TEXT NOT NULL,
    target TEXT NOT NULL,
    title TEXT NOT NULL,
    diff TEXT NOT NULL,
    files TEXT NOT NULL,
    evidence TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'dismissed', 'merged', 'superseded')),
    kind TEXT CHECK (kind IN ('git', 'github')),
    branch TEXT,
    commit_sha TEXT,
    url TEXT,
    number INTEGER,
    created_ts INTEGER NOT NULL,
    updated_ts INTEGER NOT NULL,
    dismissed_reason TEXT
  )`,
  `CREATE INDEX idx_proposals_finding_state ON proposals (finding_key, state)`
)

/**
 * 5: covering indexes for the meta-layer's analysers (`@patinox/meta`), so a
 * pass over a day of a million events stays under two seconds: without
 * them, reading each run's outcome, each model call's agent and each tool
 * call's arguments' hash meant a table lookup per row, 2 s of the pass's 3.9.
 * Each is partial (only the rows of its event types: 30 % of rows in all);
 * queries name the same `type` terms literally, or SQLite cannot use them.
 */
const metaIndexes = statements(
  `CREATE INDEX idx_events_run_outcomes ON events (ts, agent_id, type, error_tag, tokens_in, tokens_out)
    WHERE type IN ('run.end', 'run.error')`,
  `CREATE INDEX idx_events_model_usage ON events (agent_id, model, ts, tokens_in, tokens_out)
    WHERE type = 'model.response'`,
  `CREATE INDEX idx_events_tool_args ON events (ts, agent_id, run_id, tool, json_extract(payload, '$.context.argsHash'))
    WHERE type = 'tool.start'`
)

/**
 * 6: the runs list (`TelemetryQueries.runs`). A run's end was found by
 * reading every event of the run, and a filter by agent read every stored
 * run start: on a million events (50k runs), 361 ms for a rare agent's
 * page, 956 ms for the runs still going, 364 ms for a page at offset
 * 20 000. With a run's end in an index of its own and run starts indexed by
 * agent: 0.3, 358 and 134 ms. Both are partial, one row per run.
 */
const runIndexes = statements(
  `CREATE INDEX idx_events_run_ends ON events (run_id, ts) WHERE type IN ('run.end', 'run.error')`,
  `CREATE INDEX idx_events_run_starts ON events (agent_id, ts) WHERE type = 'run.start'`
)

/**
 * 7: a one-row table that the service's readiness probe writes and deletes:
 * a real write to the file, kept out of the data.
 */
const readyProbe = statements(`CREATE TABLE ready_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)`)

/**
 * Every migration, by `<id>_<name>`. Append only: a released migration is
 * never edited, a change is a new one.
 *
 * @since 0.1.0 @category migrations
 */
export const migrations = {
  "0001_create_events": createEvents,
  "0002_typed_columns_indexes_alerts": typedColumns,
  "0003_run_traces": runTraces,
  "0004_proposals": proposals,
  "0005_meta_indexes": metaIndexes,
  "0006_run_indexes": runIndexes,
  "0007_ready_probe": readyProbe
} as const

/** @since 0.1.0 @category migrations */
export const latest = 7

/**
 * Migrations up to and including `upTo` (all by default): older versions of
 * the store, for upgrade tests.
 *
 * @since 0.1.0 @category migrations
 */
export const loader = (upTo: number = latest): Migrator.Loader =>
  Migrator.fromRecord(
    Object.fromEntries(Object.entries(migrations).filter(([key]) => Number(key.slice(0, 4)) <= upTo))
  )

// The generic migrator: SqliteMigrator adds only schema dumps through the
// `sqlite3` CLI, which the store does not use, and would pull FileSystem,
// Path and CommandExecutor into every caller's requirements.
const migrator = Migrator.make({})

/**
 * Connection settings, then pending migrations. `auto_vacuum = INCREMENTAL`
 * is set only on a new, empty file (it lets size-based retention give
 * pages back); WAL with `synchronous = NORMAL` makes a committed batch cost
 * one WAL append, durable against a process crash (not an OS crash).
 *
 * @since 0.1.0 @category migrations
 */
export const run = (upTo: number = latest): Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  TelemetryStoreError,
  SqlClient.SqlClient
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe("PRAGMA auto_vacuum = INCREMENTAL")
    // In WAL mode the setting only sticks through a VACUUM, cheap while the file is empty.
    const [mode] = yield* sql.unsafe<{ auto_vacuum: number }>("PRAGMA auto_vacuum")
    const [objects] = yield* sql.unsafe<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master")
    if (mode?.auto_vacuum !== 2 && objects?.n === 0) yield* sql.unsafe("VACUUM")
    yield* sql.unsafe("PRAGMA journal_mode = WAL")
    yield* sql.unsafe("PRAGMA synchronous = NORMAL")
    return yield* migrator({ loader: loader(upTo) })
  }).pipe(Effect.mapError(fromCause("migration")), Effect.withSpan("Migrations.run"))
