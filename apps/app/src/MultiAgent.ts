/**
 * The multi-agent example: a `router` that delegates arithmetic to a
 * `calculator` agent and questions to a `researcher` agent, which answers
 * from a small in-memory document list. The router does not hold the other
 * agents: it asks them by id through the `AgentRuntime` (`ask_calculator`,
 * `ask_researcher` are agent-as-tool tools), so each delegation is a tool call
 * like any other: validated, traced (the child run is a child span of the
 * tool call), reported, and bounded in depth.
 */
import { Agent, AgentRuntime } from "@patinox/agent"
import { Ids, Tool } from "@patinox/core"
import { Effect, Schema } from "effect"
import { calculator as calculatorTool } from "./DemoTools.js"

export interface Document {
  readonly title: string
  readonly text: string
}

/** What the researcher knows. */
export const documents: ReadonlyArray<Document> = [
  {
    title: "Patinox",
    text: "Patinox is an agent framework for TypeScript on Effect in which validation and monitoring are part of " +
      "every execution path."
  },
  {
    title: "Actors",
    text: "Each running agent is a supervised fiber reading a bounded mailbox; a crashed agent is restarted on a " +
      "schedule and a full mailbox applies backpressure or refuses with a typed error."
  },
  {
    title: "Ada Lovelace",
    text: "Ada Lovelace wrote what is considered the first published algorithm intended for a machine, the " +
      "Analytical Engine, in 1843."
  },
  {
    title: "Effect",
    text: "Effect is a TypeScript library for typed, composable, concurrent programs with structured concurrency."
  }
]

const words = (text: string) => new Set(text.toLowerCase().match(/[a-z0-9]{3,}/g) ?? [])
const stopWords = new Set(["what", "who", "explain", "the", "does", "how", "why", "tell", "about", "and", "are", "was"])

/** Ranks the documents by the words they share with the query (titles count double). */
export const search = (query: string, limit = 3): ReadonlyArray<Document> => {
  const wanted = [...words(query)].filter((w) => !stopWords.has(w))
  return documents
    .map((document) => {
      const title = words(document.title)
      const text = words(document.text)
      const score = wanted.reduce((n, w) => n + (title.has(w) ? 2 : 0) + (text.has(w) ? 1 : 0), 0)
      return { document, score }
    })
    .filter((scored) => scored.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, limit)
    .map((scored) => scored.document)
}

export const searchDocuments = Tool.make("search_documents", {
  description: "Searches the research documents; returns the best matches, best first.",
  parameters: Schema.Struct({ query: Schema.String.annotations({ description: "what to look for" }) }),
  success: Schema.Struct({ results: Schema.Array(Schema.Struct({ title: Schema.String, text: Schema.String })) }),
  handler: ({ query }) => Effect.succeed({ results: search(query) })
})

export const calculatorId = Ids.AgentId.make("calculator")
export const researcherId = Ids.AgentId.make("researcher")

/** The three agents, on the model named `model`. */
export const agents = (model: string) => {
  const calculator = Agent.make("calculator")
    .model(model)
    .instructions("You do exact arithmetic with the calculator tool and answer with the result only.")
    .tools(calculatorTool)
    .maxSteps(4)
    .build()
  const researcher = Agent.make("researcher")
    .model(model)
    .instructions("You answer questions from the documents found with search_documents, quoting the source.")
    .tools(searchDocuments)
    .maxSteps(4)
    .build()
  const router = Agent.make("router")
    .model(model)
    .instructions(
      "You route each request: arithmetic to ask_calculator, questions (what, who, explain) to ask_researcher. " +
        "Pass the request on in full and answer with what comes back."
    )
    .tools(
      AgentRuntime.asTool(calculatorId, { name: "ask_calculator", description: "Asks the calculator agent to do arithmetic." }),
      AgentRuntime.asTool(researcherId, { name: "ask_researcher", description: "Asks the researcher agent a question." })
    )
    .maxSteps(4)
    .build()
  return { calculator, researcher, router } as const
}
