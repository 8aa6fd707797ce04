/**
 * A validator that rate-limits actions with two token buckets per key: one
 * on requests, one on (estimated) model tokens. The key is the end user
 * (`context.userId`, which the service sets from the API token or the client
 * address) or, when the caller does not say, one shared bucket.
 *
 * - Enough in both buckets: `Approved`, and the request is paid for.
 * - Not enough, and the refill would take at most `waitBudget`: the request
 *   reserves its share now (the bucket goes into debt, so callers are served
 *   in turn) and the validator waits for it, then `Approved`. Waiting here
 *   rather than answering `Retry` is what keeps a busy key fair: a `Retry`
 *   reserves nothing, so under load every waiter found the bucket emptied
 *   again by others and gave up after its retries.
 * - Not enough and the wait is longer, or the request alone is larger than a
 *   bucket's capacity: `Rejected` at once (no waiting), with a reason naming
 *   the key and the wait, and `retryAfterMs` (the wait) for a caller's
 *   `Retry-After`. An interrupted wait gives its reservation up to no one: it
 *   errs on the side of limiting.
 *
 * Time comes from `Clock` (so `TestClock` drives it). Buckets live in one
 * `Ref` holding an immutable map, bounded by `maxKeys` (default 10 000):
 * when a new key pushes it past the bound, buckets that are full again are
 * dropped first (a full bucket is the same as no bucket, so nothing is lost);
 * if every bucket is still in use, the least recently charged ones go, which
 * errs on the side of allowing those keys.
 *
 * @since 0.1.0
 */
import type { AgentAction, Monitor, ValidationPipeline } from "@patinox/core"
import { Decision } from "@patinox/core"
import { Clock, Duration, Effect, HashMap, Layer, Option, Ref } from "effect"
import * as Bucket from "./internal/bucket.js"
import * as Pipeline from "./Pipeline.js"
import * as Validator from "./Validator.js"

/** @since 0.1.0 @category models */
export interface BucketConfig {
  /** The most the bucket holds (and the largest single request it accepts). */
  readonly capacity: number
  /** How much comes back per second. */
  readonly refillPerSecond: number
}

/** @since 0.1.0 @category models */
export interface Config {
  /** Requests per key. */
  readonly requests: BucketConfig
  /** Estimated model tokens per key; omit to limit requests only. */
  readonly tokens?: BucketConfig | undefined
  /** The longest refill wait the validator sits out; longer waits are `Rejected` at once. */
  readonly waitBudget: Duration.DurationInput
  /** Default: `defaultKeyOf` (the user when the context carries one, else one shared key). */
  readonly keyOf?: ((action: AgentAction.AgentAction, context: Validator.ValidationContext) => string) | undefined
  /** Tokens an action costs. Default: `estimateTokens`. */
  readonly costOf?: ((action: AgentAction.AgentAction) => number) | undefined
  /** Default `["model_request"]`. */
  readonly stages?: ReadonlyArray<Validator.Stage> | undefined
  /** Default `"rate-limiter"`. */
  readonly name?: string | undefined
  /** Default `defaultPriority`. */
  readonly priority?: number | undefined
  /** The most keys kept at once. Default 10 000. */
  readonly maxKeys?: number | undefined
}

/** @since 0.1.0 @category models */
export interface RateLimiter extends Validator.Validator<never> {
  /** What `key` has available now (full buckets for a key never seen; negative while reserved ahead). */
  readonly available: (key: string) => Effect.Effect<{ readonly requests: number; readonly tokens: number | undefined }>
  /** How many keys hold a bucket. */
  readonly size: Effect.Effect<number>
}

/** Runs after the circuit breaker: an open circuit should not spend rate. @since 0.1.0 @category defaults */
export const defaultPriority = 20

/** @since 0.1.0 @category defaults */
export const defaultMaxKeys = 10_000

/**
 * Limits sized for one service with a handful of users: 600 model requests
 * at once and 20 a second (1,200 a minute) per user; 1M estimated tokens at
 * once and ~16.7k a second (1M a minute); waits of up to 1 s are sat out.
 * An agent run takes 2-4 model requests, so one user (or every caller the
 * service cannot tell apart, who share a bucket) can make a few hundred runs
 * a minute and a burst of 200 clients is not refused, while a runaway loop
 * is still stopped within seconds. A wait longer than a second is better
 * answered at once with the time to come back than by holding a connection.
 *
 * @since 0.1.0 @category defaults
 */
export const defaults = {
  requests: { capacity: 600, refillPerSecond: 20 },
  tokens: { capacity: 1_000_000, refillPerSecond: 16_667 },
  waitBudget: "1 second",
  maxKeys: defaultMaxKeys
} as const satisfies Config

/** The key of every action whose context names no user. @since 0.1.0 @category keys */
export const sharedKey = "shared"

/**
 * `user:<userId>` when the validation context names the end user, else
 * `sharedKey`: one bucket for every caller the service cannot tell apart.
 * Agents and models are not part of the key, so a user's delegated and
 * direct runs draw on the same allowance.
 *
 * @since 0.1.0 @category keys
 */
export const defaultKeyOf = (_action: AgentAction.AgentAction, context: Validator.ValidationContext): string =>
  context.userId === undefined || context.userId === "" ? sharedKey : `user:${context.userId}`

/**
 * About four characters per token over what a model call sends: message
 * contents, tool-call names and arguments, tool names. Other actions cost 0
 * tokens (they still cost a request).
 *
 * @since 0.1.0 @category costs
 */
export const estimateTokens = (action: AgentAction.AgentAction): number => {
  if (action._tag !== "ModelCall") return 0
  let chars = 0
  for (const message of action.messages) {
    if (message.content !== null) chars += message.content.length
    if (message._tag === "assistant") {
      for (const call of message.toolCalls) chars += call.name.length + call.arguments.length
    }
  }
  for (const tool of action.tools) chars += tool.length
  return Math.ceil(chars / 4)
}

interface KeyState {
  readonly requests: Bucket.Bucket
  readonly tokens: Bucket.Bucket | undefined
  /** When the key was last charged: the eviction order when every bucket is in use. */
  readonly usedAt: number
}

type Outcome =
  | { readonly _tag: "Approved" }
  | { readonly _tag: "Wait"; readonly waitMs: number }
  | { readonly _tag: "Rejected"; readonly reason: string; readonly waitMs: number }

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/**
 * Builds the rate limiter; dies on an invalid configuration.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (config: Config): Effect.Effect<RateLimiter> =>
  Effect.gen(function*() {
    const problem = Bucket.validate("requests", config.requests) ??
      (config.tokens === undefined ? undefined : Bucket.validate("tokens", config.tokens))
    if (problem !== undefined) return yield* Effect.dieMessage(`RateLimiter: ${problem}`)
    const maxKeys = config.maxKeys ?? defaultMaxKeys
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      return yield* Effect.dieMessage(`RateLimiter: maxKeys must be a positive integer, got ${maxKeys}`)
    }
    const waitBudgetMs = Duration.toMillis(config.waitBudget)
    const keyOf = config.keyOf ?? defaultKeyOf
    const costOf = config.costOf ?? estimateTokens
    const requestsConfig = config.requests
    const tokensConfig = config.tokens
    const ref = yield* Ref.make(HashMap.empty<string, KeyState>())

    const current = (map: HashMap.HashMap<string, KeyState>, key: string, now: number): KeyState =>
      Option.match(HashMap.get(map, key), {
        onNone: () => ({
          requests: Bucket.full(requestsConfig, now),
          tokens: tokensConfig === undefined ? undefined : Bucket.full(tokensConfig, now),
          usedAt: now
        }),
        onSome: (state) => ({
          requests: Bucket.refill(requestsConfig, state.requests, now),
          tokens: tokensConfig === undefined || state.tokens === undefined
            ? state.tokens
            : Bucket.refill(tokensConfig, state.tokens, now),
          usedAt: state.usedAt
        })
      })

    const isIdle = (state: KeyState, now: number) =>
      Bucket.isFullAt(requestsConfig, state.requests, now) &&
      (tokensConfig === undefined || state.tokens === undefined || Bucket.isFullAt(tokensConfig, state.tokens, now))

    // Runs only when a new key overflows the map: one pass drops the idle buckets, and while
    // every bucket is in use one more pass per excess key finds the least recently charged.
    const bounded = (map: HashMap.HashMap<string, KeyState>, keep: string, now: number) => {
      if (HashMap.size(map) <= maxKeys) return map
      let out = HashMap.filter(map, (state, key) => key === keep || !isIdle(state, now))
      while (HashMap.size(out) > maxKeys) {
        let oldest: string | undefined
        let oldestAt = Number.POSITIVE_INFINITY
        for (const [key, state] of out) {
          if (key !== keep && state.usedAt < oldestAt) {
            oldest = key
            oldestAt = state.usedAt
          }
        }
        if (oldest === undefined) break
        out = HashMap.remove(out, oldest)
      }
      return out
    }

    const validate = (action: AgentAction.AgentAction, context: Validator.ValidationContext) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const key = keyOf(action, context)
        const tokenCost = tokensConfig === undefined ? 0 : Math.max(0, costOf(action))
        if (requestsConfig.capacity < 1) {
          return Decision.Rejected({
            reason: `rate limit for key ${key}: request capacity ${requestsConfig.capacity} is below one request`
          })
        }
        if (tokensConfig !== undefined && tokenCost > tokensConfig.capacity) {
          return Decision.Rejected({
            reason: `rate limit for key ${key}: the request needs ${plural(tokenCost, "token")}, more than the ${
              plural(tokensConfig.capacity, "token")
            } allowed at once; it can never pass`
          })
        }
        const outcome = yield* Ref.modify(ref, (map): readonly [Outcome, HashMap.HashMap<string, KeyState>] => {
          const state = current(map, key, now)
          const requestWait = Bucket.waitFor(requestsConfig, state.requests, 1)
          const tokenWait = tokensConfig === undefined || state.tokens === undefined
            ? 0
            : Bucket.waitFor(tokensConfig, state.tokens, tokenCost)
          const waitMs = Math.max(requestWait, tokenWait)
          if (waitMs <= waitBudgetMs) {
            const next: KeyState = {
              requests: Bucket.reserve(state.requests, 1),
              tokens: state.tokens === undefined ? undefined : Bucket.reserve(state.tokens, tokenCost),
              usedAt: now
            }
            const outcome: Outcome = waitMs > 0 ? { _tag: "Wait", waitMs } : { _tag: "Approved" }
            return [outcome, bounded(HashMap.set(map, key, next), key, now)]
          }
          const short = [
            requestWait === 0
              ? undefined
              : `${Math.max(0, Math.floor(state.requests.available))}/${requestsConfig.capacity} requests left`,
            tokenWait === 0 || state.tokens === undefined || tokensConfig === undefined
              ? undefined
              : `needs ${plural(tokenCost, "token")}, ${
                Math.max(0, Math.floor(state.tokens.available))
              }/${tokensConfig.capacity} left`
          ].filter((part) => part !== undefined).join("; ")
          const after = Number.isFinite(waitMs) ? `retry in ${waitMs} ms` : "the bucket never refills"
          return [
            {
              _tag: "Rejected",
              reason: `rate limit for key ${key}: ${short}; ${after}, beyond the wait budget of ${waitBudgetMs} ms`,
              waitMs
            },
            map
          ]
        })
        switch (outcome._tag) {
          case "Approved":
            return Decision.Approved()
          case "Wait":
            yield* Effect.sleep(Duration.millis(outcome.waitMs))
            return Decision.Approved()
          case "Rejected":
            return Decision.Rejected({
              reason: outcome.reason,
              retryAfterMs: Number.isFinite(outcome.waitMs) ? outcome.waitMs : undefined
            })
        }
      })

    const available = (key: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const state = current(yield* Ref.get(ref), key, now)
        return { requests: state.requests.available, tokens: state.tokens?.available }
      })

    return {
      name: config.name ?? "rate-limiter",
      priority: config.priority ?? defaultPriority,
      stages: new Set(config.stages ?? ["model_request"]),
      mayModify: false,
      validate,
      available,
      size: Effect.map(Ref.get(ref), HashMap.size)
    } satisfies RateLimiter
  })

/**
 * The rate limiter as a validator layer on the pipeline beneath.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  config: Config
): Layer.Layer<ValidationPipeline.ValidationPipeline, never, ValidationPipeline.ValidationPipeline | Monitor.Monitor> =>
  Pipeline.withValidator(make(config))
