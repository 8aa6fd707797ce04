/**
 * Secrets and personal data are removed from events before they are stored
 * or exported. A redactor replaces every match of its detectors with a
 * marker such as `[REDACTED:email]`.
 *
 * Work is bounded: every detector is a regular expression without nested
 * unbounded quantifiers (each quantifier has an upper bound, so the cost of a
 * scan is linear in the input times a constant), each detector runs only when
 * a cheap literal trigger is present, and strings longer than `maxLength`
 * are cut to `maxLength` characters (with a `[TRUNCATED:n]` marker) before
 * they are scanned.
 *
 * @since 0.1.0
 */
import * as ActionResult from "./ActionResult.js"
import * as AgentAction from "./AgentAction.js"
import { DecisionRecord } from "./Decision.js"
import * as Message from "./Message.js"
import type { TelemetryEvent } from "./TelemetryEvent.js"

/** A custom detector: every match of `pattern` becomes `[REDACTED:<name>]`. @since 0.1.0 @category models */
export interface Pattern {
  readonly name: string
  readonly pattern: RegExp | string
}

/** @since 0.1.0 @category models */
export interface Options {
  /** Extra detectors, run after the built-in ones. */
  readonly patterns?: ReadonlyArray<Pattern> | undefined
  /** Strings longer than this are truncated before scanning. Default 65 536. */
  readonly maxLength?: number | undefined
}

/** @since 0.1.0 @category models */
export interface Redactor {
  readonly text: (s: string) => string
  /** Every string in the event: messages, tool arguments and contents, results, decision reasons, context. */
  readonly event: (e: TelemetryEvent) => TelemetryEvent
  /** Any JSON-like value, deeply; values under secret-looking keys (`password`, `apiKey`, …) are replaced whole. */
  readonly value: (u: unknown) => unknown
}

interface Detector {
  readonly name: string
  /** Cheap pre-check; the regex runs only when it passes. */
  readonly trigger: (s: string) => boolean
  readonly regex: RegExp
  /** Rejects matches that only look like the thing (a card number failing Luhn). */
  readonly accept?: (match: string) => boolean
}

/** @since 0.1.0 @category constants */
export const marker = (name: string): string => `[REDACTED:${name}]`

const includesAny = (...needles: ReadonlyArray<string>) => (s: string) => {
  for (const needle of needles) if (s.includes(needle)) return true
  return false
}
const lowerIncludesAny = (...needles: ReadonlyArray<string>) => (s: string) => {
  const lower = s.toLowerCase()
  for (const needle of needles) if (lower.includes(needle)) return true
  return false
}
const hasDigitRun = /\d{3}/

/** Luhn checksum over the digits of `s`. @since 0.1.0 @category detectors */
export const luhn = (s: string): boolean => {
  let sum = 0
  let double = false
  let count = 0
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) continue
    count++
    let d = c
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return count >= 13 && count <= 19 && sum % 10 === 0
}

const digitsOf = (s: string) => s.replace(/\D/g, "")
// Issuer prefixes (Visa, Mastercard, Amex, Diners, Discover, JCB): keeps epoch
// milliseconds and other long ids that happen to pass Luhn out of the net.
const cardPrefix = /^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9])|35)/

const builtIns: ReadonlyArray<Detector> = [
  {
    name: "private_key",
    trigger: includesAny("PRIVATE KEY-----"),
    regex:
      /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:[\s\S]{0,16384}?-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]{0,16384})/g
  },
  {
    name: "jwt",
    trigger: includesAny("eyJ"),
    regex: /\beyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{5,8192}\.[A-Za-z0-9_-]{0,4096}/g
  },
  {
    name: "openai_key",
    trigger: includesAny("sk-"),
    regex: /\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,256}/g
  },
  {
    name: "aws_access_key",
    trigger: includesAny("AKIA", "ASIA"),
    regex: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g
  },
  {
    name: "github_token",
    trigger: includesAny("gh", "github_pat_"),
    regex: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g
  },
  {
    name: "slack_token",
    trigger: includesAny("xox", "hooks.slack.com"),
    regex:
      /\bxox[abposre]-[A-Za-z0-9-]{10,255}|https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]{10,255}/g
  },
  {
    name: "authorization",
    trigger: lowerIncludesAny("authorization"),
    // Keeps the header name and scheme, redacts the credentials.
    regex:
      /(?<keep>\b(?:proxy-)?authorization["']?\s{0,4}[:=]\s{0,4}["']?(?:(?:basic|digest|bearer|token|negotiate)\s{1,4})?)[^\s"'[,;]{4,4096}/gi
  },
  {
    name: "bearer",
    trigger: lowerIncludesAny("bearer"),
    // The token must hold a digit or punctuation, so "the bearer instrument" stays prose.
    regex: /(?<keep>\bbearer\s{1,4})(?=[A-Za-z0-9._~+/=-]{0,4096}[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,4096}/gi
  },
  {
    name: "secret",
    trigger: lowerIncludesAny("key", "pass", "pwd", "secret", "token"),
    // `name=value` / `name: value` / `"name": "value"`; the name is kept.
    regex:
      /(?<keep>\b(?:api[_-]?key|apikey|x-api-key|access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token|refresh[_-]?token|secret|password|passwd|pwd|token)["']?\s{0,4}[:=]\s{0,4}["']?)[^\s"'&,;[\]{}]{3,1024}/gi
  },
  {
    name: "email",
    trigger: includesAny("@"),
    regex: /\b[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}\b/g
  },
  {
    name: "credit_card",
    trigger: (s) => hasDigitRun.test(s),
    regex: /\b\d(?:[ -]?\d){12,18}\b/g,
    accept: (match) => {
      const digits = digitsOf(match)
      return cardPrefix.test(digits) && luhn(digits)
    }
  },
  {
    name: "phone",
    trigger: (s) => hasDigitRun.test(s),
    // Conservative: an international number with `+`, or a North American number
    // written with separators. Bare digit runs (ids, timestamps) are left alone.
    regex:
      /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){1,4}|(?:\(\d{3}\)\s?|\d{3}[.-])\d{3}[.-]\d{4})(?![\w.-]?\d)/g,
    accept: (match) => {
      const n = digitsOf(match).length
      return n >= 10 && n <= 15
    }
  }
]

/**
 * A string this does not match passes none of the built-in triggers (each
 * trigger's literal is one of its alternatives, matched case-insensitively,
 * so it is a superset): one scan instead of a dozen, and no lower-cased copy,
 * for the short labels and ids that make up most of an event's strings.
 * Keep it in step with the triggers above.
 */
const anyBuiltInTrigger =
  /private key-----|eyj|sk-|akia|asia|gh|xox|hooks\.slack\.com|authorization|bearer|key|pass|pwd|secret|token|@|\d{3}/i

const secretKey =
  /(?:password|passwd|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|(?:access|refresh|auth|id|session|bearer|api)[_-]?token|authorization|cookie|credential)s?$|^token$/i

const compile = (pattern: Pattern): Detector => {
  const source = typeof pattern.pattern === "string" ? pattern.pattern : pattern.pattern.source
  const flags = typeof pattern.pattern === "string"
    ? "g"
    : pattern.pattern.flags.includes("g") ? pattern.pattern.flags : `${pattern.pattern.flags}g`
  return { name: pattern.name, trigger: () => true, regex: new RegExp(source, flags) }
}

const MIN_SECRET_LENGTH = 6

/**
 * Builds a redactor. Invalid custom patterns are a defect here (a `SyntaxError`
 * from `RegExp`): they are configuration, checked once at start-up.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (options: Options = {}): Redactor => {
  const custom = (options.patterns ?? []).map(compile)
  const detectors: ReadonlyArray<Detector> = [...builtIns, ...custom]
  const maxLength = options.maxLength ?? 65_536
  // Custom detectors run on every string, so the prefilter only helps without them.
  const prefilter = custom.length === 0

  const text = (input: string): string => {
    if (input.length < MIN_SECRET_LENGTH) return input
    if (prefilter && input.length <= maxLength && !anyBuiltInTrigger.test(input)) return input
    let s = input.length > maxLength
      ? `${input.slice(0, maxLength)}[TRUNCATED:${input.length - maxLength}]`
      : input
    for (const detector of detectors) {
      if (!detector.trigger(s)) continue
      const { accept, name, regex } = detector
      regex.lastIndex = 0
      s = s.replace(regex, (...args: Array<unknown>) => {
        const match = args[0]
        if (typeof match !== "string") return ""
        if (accept !== undefined && !accept(match)) return match
        const groups = args[args.length - 1]
        const keep = typeof groups === "object" && groups !== null && "keep" in groups && typeof groups.keep === "string"
          ? groups.keep
          : ""
        return `${keep}${marker(name)}`
      })
    }
    return s
  }

  // Keys come from a small vocabulary (`tool`, `model`, `step`, …): test each once.
  const secretKeys = new Map<string, boolean>()
  const isSecretKey = (key: string): boolean => {
    let known = secretKeys.get(key)
    if (known === undefined) {
      known = secretKey.test(key)
      if (secretKeys.size < 4_096) secretKeys.set(key, known)
    }
    return known
  }

  // Allocates only when something changes: most events carry nothing to redact.
  const value = (u: unknown, key?: string): unknown => {
    if (key !== undefined && u !== null && u !== undefined && isSecretKey(key)) return marker("secret")
    if (typeof u === "string") return text(u)
    if (typeof u !== "object" || u === null) return u
    if (Array.isArray(u)) return mapChanged<unknown>(u, (item) => value(item))
    // `for...in` over own keys: no array of keys per object (objects here are plain records).
    let out: Record<string, unknown> | undefined
    for (const k in u) {
      if (!Object.hasOwn(u, k)) continue
      const v: unknown = Reflect.get(u, k)
      const next = value(v, k)
      if (out === undefined && next !== v) {
        out = {}
        for (const j in u) {
          if (j === k) break
          if (Object.hasOwn(u, j)) out[j] = Reflect.get(u, j)
        }
      }
      if (out !== undefined) out[k] = next
    }
    return out ?? u
  }

  const toolCall = (call: Message.ToolCall): Message.ToolCall => {
    const args = text(call.arguments)
    return args === call.arguments ? call : new Message.ToolCall({ ...call, arguments: args }, true)
  }

  const message = (m: Message.Message): Message.Message => {
    switch (m._tag) {
      case "system": {
        const content = text(m.content)
        return content === m.content ? m : new Message.SystemMessage({ content }, true)
      }
      case "user": {
        const content = text(m.content)
        return content === m.content ? m : new Message.UserMessage({ content }, true)
      }
      case "tool": {
        const content = text(m.content)
        return content === m.content ? m : new Message.ToolMessage({ ...m, content }, true)
      }
      case "assistant": {
        const content = m.content === null ? null : text(m.content)
        const toolCalls = mapChanged(m.toolCalls, toolCall)
        return content === m.content && toolCalls === m.toolCalls
          ? m
          : new Message.AssistantMessage({ content, toolCalls }, true)
      }
    }
  }

  const action = (a: AgentAction.AgentAction): AgentAction.AgentAction => {
    switch (a._tag) {
      case "UserInput": {
        const input = text(a.input)
        return input === a.input ? a : new AgentAction.UserInput({ input }, true)
      }
      case "ModelCall": {
        const messages = mapChanged(a.messages, message)
        return messages === a.messages
          ? a
          : new AgentAction.ModelCall({ step: a.step, messages, tools: a.tools }, true)
      }
      case "ToolCallAction": {
        const call = toolCall(a.toolCall)
        return call === a.toolCall ? a : new AgentAction.ToolCallAction({ step: a.step, toolCall: call }, true)
      }
      case "ToolResult": {
        const content = text(a.content)
        return content === a.content ? a : new AgentAction.ToolResult({ ...a, content }, true)
      }
      case "FinalAnswer": {
        const content = text(a.content)
        return content === a.content ? a : new AgentAction.FinalAnswer({ step: a.step, content }, true)
      }
    }
  }

  const result = (r: ActionResult.ActionResult): ActionResult.ActionResult => {
    switch (r._tag) {
      case "ModelResult":
        return r
      case "ToolOutput": {
        const content = text(r.content)
        return content === r.content ? r : new ActionResult.ToolOutput({ ...r, content }, true)
      }
      case "Answer": {
        const content = text(r.content)
        return content === r.content ? r : new ActionResult.Answer({ ...r, content }, true)
      }
      case "Failure": {
        const message = text(r.message)
        return message === r.message ? r : new ActionResult.Failure({ ...r, message }, true)
      }
    }
  }

  const decision = (d: DecisionRecord): DecisionRecord => {
    if (d.reason === undefined) return d
    const reason = text(d.reason)
    return reason === d.reason ? d : new DecisionRecord({ ...d, reason }, true)
  }

  const event = (e: TelemetryEvent): TelemetryEvent => {
    const nextAction = e.action === undefined ? undefined : action(e.action)
    const nextResult = e.result === undefined ? undefined : result(e.result)
    const decisions = e.metrics.decisions
    const nextDecisions = decisions === undefined ? undefined : mapChanged(decisions, decision)
    const decisionsChanged = nextDecisions !== decisions
    const nextContext = value(e.context)
    const contextChanged = nextContext !== e.context
    if (nextAction === e.action && nextResult === e.result && !decisionsChanged && !contextChanged) return e
    const out: { -readonly [K in keyof TelemetryEvent]: TelemetryEvent[K] } = { ...e }
    if (nextAction !== undefined) out.action = nextAction
    if (nextResult !== undefined) out.result = nextResult
    if (decisionsChanged && nextDecisions !== undefined) out.metrics = { ...e.metrics, decisions: nextDecisions }
    if (contextChanged) out.context = contextOf(nextContext, e.context)
    return out
  }

  return { text, event, value: (u) => value(u) }
}

/** `items.map(f)`, or `items` itself (nothing allocated) when `f` changed no item. */
const mapChanged = <A>(items: ReadonlyArray<A>, f: (a: A) => A): ReadonlyArray<A> => {
  let out: Array<A> | undefined
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    const next = f(item)
    if (out === undefined && next !== item) out = items.slice(0, i)
    if (out !== undefined) out.push(next)
  }
  return out ?? items
}

const contextOf = (u: unknown, fallback: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return fallback
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(u)) out[k] = v
  return out
}

/** A redactor with the built-in detectors only. @since 0.1.0 @category constructors */
export const defaultRedactor: Redactor = make()
