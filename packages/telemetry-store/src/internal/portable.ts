/**
 * Makes an event safe to post to the write thread as it is. A structured
 * clone keeps an object's own data and drops its prototype, so a context
 * value whose JSON comes from its class (Effect's `Option`, anything with a
 * `toJSON`) would be stored differently there, and a function cannot be
 * cloned at all. The event's own parts (core's schema classes: data, no
 * `toJSON`) clone faithfully; only the free-form `context` is checked.
 */
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"
import { Predicate } from "effect"

/** Deeper than this, a context is normalised rather than walked further (and a cycle never loops here). */
const MAX_DEPTH = 4

const clonesAsJson = (u: unknown, depth: number): boolean => {
  switch (typeof u) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return true
    case "object": {
      if (u === null) return true
      if (depth >= MAX_DEPTH) return false
      if (Array.isArray(u)) return u.every((item) => clonesAsJson(item, depth + 1))
      const proto: unknown = Object.getPrototypeOf(u)
      if (proto !== Object.prototype && proto !== null) return false
      for (const key in u) {
        if (Object.hasOwn(u, key) && !clonesAsJson(Reflect.get(u, key), depth + 1)) return false
      }
      return true
    }
    default:
      return false // bigint, symbol, function
  }
}

/**
 * The event as it is when its context clones faithfully; otherwise with the
 * context replaced by its JSON, which is what would be stored anyway. Throws
 * what `JSON.stringify` throws (a `BigInt`, a cycle, a getter that throws):
 * the caller counts the event as failed.
 */
export const portable = (event: TelemetryEvent): TelemetryEvent => {
  let faithful: boolean
  try {
    faithful = clonesAsJson(event.context, 0)
  } catch {
    faithful = false // a getter that throws: JSON.stringify below says why
  }
  if (faithful) return event
  const json = JSON.stringify(event.context)
  const context: unknown = json === undefined ? {} : JSON.parse(json)
  return { ...event, context: Predicate.isRecord(context) ? context : {} }
}
