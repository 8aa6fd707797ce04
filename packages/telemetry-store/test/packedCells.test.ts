import { assert, describe, it } from "@effect/vitest"
import type { Cell } from "../src/internal/columns.js"
import { builder, transferables, unpack } from "../src/internal/packedCells.js"

const pack = (cells: ReadonlyArray<Cell>) => {
  const packer = builder(cells.length)
  packer.append(cells)
  return packer.build()
}

describe("packed cells (rows crossing to the write thread)", () => {
  it("come back exactly: nulls, empty strings, numbers, and text outside ASCII", () => {
    const cells: Array<Cell> = [
      1_764_489_600_123,
      "tool.end",
      null,
      "",
      0,
      -2.5,
      "{\"content\":\"naïve café ☕ 𝄞 — 日本語\"}",
      null,
      "x".repeat(70_000),
      Number.MAX_SAFE_INTEGER
    ]
    assert.deepStrictEqual(unpack(pack(cells)), cells)
  })

  it("survive a structured clone with their buffers moved", () => {
    const cells: Array<Cell> = ["a", 1, null, "bcd"]
    const packed = pack(cells)
    const moved = transferables(packed)
    const cloned = structuredClone(packed, { transfer: moved })
    assert.strictEqual(packed.kinds.byteLength, 0, "the buffer left this side")
    assert.deepStrictEqual(unpack(cloned), cells)
  })

  it("come back in order when slices outgrow the room foreseen, short and long strings mixed", () => {
    const packer = builder(4)
    const all: Array<Cell> = []
    for (let slice = 0; slice < 5; slice++) {
      const cells: Array<Cell> = [slice, `short-${slice}`, null, `long-${slice}-${"y".repeat(100)}`, ""]
      packer.append(cells)
      all.push(...cells)
    }
    assert.deepStrictEqual(unpack(packer.build()), all)
  })

  it("hold an empty batch", () => {
    assert.deepStrictEqual(unpack(pack([])), [])
  })
})
