import { assert, describe, it } from "@effect/vitest"
import { newSpace, observe, Tracker, TRIGGER } from "../src/internal/gcPhase.js"

const MB = 1024 * 1024
const options = { afterMs: 3, beforeMs: 4 }

describe("gcPhase (when the bus's rounds keep out of the agents' garbage collection)", () => {
  it("is busy for afterMs after a reported collection ended, then not", () => {
    const tracker = new Tracker(options)
    tracker.busy(0, { used: 2 * MB, available: 14 * MB })
    tracker.collected(10)
    assert.isTrue(tracker.busy(11, { used: 2.1 * MB, available: 13.9 * MB }))
    assert.isTrue(tracker.busy(12.9, { used: 2.2 * MB, available: 13.8 * MB }))
    assert.isFalse(tracker.busy(13.1, { used: 2.3 * MB, available: 13.7 * MB }))
  })

  it("is busy when the young generation emptied since the last reading and no collection was reported yet", () => {
    const tracker = new Tracker(options)
    tracker.busy(0, { used: 9 * MB, available: 7 * MB })
    // the entry for it comes a turn of the event loop late
    assert.isTrue(tracker.busy(20, { used: 2.5 * MB, available: 13.5 * MB }))
    // reported, and more than afterMs ago by the next reading
    tracker.collected(19)
    assert.isFalse(tracker.busy(30, { used: 3 * MB, available: 13 * MB }))
  })

  it("is busy when, at the rate the young generation fills, V8 schedules the next collection within beforeMs", () => {
    const tracker = new Tracker(options)
    // 16 MB, scheduled at 12.8 MB (TRIGGER); filling at 0.5 MB a millisecond
    assert.strictEqual(TRIGGER, 0.8)
    tracker.busy(0, { used: 2 * MB, available: 14 * MB })
    assert.isFalse(tracker.busy(10, { used: 7 * MB, available: 9 * MB }), "11.6 ms to the trigger")
    assert.isFalse(tracker.busy(16, { used: 10 * MB, available: 6 * MB }), "5.6 ms to the trigger")
    assert.isTrue(tracker.busy(19, { used: 11.5 * MB, available: 4.5 * MB }), "2.6 ms to the trigger, 9 to a full space")
  })

  it("past the trigger it is busy whatever the rate: the collection waits for the next turn of the event loop", () => {
    const tracker = new Tracker(options)
    assert.isTrue(tracker.busy(0, { used: 13 * MB, available: 3 * MB }), "the first reading")
  })

  it("is not busy while the rate is unknown (the first reading) or nothing is allocated, short of the trigger", () => {
    const tracker = new Tracker(options)
    assert.isFalse(tracker.busy(0, { used: 12 * MB, available: 4 * MB }))
    assert.isFalse(tracker.busy(50, { used: 12 * MB, available: 4 * MB }))
  })

  it("a collection reported between two readings does not count as the rate the space fills at", () => {
    const tracker = new Tracker(options)
    tracker.busy(0, { used: 2 * MB, available: 14 * MB })
    tracker.busy(10, { used: 3 * MB, available: 13 * MB }) // 0.1 MB/ms
    // a collection, then 11 MB allocated again: the 8 MB "more" in 20 ms is not a rate
    tracker.collected(15)
    assert.isFalse(tracker.busy(30, { used: 11 * MB, available: 5 * MB }), "at 0.1 MB/ms, 18 ms to the trigger")
  })

  it("reads this thread's young generation from V8, and follows its collections", async () => {
    const reading = newSpace()
    assert.isDefined(reading)
    assert.isAbove(reading!.used + reading!.available, 0)
    const phase = observe(options)
    try {
      // allocate through several scavenges: the observer reports them, so right after one it is busy
      let kept: Array<{ readonly n: number; readonly s: string }> = []
      let busyAfterCollection = false
      for (let round = 0; round < 200 && !busyAfterCollection; round++) {
        for (let i = 0; i < 50_000; i++) kept.push({ n: i, s: `x${i}` })
        kept = []
        await new Promise((resolve) => setImmediate(resolve))
        busyAfterCollection = phase.busy()
      }
      assert.isTrue(busyAfterCollection, "busy right after the allocation that forced a scavenge")
    } finally {
      phase.stop()
    }
  })
})
