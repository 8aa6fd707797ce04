// <patinox-runs>: the latest runs (GET /runs), refreshed; a click opens the
// run's trace tree (GET /runs/:runId): steps, model calls, tool calls and
// every validator decision with its reason, timings, tokens and cost.
import { getJson } from "./api.js"
import { formatCost, formatMs, formatTime, h } from "./dom.js"
import { Panel } from "./Panel.js"
import type { Decision, RunListItem, RunTrace, Step } from "./types.js"

const tokens = (tokensIn: number | undefined, tokensOut: number | undefined) =>
  tokensIn === undefined && tokensOut === undefined ? "–" : `${tokensIn ?? 0} → ${tokensOut ?? 0}`

const decisionItem = (decision: Decision) =>
  h(
    "li",
    { "data-kind": "decision", "data-validator": decision.validator, "data-decision": decision.decision },
    "validator ",
    h("strong", {}, decision.validator),
    ` at ${decision.stage}: `,
    h("span", { class: decision.decision }, decision.decision),
    decision.durationMs === undefined ? null : ` (${formatMs(decision.durationMs)})`,
    decision.reason === undefined ? null : h("div", { class: "reason", "data-field": "reason" }, decision.reason)
  )

const stepItem = (step: Step) => {
  const model = step.model
  return h(
    "li",
    { "data-kind": "step" },
    h("strong", {}, `Step ${step.index}`),
    ` · ${formatMs(step.durationMs)}`,
    h(
      "ul",
      { class: "tree" },
      model === undefined ? null : h(
        "li",
        { "data-kind": "model" },
        "model ",
        h("strong", {}, model.name),
        ` · ${formatMs(model.latencyMs)} · tokens ${tokens(model.tokensIn, model.tokensOut)} · ${formatCost(model.cost)}`,
        model.error === undefined ? null : h("div", { class: "error" }, model.error)
      ),
      step.toolCalls.map((call) =>
        h(
          "li",
          { "data-kind": "tool" },
          "tool ",
          h("strong", {}, call.tool),
          ` · ${formatMs(call.durationMs)} · `,
          h("span", { class: call.status }, call.status),
          call.error === undefined ? null : h("div", { class: "error" }, call.error)
        )
      ),
      step.decisions.map(decisionItem)
    )
  )
}

/** The trace as nested lists: what a person reads top to bottom. */
const traceTree = (trace: RunTrace) => {
  const { run, totals } = trace
  return h(
    "div",
    { class: "trace", "data-run": run.runId },
    h("h3", {}, `Run ${run.runId}`),
    h(
      "p",
      {},
      h("strong", {}, run.agent),
      " · ",
      h("span", { class: run.status }, run.status),
      ` · ${formatMs(totals.durationMs ?? run.durationMs)} · tokens ${tokens(totals.tokensIn, totals.tokensOut)} · ${formatCost(totals.cost)}`
    ),
    run.error === undefined
      ? null
      : h("p", { class: "error", "data-field": "error" }, run.errorMessage === undefined ? run.error : `${run.error}: ${run.errorMessage}`),
    trace.input === undefined ? null : [h("h3", {}, "Input"), h("pre", {}, trace.input)],
    // In the order they happened: the input's checks, the steps, the final answer's.
    h(
      "ul",
      { class: "tree" },
      trace.decisions.filter((d) => d.stage === "user_input").map(decisionItem),
      trace.steps.map(stepItem),
      trace.decisions.filter((d) => d.stage !== "user_input").map(decisionItem)
    ),
    trace.steps.length === 0 && trace.decisions.length === 0 ? h("p", { class: "message" }, "No steps recorded.") : null,
    trace.output === undefined ? null : [h("h3", {}, "Output"), h("pre", {}, trace.output)]
  )
}

export class Runs extends Panel {
  private selected: string | undefined
  private readonly table = h("tbody")
  private readonly detail = h("div", { class: "detail" })

  constructor() {
    super("Runs", 3_000)
    this.content.append(
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, "started"),
              h("th", {}, "agent"),
              h("th", {}, "status"),
              h("th", { class: "num" }, "duration"),
              h("th", { class: "num" }, "tokens"),
              h("th", { class: "num" }, "cost")
            )
          ),
          this.table
        )
      ),
      this.detail
    )
  }

  protected async load(signal: AbortSignal): Promise<void> {
    const runs = await getJson<ReadonlyArray<RunListItem>>("/runs?limit=50", signal)
    this.note(runs.length === 0 ? "No runs yet." : "")
    this.fill(this.table, runs.map((run) => this.row(run)))
    // A running run's trace grows: it is fetched again with the list.
    const open = runs.find((run) => run.runId === this.selected)
    if (open?.status === "running") await this.open(open.runId)
  }

  private row(run: RunListItem) {
    const row = h(
      "tr",
      { class: "clickable", "data-run": run.runId, "data-status": run.status, "aria-selected": String(run.runId === this.selected), tabindex: 0 },
      h("td", {}, formatTime(run.startedAt)),
      h("td", {}, run.agent),
      h(
        "td",
        { class: run.status, title: run.errorMessage },
        run.status,
        run.error === undefined ? null : h("div", { class: "reason" }, run.error)
      ),
      h("td", { class: "num" }, formatMs(run.durationMs)),
      h("td", { class: "num" }, tokens(run.tokensIn, run.tokensOut)),
      h("td", { class: "num" }, formatCost(run.cost))
    )
    const select = () => {
      this.selected = run.runId
      this.table.querySelectorAll("tr").forEach((other) => other.setAttribute("aria-selected", String(other === row)))
      void this.open(run.runId).catch((error: unknown) => this.showError(error))
    }
    row.addEventListener("click", select)
    row.addEventListener("keydown", (event) => event.key === "Enter" && select())
    return row
  }

  private async open(runId: string): Promise<void> {
    const trace = await getJson<RunTrace>(`/runs/${encodeURIComponent(runId)}`)
    if (this.selected === runId) this.detail.replaceChildren(traceTree(trace))
  }
}
