/**
 * The multi-agent example: a `router` that delegates arithmetic to a
 * `calculator` agent and questions to a `researcher` agent, which answers
 * from the service's knowledge base (what `POST /knowledge` adds). The three
 * are defined in `agents/*.yaml`; here is the researcher's tool. The router
 * does not hold the other agents: it asks them by id through the
 * `AgentRuntime` (`ask_calculator`, `ask_researcher` are agent-as-tool
 * tools, see `Agents.ts`), so each delegation is a tool call like any other:
 * validated, traced (the child run is a child span of the tool call),
 * reported, and bounded in depth.
 */
import { Ids, Tool } from "@patinox/core"
import type { KnowledgeBase } from "@patinox/validation"
import { Effect, Schema } from "effect"

/** The knowledge base failed under a search; the model sees the message as a tool error. */
export class SearchFailed extends Schema.TaggedError<SearchFailed>("@patinox/app/SearchFailed")("SearchFailed", {
  reason: Schema.String
}) {
  override get message(): string {
    return `The knowledge base search failed: ${this.reason}`
  }
}

/**
 * `search_documents` over the knowledge base: the same store the
 * hallucination validator checks answers against, so what the researcher
 * quotes is what the validator can verify.
 */
export const searchDocuments = (knowledge: KnowledgeBase.Service) =>
  Tool.make("search_documents", {
    description: "Searches the knowledge base; returns the best matching passages, best first.",
    parameters: Schema.Struct({ query: Schema.String.annotations({ description: "what to look for" }) }),
    success: Schema.Struct({ results: Schema.Array(Schema.Struct({ docId: Schema.String, text: Schema.String })) }),
    handler: ({ query }) =>
      knowledge.search(query, { limit: 3 }).pipe(
        Effect.map((passages) => ({ results: passages.map((p) => ({ docId: p.docId, text: p.text })) })),
        Effect.mapError((error) => new SearchFailed({ reason: error.message }))
      )
  })

export const calculatorId = Ids.AgentId.make("calculator")
export const researcherId = Ids.AgentId.make("researcher")
