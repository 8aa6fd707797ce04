import { assert, describe, it } from "@effect/vitest"
import * as BoundedQueue from "../src/internal/boundedQueue.js"

describe("the sink's bounded queue", () => {
  it("keeps order across the end of its ring, and refuses offers only when full", () => {
    const queue = BoundedQueue.make<number>(4)
    for (let i = 1; i <= 4; i++) assert.isTrue(queue.offer(i))
    assert.isFalse(queue.offer(5))
    assert.deepStrictEqual(queue.takeUpTo(3), [1, 2, 3])
    // the next offers wrap around to the slots just freed
    for (let i = 6; i <= 8; i++) assert.isTrue(queue.offer(i))
    assert.isFalse(queue.offer(9))
    assert.strictEqual(queue.length(), 4)
    assert.deepStrictEqual(queue.takeUpTo(10), [4, 6, 7, 8])
    assert.strictEqual(queue.length(), 0)
    assert.deepStrictEqual(queue.takeUpTo(10), [])
  })
})
