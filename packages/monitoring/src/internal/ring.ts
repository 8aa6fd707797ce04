import { Chunk, Queue } from "effect"

/**
 * A fixed array ring as a `Queue`'s backing store. The bus needs it for two
 * things Effect's bounded queues do not offer synchronously: sliding out the
 * oldest event inside the publisher's step (so each drop is counted where it
 * happens), and the length without allocating an `Option`. It also allocates
 * nothing per event, where a bounded queue's linked list takes a node.
 */
export class Ring<in out A> implements Queue.BackingQueue<A> {
  readonly [Queue.BackingQueueTypeId] = { _A: (a: A) => a }
  private readonly items: Array<A | undefined>
  private head = 0
  private size = 0

  constructor(private readonly max: number) {
    this.items = new Array<A | undefined>(max)
  }

  poll<Def>(def: Def): A | Def {
    if (this.size === 0) return def
    const item = this.items[this.head] as A
    this.items[this.head] = undefined
    this.head = this.head + 1 === this.max ? 0 : this.head + 1
    this.size--
    return item
  }

  pollUpTo(limit: number): Chunk.Chunk<A> {
    const n = Math.min(limit, this.size)
    const out = new Array<A>(n)
    for (let i = 0; i < n; i++) out[i] = this.poll(undefined) as A
    return Chunk.unsafeFromArray(out)
  }

  offerAll(elements: Iterable<A>): Chunk.Chunk<A> {
    const rest: Array<A> = []
    for (const element of elements) if (!this.offer(element)) rest.push(element)
    return Chunk.unsafeFromArray(rest)
  }

  offer(element: A): boolean {
    if (this.size === this.max) return false
    const at = this.head + this.size
    this.items[at >= this.max ? at - this.max : at] = element
    this.size++
    return true
  }

  capacity(): number {
    return this.max
  }

  length(): number {
    return this.size
  }
}
