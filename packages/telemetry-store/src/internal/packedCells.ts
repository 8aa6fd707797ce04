/**
 * Rows as they cross from the main thread to the write thread: every
 * string of the batch in one string, and two typed arrays that say, cell by
 * cell, what it is (null, number, or the end of its text). Structured clone
 * then copies one string and moves two buffers, instead of creating some
 * 8 500 strings (a 500-event batch × 17 columns) on the write thread, which
 * measured about 5 µs per event: most of what the write thread did besides
 * inserting.
 */
import type { Cell } from "./columns.js"

export interface PackedCells {
  /** The strings of the cells, in cell order, concatenated. */
  readonly text: string
  /** Per cell: 0 null, 1 number, 2 string. */
  readonly kinds: Uint8Array
  /** Per cell: the number, or the end offset of the string in `text`. */
  readonly values: Float64Array
}

const NULL = 0
const NUMBER = 1
const STRING = 2

/** Packs cells as they come, a slice at a time, without keeping them. */
export interface Builder {
  readonly append: (cells: ReadonlyArray<Cell>) => void
  readonly build: () => PackedCells
}

export const builder = (): Builder => {
  const kinds: Array<number> = []
  const values: Array<number> = []
  const parts: Array<string> = []
  let end = 0
  return {
    append: (cells) => {
      for (let i = 0; i < cells.length; i++) {
        const cell = cells[i]
        if (typeof cell === "number") {
          kinds.push(NUMBER)
          values.push(cell)
        } else if (typeof cell === "string") {
          end += cell.length
          kinds.push(STRING)
          values.push(end)
          parts.push(cell)
        } else {
          kinds.push(NULL)
          values.push(0)
        }
      }
    },
    build: () => ({ text: parts.join(""), kinds: Uint8Array.from(kinds), values: Float64Array.from(values) })
  }
}

export const pack = (cells: ReadonlyArray<Cell>): PackedCells => {
  const packer = builder()
  packer.append(cells)
  return packer.build()
}

/** The buffers to move rather than copy when posting `packed`. */
export const transferables = (packed: PackedCells): Array<ArrayBuffer> => {
  const out: Array<ArrayBuffer> = []
  for (const view of [packed.kinds, packed.values]) {
    if (view.buffer instanceof ArrayBuffer && !out.includes(view.buffer)) out.push(view.buffer)
  }
  return out
}

export const unpack = (packed: PackedCells): Array<Cell> => {
  const { kinds, text, values } = packed
  const cells = new Array<Cell>(kinds.length)
  let start = 0
  for (let i = 0; i < kinds.length; i++) {
    switch (kinds[i]) {
      case NUMBER: {
        cells[i] = values[i]!
        break
      }
      case STRING: {
        const end = values[i]!
        cells[i] = text.slice(start, end)
        start = end
        break
      }
      default:
        cells[i] = null
    }
  }
  return cells
}
