/**
 * Whether an event can go to the write thread as it is (a structured clone)
 * and be stored there exactly as the main thread would store it.
 *
 * A clone keeps an object's own data and drops its prototype, so anything
 * whose JSON comes from its class (a `toJSON`, like Effect's `Option` or a
 * `Date`, or fields on the prototype) would be stored differently, and a
 * function cannot be cloned at all. The event's own parts (actions,
 * results, decisions: core's schema classes, all data and no `toJSON`) are
 * safe; its free `context` is checked: primitives, arrays and plain objects
 * only, a few levels deep. Anything else is prepared on the main thread,
 * where an event that cannot be serialised is left out and counted.
 */
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"

/** Deeper than this, a context is prepared on the main thread (and a cycle never loops here). */
const MAX_DEPTH = 4

const portableValue = (u: unknown, depth: number): boolean => {
  switch (typeof u) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return true
    case "object": {
      if (u === null) return true
      if (depth >= MAX_DEPTH) return false
      if (Array.isArray(u)) {
        for (let i = 0; i < u.length; i++) if (!portableValue(u[i], depth + 1)) return false
        return true
      }
      const proto: unknown = Object.getPrototypeOf(u)
      if (proto !== Object.prototype && proto !== null) return false
      for (const key in u) {
        if (Object.hasOwn(u, key) && !portableValue(Reflect.get(u, key), depth + 1)) return false
      }
      return true
    }
    default:
      // bigint (JSON refuses it: the main thread counts it as failed), symbol, function
      return false
  }
}

/** A getter that throws makes the event not portable: the main thread then counts it as failed. */
export const isPortable = (event: TelemetryEvent): boolean => {
  try {
    return portableValue(event.context, 0)
  } catch {
    return false
  }
}

/** Every event of the batch is portable. */
export const allPortable = (events: ReadonlyArray<TelemetryEvent>): boolean => {
  for (let i = 0; i < events.length; i++) if (!isPortable(events[i]!)) return false
  return true
}
