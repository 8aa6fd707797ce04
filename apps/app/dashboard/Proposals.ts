// <patinox-proposals>: what the meta-layer proposed (GET /proposals); a click
// shows the diff and its evidence (GET /proposals/:id), an open one can be
// dismissed (POST /proposals/:id/dismiss).
import { getJson, post } from "./api.js"
import { formatTime, h } from "./dom.js"
import { Panel } from "./Panel.js"
import type { ProposalDetail, ProposalSummary } from "./types.js"

const measures = (values: Readonly<Record<string, number>>) =>
  Object.entries(values).map(([name, value]) => `${name} ${Number.isInteger(value) ? value : value.toFixed(3)}`).join(", ")

/** The diff with added and removed lines marked, as text nodes. */
const diffView = (diff: string) =>
  h(
    "pre",
    { "data-field": "diff" },
    diff.split("\n").map((line) =>
      h("span", { class: line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : "" }, `${line}\n`)
    )
  )

export class Proposals extends Panel {
  private selected: string | undefined
  private readonly table = h("tbody")
  private readonly detail = h("div")

  constructor() {
    super("Proposals from the meta-layer", 15_000)
    this.content.append(
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", {}, "created"), h("th", {}, "title"), h("th", {}, "state"))),
        this.table
      ),
      this.detail
    )
  }

  protected async load(signal: AbortSignal): Promise<void> {
    const proposals = await getJson<ReadonlyArray<ProposalSummary>>("/proposals?limit=50", signal)
    this.note(proposals.length === 0 ? "No proposals yet." : "")
    this.fill(this.table, proposals.map((proposal) => {
      const row = h(
        "tr",
        { class: "clickable", "data-proposal": proposal.id, "aria-selected": String(proposal.id === this.selected), tabindex: 0 },
        h("td", {}, formatTime(proposal.createdAt)),
        h("td", {}, proposal.title),
        h("td", {}, proposal.state)
      )
      const select = () => {
        this.selected = proposal.id
        void this.open(proposal.id).catch((error: unknown) => this.showError(error))
      }
      row.addEventListener("click", select)
      row.addEventListener("keydown", (event) => event.key === "Enter" && select())
      return row
    }))
  }

  private async open(id: string): Promise<void> {
    const proposal = await getJson<ProposalDetail>(`/proposals/${encodeURIComponent(id)}`)
    if (this.selected !== id) return
    const target = Object.entries(proposal.target).map(([kind, name]) => `${kind} ${name}`).join(", ")
    const dismiss = h("button", { type: "button", "data-action": "dismiss" }, "Dismiss")
    dismiss.addEventListener("click", () =>
      void this.act(async () => {
        await post(`/proposals/${encodeURIComponent(id)}/dismiss`)
        await this.open(id)
      }))
    const { evidence } = proposal
    this.detail.replaceChildren(h(
      "div",
      { "data-proposal": id },
      h("h3", {}, proposal.title),
      h(
        "p",
        {},
        h("span", { "data-field": "state" }, proposal.state),
        target === "" ? "" : ` · ${target} `,
        proposal.state === "open" ? dismiss : null
      ),
      proposal.dismissedReason === undefined ? null : h("p", { class: "reason" }, `Dismissed: ${proposal.dismissedReason}`),
      h("h3", {}, "Evidence"),
      h(
        "ul",
        {},
        h("li", {}, `measured: ${measures(evidence.before)}`),
        h("li", {}, `expected: ${evidence.expected}`),
        evidence.replay === undefined
          ? null
          : h("li", {}, `replay: before ${measures(evidence.replay.before)}; after ${measures(evidence.replay.after)}`),
        h("li", { class: "reason" }, `query: ${evidence.query}`)
      ),
      h("h3", {}, "Diff"),
      diffView(proposal.diff)
    ))
  }
}
