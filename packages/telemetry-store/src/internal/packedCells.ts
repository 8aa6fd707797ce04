/**
 * Rows as they cross from the main thread to the write thread: the short
 * strings of the batch in one string, the long ones (payloads) as a list, and
 * two typed arrays that say, cell by cell, what it is (null, number, short or
 * long string). Structured clone then copies one string, one string per
 * event, and moves two buffers, instead of creating some 8 500 strings (a
 * 500-event batch × 17 columns) on the write thread, which measured about
 * 5 µs per event: most of what the write thread did besides inserting.
 */
import type { Cell } from "./columns.js"

export interface PackedCells {
  /** The short strings of the cells, in cell order, concatenated. */
  readonly text: string
  /** The long strings (payloads), in cell order, each as it is: copied once by the clone, not joined first. */
  readonly long: ReadonlyArray<string>
  /** Per cell: 0 null, 1 number, 2 short string, 3 long string. */
  readonly kinds: Uint8Array
  /** Per cell: the number, or the end offset of the short string in `text`. */
  readonly values: Float64Array
}

const NULL = 0
const NUMBER = 1
const STRING = 2
const LONG = 3
/** Longer strings travel on their own: joining them would copy them once more on the sending thread. */
const LONG_STRING = 64

/** Packs cells as they come, a slice at a time, without keeping them. */
export interface Builder {
  readonly append: (cells: ReadonlyArray<Cell>) => void
  readonly build: () => PackedCells
}

/**
 * A builder for at most `capacity` cells (more grow it): the typed arrays are
 * allocated once, outside the JS heap, and filled in place.
 */
export const builder = (capacity: number): Builder => {
  let kinds = new Uint8Array(Math.max(1, capacity))
  let values = new Float64Array(Math.max(1, capacity))
  let length = 0
  const parts: Array<string> = []
  const long: Array<string> = []
  let end = 0
  const grow = (needed: number) => {
    const size = Math.max(needed, kinds.length * 2)
    const nextKinds = new Uint8Array(size)
    nextKinds.set(kinds)
    kinds = nextKinds
    const nextValues = new Float64Array(size)
    nextValues.set(values)
    values = nextValues
  }
  return {
    append: (cells) => {
      if (length + cells.length > kinds.length) grow(length + cells.length)
      for (let i = 0; i < cells.length; i++, length++) {
        const cell = cells[i]
        if (typeof cell === "number") {
          kinds[length] = NUMBER
          values[length] = cell
        } else if (typeof cell === "string") {
          if (cell.length > LONG_STRING) {
            kinds[length] = LONG
            long.push(cell)
          } else {
            end += cell.length
            kinds[length] = STRING
            values[length] = end
            parts.push(cell)
          }
        } else {
          kinds[length] = NULL
        }
      }
    },
    build: () => ({ text: parts.join(""), long, kinds: kinds.subarray(0, length), values: values.subarray(0, length) })
  }
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
  const { kinds, long, text, values } = packed
  const cells = new Array<Cell>(kinds.length)
  let start = 0
  let next = 0
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
      case LONG: {
        cells[i] = long[next++]!
        break
      }
      default:
        cells[i] = null
    }
  }
  return cells
}
