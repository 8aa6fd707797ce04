import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Migrations } from "@patinox/telemetry-store"
import { TempDir } from "@patinox/testing"
import { Effect, Layer, Ref, Schema, TestClock } from "effect"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"
import { Analysis, MetaConfig, MetaLayer, ProposalStore, Publisher, Replay } from "../src/index.js"

const agent = `name: helper
description: Helps.
instructions: You help.
maxSteps: 4
tools: []
`

// Everything a pass needs, on a real store; the analyser counts the passes that reached it.
const setup = (schedule: string, enabled = true) =>
  Effect.gen(function*() {
    const dir = yield* TempDir.make("patinox-meta-layer-")
    const agents = join(dir, "agents")
    mkdirSync(agents)
    writeFileSync(join(agents, "helper.yaml"), agent)
    const passes = yield* Ref.make(0)
    const counting: Analysis.Analyser = { name: "counting", analyse: () => Effect.as(Ref.update(passes, (n) => n + 1), []) }
    const sqlite = SqliteClient.layer({ filename: join(dir, "store.db") })
    const services = Layer.mergeAll(
      Analysis.withAnalyser(counting),
      ProposalStore.layer,
      Layer.succeed(Replay.Replayer, { replay: () => Effect.succeed([]) }),
      Layer.succeed(Publisher.Publisher, {
        publish: () => Effect.fail(new Publisher.GitError({ command: "git", message: "not used" }))
      })
    ).pipe(Layer.provideMerge(Layer.effectDiscard(Migrations.run()).pipe(Layer.provideMerge(sqlite))))
    const config = Schema.decodeUnknownSync(MetaConfig.MetaConfig)({ schedule, enabled })
    yield* Layer.build(
      MetaLayer.layer({ config, behaviourDir: agents, pathInRepo: basename }).pipe(Layer.provide(services))
    )
    return { passes, agents }
  })

describe("MetaLayer.layer", () => {
  it.scoped("runs a pass on each interval, the first one interval after start", () =>
    Effect.gen(function*() {
      const { passes } = yield* setup("1 hour")
      yield* TestClock.adjust("59 minutes")
      assert.strictEqual(yield* Ref.get(passes), 0)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Ref.get(passes), 1)
      yield* TestClock.adjust("2 hours")
      assert.strictEqual(yield* Ref.get(passes), 3)
    }))

  it.scoped("a failed pass is logged and the next one runs on time", () =>
    Effect.gen(function*() {
      const { agents, passes } = yield* setup("30 minutes")
      // Without its behaviour folder the pass fails after analysing; the fiber must survive it.
      rmSync(agents, { recursive: true })
      yield* TestClock.adjust("30 minutes")
      assert.strictEqual(yield* Ref.get(passes), 1)
      mkdirSync(agents)
      writeFileSync(join(agents, "helper.yaml"), agent)
      yield* TestClock.adjust("30 minutes")
      assert.strictEqual(yield* Ref.get(passes), 2)
    }))

  it.scoped("follows a cron expression", () =>
    Effect.gen(function*() {
      const { passes } = yield* setup("0 3 * * *")
      // The test clock starts at the epoch, 00:00 UTC: the first 03:00 is three hours on.
      yield* TestClock.adjust("2 hours")
      assert.strictEqual(yield* Ref.get(passes), 0)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Ref.get(passes), 1)
      yield* TestClock.adjust("24 hours")
      assert.strictEqual(yield* Ref.get(passes), 2)
    }))

  it.scoped("runs nothing when meta.enabled is false", () =>
    Effect.gen(function*() {
      const { passes } = yield* setup("1 hour", false)
      yield* TestClock.adjust("5 hours")
      assert.strictEqual(yield* Ref.get(passes), 0)
    }))

  it("a bad meta.schedule is a config error naming what it cannot read", () => {
    const decoded = Schema.decodeUnknownEither(MetaConfig.MetaConfig)({ schedule: "whenever" })
    assert.isTrue(decoded._tag === "Left")
    assert.include(String(decoded._tag === "Left" ? decoded.left.message : ""), "neither an interval")
  })
})
