/**
 * The circuit-breaker state machine, pure. Time is epoch milliseconds. Every
 * transition bumps `generation`, and a call's outcome counts only in the
 * generation it was admitted in, so a slow call that returns after the
 * circuit moved on cannot flip it again.
 *
 * @internal
 */

/** @internal */
export type CircuitState = "closed" | "open" | "half_open"

/** @internal */
export interface Settings {
  readonly windowSize: number
  readonly minimumCalls: number
  readonly failureRateThreshold: number
  readonly openDurationMs: number
  readonly halfOpenProbes: number
}

/** @internal */
export type Circuit =
  | { readonly _tag: "Closed"; readonly generation: number; readonly outcomes: ReadonlyArray<boolean> }
  | { readonly _tag: "Open"; readonly generation: number; readonly until: number }
  | { readonly _tag: "HalfOpen"; readonly generation: number; readonly inFlight: number; readonly successes: number }

/** @internal */
export interface Transition {
  readonly from: CircuitState
  readonly to: CircuitState
  readonly failureRate?: number | undefined
  readonly calls?: number | undefined
}

/** @internal */
export type Outcome = "success" | "failure" | "cancelled"

/** @internal */
export const initial: Circuit = { _tag: "Closed", generation: 0, outcomes: [] }

/** @internal */
export const stateOf = (circuit: Circuit): CircuitState =>
  circuit._tag === "Closed" ? "closed" : circuit._tag === "Open" ? "open" : "half_open"

/** Open → half-open once the open duration has passed. @internal */
export const advance = (circuit: Circuit, now: number): readonly [Circuit, ReadonlyArray<Transition>] =>
  circuit._tag === "Open" && now >= circuit.until
    ? [{ _tag: "HalfOpen", generation: circuit.generation + 1, inFlight: 0, successes: 0 }, [{
      from: "open",
      to: "half_open"
    }]]
    : [circuit, []]

/** Whether a call now would be refused, and for how long (ms). @internal */
export const refusal = (circuit: Circuit, now: number, settings: Settings): number | undefined => {
  switch (circuit._tag) {
    case "Closed":
      return undefined
    case "Open":
      return Math.max(0, circuit.until - now)
    case "HalfOpen":
      return circuit.inFlight + circuit.successes < settings.halfOpenProbes ? undefined : 0
  }
}

/** @internal */
export type Admission =
  | { readonly _tag: "Admitted"; readonly generation: number }
  | { readonly _tag: "Refused"; readonly retryAfterMs: number }

/** Admit a call (taking a probe slot when half-open) or refuse it. @internal */
export const admit = (
  circuit: Circuit,
  now: number,
  settings: Settings
): readonly [Admission, Circuit, ReadonlyArray<Transition>] => {
  const [advanced, transitions] = advance(circuit, now)
  const refused = refusal(advanced, now, settings)
  if (refused !== undefined) return [{ _tag: "Refused", retryAfterMs: refused }, advanced, transitions]
  const admitted: Circuit = advanced._tag === "HalfOpen"
    ? { ...advanced, inFlight: advanced.inFlight + 1 }
    : advanced
  return [{ _tag: "Admitted", generation: advanced.generation }, admitted, transitions]
}

const open = (generation: number, now: number, settings: Settings): Circuit => ({
  _tag: "Open",
  generation: generation + 1,
  until: now + settings.openDurationMs
})

/** Records the outcome of a call admitted in `generation`. @internal */
export const record = (
  circuit: Circuit,
  generation: number,
  outcome: Outcome,
  now: number,
  settings: Settings
): readonly [Circuit, ReadonlyArray<Transition>] => {
  if (circuit.generation !== generation) return [circuit, []]
  switch (circuit._tag) {
    case "Open":
      return [circuit, []]
    case "Closed": {
      if (outcome === "cancelled") return [circuit, []]
      const outcomes = [...circuit.outcomes, outcome === "failure"].slice(-settings.windowSize)
      const failures = outcomes.filter((failed) => failed).length
      const failureRate = failures / outcomes.length
      if (outcomes.length >= settings.minimumCalls && failureRate >= settings.failureRateThreshold) {
        return [open(circuit.generation, now, settings), [{
          from: "closed",
          to: "open",
          failureRate,
          calls: outcomes.length
        }]]
      }
      return [{ ...circuit, outcomes }, []]
    }
    case "HalfOpen": {
      const inFlight = Math.max(0, circuit.inFlight - 1)
      if (outcome === "cancelled") return [{ ...circuit, inFlight }, []]
      if (outcome === "failure") return [open(circuit.generation, now, settings), [{ from: "half_open", to: "open" }]]
      const successes = circuit.successes + 1
      if (successes >= settings.halfOpenProbes) {
        return [{ _tag: "Closed", generation: circuit.generation + 1, outcomes: [] }, [{
          from: "half_open",
          to: "closed"
        }]]
      }
      return [{ ...circuit, inFlight, successes }, []]
    }
  }
}

/** @internal */
export const validate = (settings: Settings): string | undefined => {
  if (!Number.isInteger(settings.windowSize) || settings.windowSize < 1) {
    return `windowSize must be a positive integer, got ${settings.windowSize}`
  }
  if (!Number.isInteger(settings.minimumCalls) || settings.minimumCalls < 1 || settings.minimumCalls > settings.windowSize) {
    return `minimumCalls must be an integer between 1 and windowSize (${settings.windowSize}), got ${settings.minimumCalls}`
  }
  if (!(settings.failureRateThreshold > 0 && settings.failureRateThreshold <= 1)) {
    return `failureRateThreshold must be in (0, 1], got ${settings.failureRateThreshold}`
  }
  if (!(settings.openDurationMs >= 0) || !Number.isFinite(settings.openDurationMs)) {
    return `openDuration must be a finite non-negative duration, got ${settings.openDurationMs} ms`
  }
  if (!Number.isInteger(settings.halfOpenProbes) || settings.halfOpenProbes < 1) {
    return `halfOpenProbes must be a positive integer, got ${settings.halfOpenProbes}`
  }
  return undefined
}
