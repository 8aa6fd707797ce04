// <patinox-tools>: each tool's latency percentiles and error rate over the
// last hour (GET /telemetry/summary).
import { getJson } from "./api.js"
import { formatMs, h } from "./dom.js"
import { Panel } from "./Panel.js"
import type { TelemetrySummary } from "./types.js"

export class Tools extends Panel {
  private readonly table = h("tbody")

  constructor() {
    super("Tools: latency and errors (last hour)", 5_000)
    this.content.append(
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "tool"),
            h("th", { class: "num" }, "calls"),
            h("th", { class: "num" }, "p50"),
            h("th", { class: "num" }, "p95"),
            h("th", { class: "num" }, "max"),
            h("th", { class: "num" }, "errors"),
            h("th", { class: "num" }, "error rate")
          )
        ),
        this.table
      )
    )
  }

  protected async load(signal: AbortSignal): Promise<void> {
    const summary = await getJson<TelemetrySummary>("/telemetry/summary?windowMs=3600000", signal)
    const names = [...new Set([...summary.toolLatency.map((t) => t.key), ...summary.toolErrors.map((t) => t.key)])].sort()
    this.note(names.length === 0 ? "No tool calls in the last hour." : "")
    this.fill(this.table, names.map((name) => {
      const latency = summary.toolLatency.find((t) => t.key === name)
      const errors = summary.toolErrors.find((t) => t.key === name)
      return h(
        "tr",
        { "data-tool": name },
        h("td", {}, name),
        h("td", { class: "num" }, errors?.total ?? latency?.count ?? 0),
        h("td", { class: "num" }, formatMs(latency?.p50)),
        h("td", { class: "num" }, formatMs(latency?.p95)),
        h("td", { class: "num" }, formatMs(latency?.max)),
        h("td", { class: `num${(errors?.errors ?? 0) > 0 ? " bad" : ""}` }, errors?.errors ?? 0),
        h("td", { class: "num" }, errors === undefined ? "–" : `${(errors.rate * 100).toFixed(1)} %`)
      )
    }))
  }
}
