import { assert, describe, it } from "@effect/vitest"
import { Ids } from "@patinox/core"
import { Effect, TestClock } from "effect"

const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("Ids.makeRunId", () => {
  it.effect("makes UUIDs version 7 that carry the clock's time in their first 48 bits", () =>
    Effect.gen(function*() {
      const at = Date.UTC(2026, 10, 30, 12, 0, 0, 123)
      yield* TestClock.setTime(at)
      const id = yield* Ids.makeRunId
      assert.match(id, v7)
      assert.strictEqual(parseInt(id.replace(/-/g, "").slice(0, 12), 16), at)
    }))

  it.effect("sorts ids made later after ids made earlier, and makes no duplicate within one millisecond", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 1))
      const ids: Array<string> = []
      for (let ms = 0; ms < 300; ms++) {
        // 0.3 ms apart on average: several ids per millisecond, and millisecond boundaries crossed
        if (ms % 3 === 0) yield* TestClock.adjust("1 millis")
        ids.push(yield* Ids.makeRunId)
      }
      const sameMs = yield* Effect.forEach(Array.from({ length: 10_000 }), () => Ids.makeRunId)
      assert.strictEqual(new Set(sameMs).size, 10_000)
      for (let i = 3; i < ids.length; i++) {
        const earlier = ids[i - 3]!
        assert.isTrue(earlier < ids[i]!, `${earlier} should sort before ${ids[i]}`)
      }
    }))
})
