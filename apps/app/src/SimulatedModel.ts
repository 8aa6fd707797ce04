/**
 * The offline simulated model: what the service uses when no real model is
 * configured, so that it works on a fresh machine with no key.
 *
 * It is a deterministic script, not a language model, and says so: it
 * recognises simple arithmetic ("What is 17 + 25?") and questions about the
 * time, calls the demo tools for them when they are offered, and composes its
 * answer from the tool's result. Offered `ask_calculator` / `ask_researcher`
 * (the multi-agent router), it delegates arithmetic and "what / who /
 * explain" questions to those agents; offered `search_documents` (the
 * researcher), it searches the knowledge base and quotes the best passage;
 * any other tool that takes only a `query` (the demo's lookups) is called
 * the same way.
 * Anything else gets an honest explanation of what it is. It reads the
 * user's request, never a validator's revision feedback (which quotes
 * claims, numbers included): asked to revise, it says it cannot. Token usage is an estimate (about four characters a token),
 * reported like a provider's so that the rest of the system sees real numbers.
 */
import { Ids, LanguageModel, Message, Usage } from "@patinox/core"
import { Duration, Effect, Layer, Stream } from "effect"

export const modelName = "patinox-simulated"

const number = String.raw`(-?\d+(?:\.\d+)?)`
const operators: ReadonlyArray<readonly [RegExp, string]> = [
  [/^(?:\+|plus|add(?:ed to)?)$/, "add"],
  [/^(?:-|−|minus|subtract(?:ed from)?)$/, "subtract"],
  [/^(?:\*|x|×|times|multiplied by)$/, "multiply"],
  [/^(?:\/|÷|divided by|over)$/, "divide"],
  [/^(?:\^|\*\*|to the power of)$/, "power"]
]
const expression = new RegExp(
  `${number}\\s*(\\+|-|−|\\*\\*|\\*|x|×|\\/|÷|\\^|plus|minus|times|multiplied by|divided by|over|to the power of)\\s*${number}`,
  "i"
)

const estimateTokens = (text: string) => Math.ceil(text.length / 4)

const textOf = (message: Message.Message): string => {
  switch (message._tag) {
    case "assistant":
      return (message.content ?? "") + message.toolCalls.map((c) => c.name + c.arguments).join("")
    default:
      return message.content
  }
}

let callCounter = 0

const respond = (request: LanguageModel.ChatRequest): LanguageModel.ChatResponse => {
  const offered = new Set(request.tools.map((t) => t.name))
  // search_documents, or any tool that takes only a `query` (the demo's lookups): asked with the user's text.
  const lookup = request.tools.find((t) => takesOnlyQuery(t.parameters))
  const last = request.messages.at(-1)
  let content: string | null = null
  const toolCalls: Array<Message.ToolCall> = []

  if (last?._tag === "tool") {
    content = last.isError ? `I could not do that: ${last.content}` : summarise(last.name, last.content)
  } else if (last?._tag === "user" && isRevisionRequest(last.content)) {
    content = "I cannot revise that answer: I only pass on what my tools return and cannot check it against " +
      "other sources."
  } else {
    const question = [...request.messages].reverse().find((m) => m._tag === "user" && !isRevisionRequest(m.content))
    const text = question?._tag === "user" ? question.content : ""
    const arithmetic = expression.exec(text)
    const operator = arithmetic?.[2]?.toLowerCase()
    const operation = operator === undefined ? undefined : operators.find(([re]) => re.test(operator))?.[1]
    const isQuestion = /^\s*(what|who|explain|why|how|tell me)\b/i.test(text)
    if (arithmetic !== null && operation !== undefined && offered.has("ask_calculator")) {
      // A router: arithmetic goes to the calculator agent, in words.
      toolCalls.push(call("ask_calculator", { input: text }))
    } else if (isQuestion && offered.has("ask_researcher")) {
      toolCalls.push(call("ask_researcher", { input: text }))
    } else if (lookup !== undefined && text.trim() !== "") {
      toolCalls.push(call(lookup.name, { query: text }))
    } else if (arithmetic !== null && operation !== undefined && offered.has("calculator")) {
      toolCalls.push(call("calculator", { operation, a: Number(arithmetic[1]), b: Number(arithmetic[3]) }))
    } else if (/\b(time|date|day is it|today)\b/i.test(text) && offered.has("current_time")) {
      const zone = /\bin ([A-Z][A-Za-z_]+\/[A-Z][A-Za-z_]+)/.exec(text)?.[1]
      toolCalls.push(call("current_time", zone === undefined ? {} : { timeZone: zone }))
    } else {
      // One sentence about itself and no numbers: nothing a source could contradict, nothing to compute.
      content = "I cannot do that: I am Patinox's offline simulated model, not a language model, so I only do " +
        "simple arithmetic and tell the current time (set OPENAI_API_KEY or OPENAI_BASE_URL to use a real model)."
    }
  }

  const input = request.messages.reduce((n, m) => n + estimateTokens(textOf(m)), 0)
  const output = estimateTokens((content ?? "") + toolCalls.map((c) => c.name + c.arguments).join(""))
  return new LanguageModel.ChatResponse({
    id: `sim-${++callCounter}`,
    model: modelName,
    message: new Message.AssistantMessage({ content, toolCalls }),
    finishReason: toolCalls.length > 0 ? "tool_calls" : "stop",
    usage: new Usage.Usage({ inputTokens: input, outputTokens: output })
  })
}

const takesOnlyQuery = (parameters: Readonly<Record<string, unknown>>): boolean => {
  const properties = parameters["properties"]
  return typeof properties === "object" && properties !== null && Object.keys(properties).join() === "query"
}

// What the agent loop sends back when a validator did not accept an answer.
const isRevisionRequest = (text: string) => text.startsWith("Your answer was not accepted (")

const call = (name: string, args: unknown) =>
  new Message.ToolCall({ id: Ids.ToolCallId.make(`call_sim_${++callCounter}`), name, arguments: JSON.stringify(args) })

const summarise = (tool: string, content: string): string => {
  try {
    const parsed: unknown = JSON.parse(content)
    if (typeof parsed === "object" && parsed !== null) {
      if (tool === "calculator" && "expression" in parsed && typeof parsed.expression === "string") {
        return parsed.expression
      }
      if (tool === "current_time" && "local" in parsed && typeof parsed.local === "string") {
        return `It is ${parsed.local}.`
      }
      if (tool === "search_documents" && "results" in parsed && Array.isArray(parsed.results)) {
        const first: unknown = parsed.results[0]
        if (typeof first === "object" && first !== null && "docId" in first && "text" in first) {
          return `According to "${String(first.docId)}": ${String(first.text)}`
        }
        return "I found nothing about that in the knowledge base."
      }
    }
    // Another agent's answer (an `ask_*` tool returns the answer as a JSON string): pass it on.
    if (tool.startsWith("ask_") && typeof parsed === "string") return parsed
    // A lookup's plain answer ("42 in stock"): quoted as the tool gave it.
    if (typeof parsed === "string") return `The ${tool} tool says: ${parsed}`
  } catch {
    // not JSON: fall through and quote it
  }
  return `The ${tool} tool returned: ${content}`
}

export const service: LanguageModel.Service = {
  provider: "patinox-simulated",
  model: modelName,
  chat: (request) => Effect.sync(() => respond(request)),
  stream: (request) => LanguageModel.toDeltas(respond(request))
}

export const layer: Layer.Layer<LanguageModel.LanguageModel> = Layer.succeed(LanguageModel.LanguageModel, service)

/** The simulated model answering after `latencyMs` (on the Effect clock), like a remote model would. */
export const layerWith = (options: { readonly latencyMs: number }): Layer.Layer<LanguageModel.LanguageModel> => {
  if (options.latencyMs <= 0) return layer
  const latency = Duration.millis(options.latencyMs)
  return Layer.succeed(LanguageModel.LanguageModel, {
    ...service,
    chat: (request) => Effect.delay(service.chat(request), latency),
    stream: (request) => Stream.unwrap(Effect.delay(Effect.sync(() => service.stream(request)), latency))
  })
}
