import { assert, describe, it } from "@effect/vitest"
import { Worker } from "node:worker_threads"
import * as GcGate from "../src/internal/gcGate.js"
import { builder } from "../src/internal/packedCells.js"
import type { EventsBatch, PreparedBatch } from "../src/internal/protocol.js"

/** A gate whose scavenges came every `period` ms, the last `since` ms ago. */
const gateWith = (period: number, since: number) => {
  const shared = GcGate.empty()
  const at = GcGate.now(shared.origin)
  GcGate.scavenged(shared, at - since - period)
  GcGate.scavenged(shared, at - since)
  return { shared, at }
}

describe("the write thread's gate on the agents' scavenges", () => {
  it("learns the period from the scavenges, and forgets it after a quiet spell", () => {
    const shared = GcGate.empty()
    GcGate.scavenged(shared, 1_000)
    assert.strictEqual(GcGate.waitFor(shared, 1_030), 0, "one scavenge: no period yet")
    GcGate.scavenged(shared, 1_020)
    GcGate.scavenged(shared, 1_040)
    assert.strictEqual(shared.cells[1], 20)
    assert.strictEqual(shared.cells[2], 3, "scavenges counted")
    GcGate.scavenged(shared, 1_040 + GcGate.MAX_PERIOD_MS + 1)
    assert.strictEqual(shared.cells[1], 0, "a gap longer than MAX_PERIOD_MS: the period is unknown again")
  })

  it("waits only in the second half of the period, until the next scavenge is due", () => {
    const shared = GcGate.empty()
    for (const end of [0, 40, 80]) GcGate.scavenged(shared, end)
    assert.strictEqual(GcGate.waitFor(shared, 80 + 10), 0, "first half: the write thread works")
    assert.strictEqual(GcGate.waitFor(shared, 80 + 30), 30, "second half: until 1.5 periods after the last")
    assert.strictEqual(GcGate.waitFor(shared, 80 + 59), 1)
    assert.strictEqual(GcGate.waitFor(shared, 80 + 60), 0, "the scavenge is late: no wait")
  })

  it("lets the run a scavenge fell in finish first: SETTLE_MS after it ends", () => {
    const shared = GcGate.empty()
    for (const end of [0, 40, 80]) GcGate.scavenged(shared, end)
    assert.strictEqual(GcGate.settleFor(shared, 80), GcGate.SETTLE_MS, "the moment it ends")
    assert.strictEqual(GcGate.settleFor(shared, 81), GcGate.SETTLE_MS - 1)
    assert.strictEqual(GcGate.settleFor(shared, 80 + GcGate.SETTLE_MS), 0, "settled: the window is open")
    assert.strictEqual(GcGate.waitFor(shared, 80 + GcGate.SETTLE_MS), 0)
    const close = GcGate.empty()
    for (const end of [0, 2 * GcGate.SETTLE_MS, 4 * GcGate.SETTLE_MS]) GcGate.scavenged(close, end)
    assert.strictEqual(GcGate.settleFor(close, 4 * GcGate.SETTLE_MS), 0, "no window after settling: no settling")
    const unknown = GcGate.empty()
    GcGate.scavenged(unknown, 100)
    assert.strictEqual(GcGate.settleFor(unknown, 101), 0, "period unknown")
  })

  it("holds a batch that comes right after a scavenge until the settling is over, and no longer", () => {
    const { shared } = gateWith(40, 0)
    const t0 = performance.now()
    GcGate.hold(shared)
    const held = performance.now() - t0
    assert.isAtLeast(held, GcGate.SETTLE_MS - 1.5, `held ${held} ms of a ${GcGate.SETTLE_MS} ms settling`)
    assert.isBelow(held, 15, `held ${held} ms: the window was open after the settling`)
  })

  it("never waits longer than MAX_WAIT_MS, nor for scavenges too far apart to matter", () => {
    assert.strictEqual(GcGate.waitFor(gateWith(180, 100).shared), GcGate.MAX_WAIT_MS)
    assert.strictEqual(GcGate.waitFor(gateWith(GcGate.MAX_PERIOD_MS + 50, 150).shared), 0)
  })

  it("lets only a batch sent while the write thread keeps up, alone in its inbox, wait", () => {
    const events = (mayWait: boolean): EventsBatch => ({ _tag: "Events", id: 0, events: [], mayWait })
    const rows: PreparedBatch = {
      _tag: "Rows",
      id: 0,
      count: 0,
      rows: { events: builder(0).build(), alerts: builder(0).build(), failed: 0, failure: undefined },
      prepareMs: 0
    }
    assert.isTrue(GcGate.mayHold(events(true), 0))
    assert.isFalse(GcGate.mayHold(events(true), 1), "others waiting: write now")
    assert.isFalse(GcGate.mayHold(events(false), 0), "sent under load (whole batches)")
    assert.isFalse(GcGate.mayHold(rows, 0), "rows the main thread built because the sink fell behind")
    assert.isFalse(GcGate.mayHold({ _tag: "Stop" }, 0))
  })

  it("holds for the wait, and no longer once the next scavenge ends (noticed from another thread)", async () => {
    const alone = gateWith(80, 50)
    const t0 = performance.now()
    GcGate.hold(alone.shared)
    const held = performance.now() - t0
    assert.isAtLeast(held, 40, `held ${held} ms; due to wait 50 ms`)

    // Another thread records the next scavenge about 5 ms into a 50 ms hold, as the main thread's observer does.
    const woken = gateWith(80, 50)
    const worker = new Worker(
      `const { workerData: { cells } } = require("node:worker_threads");
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
       Atomics.add(cells, 2, 1);
       Atomics.notify(cells, 2);`,
      { eval: true, workerData: { cells: woken.shared.cells } }
    )
    await new Promise((resolve) => worker.once("online", resolve))
    const t1 = performance.now()
    GcGate.hold(woken.shared)
    const heldWoken = performance.now() - t1
    await worker.terminate()
    assert.isBelow(heldWoken, 40, `woken after ${heldWoken} ms of a 50 ms hold`)
  })

  it("sees the main thread's own scavenges", async () => {
    const gate = GcGate.observe()
    try {
      let kept: Array<{ readonly n: number }> = []
      for (let i = 0; i < 2_000_000; i++) {
        kept.push({ n: i })
        if (kept.length > 1_000) kept = []
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
      assert.isAtLeast(gate.shared.cells[2]!, 2, "scavenges counted")
      assert.isAbove(gate.shared.cells[1]!, 0, "a period learnt")
      assert.isAtMost(gate.shared.cells[1]!, GcGate.MAX_PERIOD_MS)
    } finally {
      gate.stop()
    }
  })
})
