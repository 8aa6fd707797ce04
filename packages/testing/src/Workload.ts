/**
 * A workload with planted faults for the meta-layer's end-to-end test and
 * benchmark: five agents on one deterministic model, three of them broken
 * in the ways the meta-layer must find, two healthy beside them.
 *
 * - `stock` calls `inventory_lookup`, which became slow: a quarter of its
 *   calls take `slowMs` instead of ~20 ms;
 * - `weather` calls `weather_fetch`, which fails 30 % of the time;
 * - `ledger`'s instructions tell it to look a pending entry up again, and
 *   40 % of entries stay pending, so those runs loop to `maxSteps`;
 * - `notes` (a fast, reliable tool) and `greeter` (no tools) are healthy.
 *
 * Faults draw from Effect's seeded `Random`, so a workload is the same on
 * every machine; tool latencies are slept on Effect's clock.
 *
 * @since 0.1.0
 */
import { Errors, Hash, Ids, LanguageModel, Message, Tool, Usage } from "@patinox/core"
import { Effect, Random, Schema } from "effect"

/** @since 0.1.0 @category models */
export interface FaultOptions {
  readonly seed?: number | undefined
  /** Share of `inventory_lookup` calls that are slow; 0.25 unless told. */
  readonly slowShare?: number | undefined
  /** How long a slow call takes; 600 ms unless told. */
  readonly slowMs?: number | undefined
  /** Share of `weather_fetch` calls that fail; 0.3 unless told. */
  readonly failShare?: number | undefined
}

const Query = Schema.Struct({ query: Schema.String })

/** Whether a ledger entry stays pending: 40 % of queries, by their hash. @since 0.1.0 @category faults */
export const isPending = (query: string): boolean => Hash.fnv1a(query) % 10 < 4

/**
 * The workload's tools, each drawing from its own seeded `Random`.
 *
 * @since 0.1.0 @category tools
 */
export const tools = (options: FaultOptions = {}) => {
  const seed = options.seed ?? 7
  const slow = Random.make(seed)
  const flaky = Random.make(seed + 1)
  const jitter = Random.make(seed + 2)
  // Draws are effects: a retry of the same call runs them again, and draws again.
  const fast = Effect.flatMap(jitter.nextIntBetween(15, 25), (ms) => Effect.sleep(ms))
  return [
    Tool.make("inventory_lookup", {
      description: "Looks up how many items of a product are in stock.",
      parameters: Query,
      success: Schema.String,
      handler: ({ query }) =>
        Effect.flatMap(slow.next, (draw) =>
          Effect.as(
            draw < (options.slowShare ?? 0.25) ? Effect.sleep(options.slowMs ?? 600) : fast,
            `${Hash.fnv1a(query) % 100} in stock`
          ))
    }),
    Tool.make("weather_fetch", {
      description: "Fetches the weather forecast for a city.",
      parameters: Query,
      success: Schema.String,
      handler: ({ query }) =>
        Effect.zipRight(
          Effect.sleep(5),
          Effect.flatMap(flaky.next, (draw) =>
            draw < (options.failShare ?? 0.3)
              ? Effect.fail(new Errors.ToolFailed({ tool: "weather_fetch", reason: "upstream answered 503" }))
              : Effect.succeed(`Sunny in ${query.length % 2 === 0 ? "the north" : "the south"}, 21 degrees`))
        )
    }),
    Tool.make("ledger_lookup", {
      description: "Looks up a ledger entry's settlement status.",
      parameters: Query,
      success: Schema.String,
      handler: ({ query }) => Effect.as(Effect.sleep(5), isPending(query) ? "status: pending" : "status: settled")
    }),
    Tool.make("notes_lookup", {
      description: "Finds a note by title.",
      parameters: Query,
      success: Schema.String,
      handler: ({ query }) => Effect.as(Effect.sleep(5), `Note "${query.slice(0, 40)}": nothing to add.`)
    })
  ] as const
}

/** The instruction that makes `ledger` loop on pending entries. @since 0.1.0 @category faults */
export const loopingInstruction = "If an entry is pending, look it up again."

const estimate = (text: string) => Math.ceil(text.length / 4)

let calls = 0

const respond = (request: LanguageModel.ChatRequest): LanguageModel.ChatResponse => {
  const system = request.messages.find((m) => m._tag === "system")
  const instructions = system?._tag === "system" ? system.content : ""
  const last = request.messages.at(-1)
  const toolCalls: Array<Message.ToolCall> = []
  let content: string | null = null
  if (last?._tag === "tool") {
    if (last.isError) content = `I could not get that: ${last.content}`
    else if (last.content.includes("pending") && instructions.includes(loopingInstruction)) {
      // Obeys its instructions: the same call again, which is what the meta-layer sees as a loop.
      const previous = [...request.messages].reverse().find((m) => m._tag === "assistant" && m.toolCalls.length > 0)
      const again = previous?._tag === "assistant" ? previous.toolCalls[0] : undefined
      if (again !== undefined) {
        toolCalls.push(new Message.ToolCall({ id: Ids.ToolCallId.make(`call_w_${++calls}`), name: again.name, arguments: again.arguments }))
      } else content = "The entry is pending."
    } else content = `Here is what I found: ${last.content}`
  } else if (last?._tag === "user" && last.content.startsWith("Your answer was not accepted (")) {
    // A validator's revision request: it keeps to what its tool said rather than calling again.
    content = "I can only report what my tool returned."
  } else {
    const question = last?._tag === "user" ? last.content : ""
    const tool = request.tools[0]
    if (tool !== undefined) {
      toolCalls.push(
        new Message.ToolCall({
          id: Ids.ToolCallId.make(`call_w_${++calls}`),
          name: tool.name,
          arguments: JSON.stringify({ query: question })
        })
      )
    } else content = `Hello! You said: ${question.slice(0, 80)}`
  }
  const input = request.messages.reduce(
    (n, m) => n + estimate(m._tag === "assistant" ? (m.content ?? "") + m.toolCalls.map((c) => c.arguments).join("") : m.content),
    0
  )
  return new LanguageModel.ChatResponse({
    id: `w-${++calls}`,
    model: "workload-model",
    message: new Message.AssistantMessage({ content, toolCalls }),
    finishReason: toolCalls.length > 0 ? "tool_calls" : "stop",
    usage: new Usage.Usage({
      inputTokens: input,
      outputTokens: estimate((content ?? "") + toolCalls.map((c) => c.arguments).join(""))
    })
  })
}

/**
 * The workload's model: calls the first tool it is offered with the user's
 * text, then answers from the result; with the looping instruction, it calls
 * again while the result says pending.
 *
 * @since 0.1.0 @category models
 */
export const model: LanguageModel.Service = {
  provider: "workload",
  model: "workload-model",
  chat: (request) => Effect.sync(() => respond(request)),
  stream: (request) => LanguageModel.toDeltas(respond(request))
}

/**
 * The agents' behaviour files, by file name, commented like a person's.
 *
 * @since 0.1.0 @category files
 */
export const behaviourFiles: Readonly<Record<string, string>> = {
  "stock.yaml": `# Answers stock questions from the inventory service.
name: stock
description: Answers how many items of a product are in stock.
instructions: >-
  You answer stock questions with the inventory_lookup tool.
maxSteps: 4
tools:
  # The inventory service is usually fast.
  - name: inventory_lookup
`,
  "weather.yaml": `# Forecasts, from the weather service.
name: weather
description: Gives the weather forecast for a city.
instructions: >-
  You give forecasts with the weather_fetch tool.
maxSteps: 4
tools:
  - name: weather_fetch
    timeoutMs: 5000
`,
  "ledger.yaml": `# Settlement status of ledger entries.
name: ledger
description: Tells whether a ledger entry has settled.
instructions: >-
  You check ledger entries with the ledger_lookup tool.
  ${loopingInstruction}
maxSteps: 10
tools:
  - name: ledger_lookup
`,
  "notes.yaml": `# Healthy: a fast, reliable tool.
name: notes
description: Finds notes by title.
instructions: >-
  You find notes with the notes_lookup tool.
maxSteps: 4
tools:
  - name: notes_lookup
`,
  "greeter.yaml": `# Healthy: no tools at all.
name: greeter
description: Greets people.
instructions: >-
  You greet people warmly.
maxSteps: 2
tools: []
`
}

/** The agents the faults were planted in, and the healthy ones. @since 0.1.0 @category files */
export const faulty = ["stock", "weather", "ledger"] as const
/** @since 0.1.0 @category files */
export const healthy = ["notes", "greeter"] as const

/**
 * `perAgent` deterministic inputs for every agent, interleaved.
 *
 * @since 0.1.0 @category inputs
 */
export const inputs = (perAgent: number): ReadonlyArray<{ readonly agent: string; readonly input: string }> => {
  const out: Array<{ agent: string; input: string }> = []
  for (let i = 0; i < perAgent; i++) {
    out.push(
      { agent: "stock", input: `How many blue kettles (item ${i}) are in stock?` },
      { agent: "weather", input: `What is the weather in city number ${i}?` },
      { agent: "ledger", input: `Has ledger entry L-${1000 + i} settled?` },
      { agent: "notes", input: `Find my note about meeting ${i}` },
      { agent: "greeter", input: `Hi, I am visitor ${i}` }
    )
  }
  return out
}
