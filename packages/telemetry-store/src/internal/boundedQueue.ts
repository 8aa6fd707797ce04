/**
 * The sink's queue: a fixed ring of slots. Offering fills a slot (no
 * allocation: the MutableQueue it replaces made a list node per event, and a
 * chunk per element taken, some 14 KB per agent run of 13 events), and taking
 * copies the oldest events into one array.
 */
export interface BoundedQueue<A> {
  /** False, and nothing kept, when every slot is taken. */
  readonly offer: (a: A) => boolean
  readonly length: () => number
  /** Up to `max` of the oldest, in order. */
  readonly takeUpTo: (max: number) => Array<A>
}

export const make = <A>(capacity: number): BoundedQueue<A> => {
  const slots = new Array<A | undefined>(capacity).fill(undefined)
  let head = 0
  let size = 0
  return {
    offer: (a) => {
      if (size === capacity) return false
      slots[(head + size) % capacity] = a
      size++
      return true
    },
    length: () => size,
    takeUpTo: (max) => {
      const n = Math.min(max, size)
      const out = new Array<A>(n)
      for (let i = 0; i < n; i++) {
        out[i] = slots[head]!
        slots[head] = undefined // let the event go once it is handed over
        head = head + 1 === capacity ? 0 : head + 1
      }
      size -= n
      return out
    }
  }
}
