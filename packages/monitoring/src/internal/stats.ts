import type { TelemetryEvent } from "@patinox/core"

/** @internal A fixed-size ring of the most recent values. */
export class Ring<A> {
  private readonly items: Array<A | undefined>
  private next = 0
  private count = 0
  constructor(readonly capacity: number) {
    this.items = new Array(capacity)
  }
  push(value: A): void {
    this.items[this.next] = value
    this.next = (this.next + 1) % this.capacity
    if (this.count < this.capacity) this.count++
  }
  get size(): number {
    return this.count
  }
  /** Oldest first. */
  toArray(): Array<A> {
    const out: Array<A> = []
    const start = (this.next - this.count + this.capacity) % this.capacity
    for (let i = 0; i < this.count; i++) {
      const value = this.items[(start + i) % this.capacity]
      if (value !== undefined) out.push(value)
    }
    return out
  }
  last(): A | undefined {
    return this.count === 0 ? undefined : this.items[(this.next - 1 + this.capacity) % this.capacity]
  }
  clear(): void {
    this.items.fill(undefined)
    this.next = 0
    this.count = 0
  }
}

/** @internal Nearest-rank percentile of an unsorted sample; 0 when empty. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? 0
}

/**
 * @internal A map that keeps at most `capacity` entries, evicting the oldest
 * inserted; `onEvict` learns of each eviction.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>()
  evicted = 0
  constructor(readonly capacity: number) {}
  get(key: K): V | undefined {
    return this.map.get(key)
  }
  set(key: K, value: V): void {
    if (!this.map.has(key) && this.map.size >= this.capacity) {
      const oldest = this.map.keys().next()
      if (oldest.done !== true) {
        this.map.delete(oldest.value)
        this.evicted++
      }
    }
    this.map.set(key, value)
  }
  delete(key: K): boolean {
    return this.map.delete(key)
  }
  get size(): number {
    return this.map.size
  }
  clear(): void {
    this.map.clear()
    this.evicted = 0
  }
  entries(): IterableIterator<[K, V]> {
    return this.map.entries()
  }
}

/** @internal A string field of an event's context, if it is one. */
export const contextString = (event: TelemetryEvent.TelemetryEvent, field: string): string | undefined => {
  const value = event.context[field]
  return typeof value === "string" && value !== "" ? value : undefined
}

/** @internal A number field of an event's context, if it is one. */
export const contextNumber = (event: TelemetryEvent.TelemetryEvent, field: string): number | undefined => {
  const value = event.context[field]
  return typeof value === "number" && Number.isFinite(value) ? value : undefined
}

/** @internal The error tag of a failure event: its `Failure` result, else `context.error`. */
export const errorTagOf = (event: TelemetryEvent.TelemetryEvent): string => {
  if (event.result !== undefined && event.result._tag === "Failure") return event.result.error
  return contextString(event, "error") ?? "UnknownError"
}

/** @internal The key pairing a model request with its response: the request id, else run and step. */
export const modelCallKey = (event: TelemetryEvent.TelemetryEvent): string | undefined => {
  const requestId = contextString(event, "requestId")
  if (requestId !== undefined) return requestId
  const step = event.context["step"]
  return event.runId === undefined || (typeof step !== "number" && typeof step !== "string")
    ? undefined
    : `${event.runId}:${step}`
}

/** @internal The key pairing a tool start with its end. */
export const toolCallKey = (event: TelemetryEvent.TelemetryEvent): string | undefined => {
  const id = contextString(event, "toolCallId")
  const tool = contextString(event, "tool")
  if (id === undefined && tool === undefined) return undefined
  return `${event.runId ?? ""}|${id ?? ""}|${tool ?? ""}`
}
