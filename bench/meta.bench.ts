/**
 * `pnpm bench meta`: the meta-layer on a workload with three planted faults
 * (a tool that became slow, a tool failing 30 % of the time, an agent whose
 * instructions loop it to maxSteps) and two healthy agents, on the real
 * service and a real git repository. One pass must propose exactly the
 * faults' fixes; each proposal is then applied and the same workload re-run
 * on a fresh store, and the fault's figure compared: `meta/<fault>` is that
 * measured gain (0.35 for 35 %), `meta/healthy` the proposals touching a
 * healthy agent; `meta/analysis-1m` times the analysers over a window of
 * a million events (`bench/metaAnalysis.ts`).
 */
import { HttpServer } from "@effect/platform"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { LanguageModel } from "@patinox/core"
import { MetaConfig } from "@patinox/meta"
import { Workload } from "@patinox/testing"
import { KnowledgeBase } from "@patinox/validation"
import { Effect, Layer, Schedule, Schema } from "effect"
import { execFileSync } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExtraTools } from "../apps/app/src/Agents.js"
import * as ConfigFile from "../apps/app/src/ConfigFile.js"
import * as Http from "../apps/app/src/Http.js"
import * as Meta from "../apps/app/src/Meta.js"
import type { Benchmark, BenchRow } from "./harness.js"
import { analysis1m } from "./metaAnalysis.js"

const perAgent = 60
const seed = 11

const git = (dir: string, ...args: Array<string>) =>
  execFileSync("git", args, { cwd: dir, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } }).trim()

const metaConfig = Schema.decodeUnknownSync(MetaConfig.MetaConfig)({ latency: { toolP95Ms: 250 }, replay: { sampleSize: 30 } })

const sqliteOf = (database: string) => SqliteClient.layer({ filename: database })

/** Runs the whole workload through the service's HTTP API into `database`, and waits until it is stored. */
const runWorkload = (agentsDir: string, database: string) =>
  Effect.scoped(Effect.gen(function*() {
    // The knowledge base is empty and these agents answer from their tools, not from it.
    const parsed = yield* ConfigFile.parse(
      JSON.stringify({ agents: { behaviourDir: agentsDir }, validation: { hallucination: { enabled: false } } }),
      "bench"
    )
    const file = { ...parsed, database: { path: database }, meta: { ...metaConfig, enabled: false } }
    const model = Layer.merge(
      Layer.succeed(LanguageModel.LanguageModel, Workload.model),
      Layer.succeed(ExtraTools, Workload.tools({ seed }))
    )
    const context = yield* Layer.build(Http.serviceLayer({ host: "127.0.0.1", port: 0, realModel: false }, file, model))
    const server = yield* Effect.provide(HttpServer.HttpServer, context)
    const address = server.address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    const inputs = Workload.inputs(perAgent)
    yield* Effect.forEach(inputs, ({ agent, input }) =>
      Effect.promise(() =>
        fetch(`http://127.0.0.1:${address.port}/agents/${agent}/runs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ input })
        }).then((r) => r.text())
      ), { concurrency: 8, discard: true })
    yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ n: number }>`SELECT COUNT(*) AS n FROM events WHERE type IN ('run.end', 'run.error')`).pipe(
        Effect.map((rows) => rows[0]?.n ?? 0),
        Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (n) => n >= inputs.length }),
        Effect.provide(sqliteOf(database))
      )
  }))

/** The figure each fault spoils, measured from the store the same way for before and after. */
const figures = (database: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [slow] = yield* sql<{ v: number }>`SELECT AVG(latency_ms) AS v FROM events
      WHERE tool = 'inventory_lookup' AND type IN ('tool.end', 'tool.error')`
    const [failing] = yield* sql<{ v: number }>`SELECT AVG(type = 'tool.error') AS v FROM events
      WHERE tool = 'weather_fetch' AND type IN ('tool.end', 'tool.error')`
    const [tokens] = yield* sql<{ v: number }>`SELECT
      (SELECT SUM(tokens_in + tokens_out) FROM events WHERE agent_id = 'ledger' AND type = 'model.response') * 1.0 /
      (SELECT COUNT(*) FROM events WHERE agent_id = 'ledger' AND type IN ('run.end', 'run.error')) AS v`
    return { "slow-tool": slow?.v ?? 0, "failing-tool": failing?.v ?? 0, "looping-agent": tokens?.v ?? 0 }
  }).pipe(Effect.provide(sqliteOf(database)))

const faults = {
  "slow-tool": { key: "tool-latency:tool:inventory_lookup", figure: "mean ms per inventory_lookup call" },
  "failing-tool": { key: "tool-errors:tool:weather_fetch", figure: "weather_fetch calls failing" },
  "looping-agent": { key: "max-steps:agent:ledger", figure: "ledger tokens per run" }
} as const

const benchmark: Benchmark = {
  name: "meta",
  description: "meta-layer: planted faults found, fixes proposed, each fix's measured gain",
  run: async (progress) => {
    const root = mkdtempSync(join(tmpdir(), "patinox-bench-meta-"))
    try {
      const repo = join(root, "repo")
      mkdirSync(join(repo, "agents"), { recursive: true })
      git(repo, "init", "-q", "-b", "main")
      git(repo, "config", "user.name", "Bench")
      git(repo, "config", "user.email", "bench@example.invalid")
      for (const [name, text] of Object.entries(Workload.behaviourFiles)) writeFileSync(join(repo, "agents", name), text)
      git(repo, "add", "agents")
      git(repo, "commit", "-q", "-m", "agents")
      const agentsDir = join(repo, "agents")

      progress(`workload: ${perAgent} runs per agent, 5 agents, 3 planted faults`)
      const database = join(root, "before.db")
      await Effect.runPromise(runWorkload(agentsDir, database))
      const before = await Effect.runPromise(figures(database))

      progress("one meta-layer pass (analyse, plan, replay, publish to git)")
      const started = performance.now()
      const report = await Effect.runPromise(
        Meta.passOnce(metaConfig, agentsDir).pipe(
          Effect.provide(Layer.mergeAll(
            KnowledgeBase.layer,
            Layer.succeed(LanguageModel.LanguageModel, Workload.model),
            Layer.succeed(ExtraTools, Workload.tools({ seed: seed + 1 }))
          ).pipe(Layer.provideMerge(sqliteOf(database))))
        )
      )
      progress(`pass: ${report.findings.length} findings, ${report.proposals.length} proposals in ` +
        `${((performance.now() - started) / 1000).toFixed(1)} s`)
      for (const skipped of report.skipped) progress(`  no proposal for ${skipped.findingKey}: ${skipped.reason}`)

      const healthyFiles = Workload.healthy.map((name) => `agents/${name}.yaml`)
      const healthy = report.proposals.filter((p) =>
        p.ref !== undefined && git(repo, "diff", "--name-only", `main..${p.ref.branch}`).split("\n").some((f) => healthyFiles.includes(f))
      ).length

      const rows: Array<BenchRow> = []
      const table: Array<Record<string, string | number>> = []
      for (const [fault, { figure, key }] of Object.entries(faults)) {
        const proposal = report.proposals.find((p) => p.findingKey === key)
        if (proposal?.ref === undefined) {
          progress(`${fault}: NOT proposed`)
          rows.push({ name: `meta/${fault}`, metric: "gain", value: 0, unit: "fraction" })
          continue
        }
        // Apply: the branch's files in a copy of the folder, then the same workload on a fresh store.
        const applied = join(root, `applied-${fault}`)
        cpSync(agentsDir, applied, { recursive: true })
        for (const path of git(repo, "diff", "--name-only", `main..${proposal.ref.branch}`).split("\n")) {
          writeFileSync(join(applied, path.replace(/^agents\//, "")), git(repo, "show", `${proposal.ref.branch}:${path}`) + "\n")
        }
        progress(`${fault}: applying "${proposal.title}" and re-running the workload`)
        const after = await Effect.runPromise(Effect.gen(function*() {
          const db = join(root, `after-${fault}.db`)
          yield* runWorkload(applied, db)
          return yield* figures(db)
        }))
        const b = before[fault as keyof typeof before]
        const a = after[fault as keyof typeof after]
        const gain = b > 0 ? 1 - a / b : 0
        rows.push({ name: `meta/${fault}`, metric: "gain", value: Number(gain.toFixed(3)), unit: "fraction" })
        table.push({
          fault,
          proposal: proposal.title,
          figure,
          before: Number(b.toFixed(3)),
          after: Number(a.toFixed(3)),
          gain: Number(gain.toFixed(3)),
          replayed: Number(proposal.replayGain.toFixed(3))
        })
      }
      rows.push({ name: "meta/healthy", metric: "proposals", value: healthy, unit: "count" })
      console.table(table)
      progress("analysis of a 1,000,000-event window")
      rows.push(...await analysis1m(progress))
      return rows
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }
}

export default benchmark
