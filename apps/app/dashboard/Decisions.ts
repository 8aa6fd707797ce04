// <patinox-decisions>: how often each validator approved, modified, rejected
// or retried over the last hour (the `decisions` of GET /telemetry/summary).
import { getJson } from "./api.js"
import { h } from "./dom.js"
import { Panel } from "./Panel.js"
import type { DecisionKind, TelemetrySummary } from "./types.js"

const kinds: ReadonlyArray<DecisionKind> = ["approved", "modified", "rejected", "retried"]

/** The store counts a retry under its event's name. */
const stored: Readonly<Record<string, DecisionKind>> = { retry: "retried" }

export class Decisions extends Panel {
  private readonly table = h("tbody")

  constructor() {
    super("Validator decisions (last hour)", 5_000)
    this.content.append(
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", {}, "validator"), kinds.map((kind) => h("th", { class: "num" }, kind)))),
        this.table
      )
    )
  }

  protected async load(signal: AbortSignal): Promise<void> {
    const summary = await getJson<TelemetrySummary>("/telemetry/summary?windowMs=3600000", signal)
    const validators = [...new Set(summary.decisions.map((d) => d.validator))].sort()
    this.note(validators.length === 0 ? "No validator decisions in the last hour." : "")
    this.fill(this.table, validators.map((validator) =>
      h(
        "tr",
        { "data-validator": validator },
        h("td", {}, validator),
        kinds.map((kind) => {
          const count = summary.decisions
            .filter((d) => d.validator === validator && (d.decision === kind || stored[d.decision] === kind))
            .reduce((sum, d) => sum + d.count, 0)
          return h("td", { class: `num${count > 0 ? ` ${kind}` : ""}`, "data-decision": kind }, count)
        })
      )
    ))
  }
}
