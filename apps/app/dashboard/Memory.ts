// <patinox-memory>: the performance monitor's memory samples over time
// (`memory.samples` of GET /monitoring/metrics), drawn with uPlot.
import { getJson } from "./api.js"
import { Chart } from "./Chart.js"
import { formatBytes } from "./dom.js"
import { Panel } from "./Panel.js"
import type { PerformanceMetrics } from "./types.js"

const mb = (bytes: number) => bytes / 1_048_576

export class Memory extends Panel {
  private readonly chart = new Chart(
    [
      { label: "heap used (MB)", stroke: "#2e90fa", format: (v) => `${v.toFixed(1)} MB` },
      { label: "RSS (MB)", stroke: "#12b76a", format: (v) => `${v.toFixed(1)} MB` }
    ],
    { y: "MB" }
  )

  constructor() {
    super("Memory", 5_000)
    this.content.append(this.chart.element)
  }

  protected async load(signal: AbortSignal): Promise<void> {
    const metrics = await getJson<PerformanceMetrics>("/monitoring/metrics", signal)
    const samples = metrics.memory.samples
    this.note(
      samples.length === 0
        ? "No memory samples yet."
        : `Peak heap ${formatBytes(metrics.memory.peakHeapUsed)}, peak RSS ${formatBytes(metrics.memory.peakRss)}.`
    )
    this.chart.update(samples.map((s) => s.timestamp), [samples.map((s) => mb(s.heapUsed)), samples.map((s) => mb(s.rss))])
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.chart.destroy()
  }
}
