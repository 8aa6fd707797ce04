// <patinox-usage>: LLM calls, tokens and cost per minute over the last hour
// (GET /telemetry/timeseries), drawn with uPlot.
import { getJson } from "./api.js"
import { Chart } from "./Chart.js"
import { Panel } from "./Panel.js"
import type { Timeseries } from "./types.js"

export class Usage extends Panel {
  private readonly chart = new Chart(
    [
      { label: "LLM calls", stroke: "#2e90fa" },
      { label: "tokens (÷100)", stroke: "#7a5af8" },
      { label: "cost ($)", stroke: "#d92d20", scale: "y2", format: (v) => `$${v.toFixed(4)}` }
    ],
    { y: "calls · tokens/100", y2: "cost ($)" }
  )

  constructor() {
    super("LLM usage and cost (last hour, per minute)", 10_000)
    this.content.append(this.chart.element)
  }

  protected async load(signal: AbortSignal): Promise<void> {
    const series = await getJson<Timeseries>("/telemetry/timeseries?windowMs=3600000&bucketMs=60000", signal)
    const buckets = series.buckets
    const calls = buckets.reduce((sum, b) => sum + b.llmCalls, 0)
    this.dataset.llmCalls = String(calls)
    this.note(calls === 0 ? "No LLM calls in the last hour." : `${calls} LLM calls in the last hour.`)
    this.chart.update(
      buckets.map((b) => b.t),
      [buckets.map((b) => b.llmCalls), buckets.map((b) => (b.tokensIn + b.tokensOut) / 100), buckets.map((b) => b.cost)]
    )
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.chart.destroy()
  }
}
