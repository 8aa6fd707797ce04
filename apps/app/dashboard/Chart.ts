// A uPlot time-series chart that follows its container's width.
import uPlot from "uplot"
import { h } from "./dom.js"

export interface Series {
  readonly label: string
  readonly stroke: string
  /** Which y axis: "y" (left) or "y2" (right). */
  readonly scale?: "y" | "y2"
  readonly format?: (value: number) => string
}

const fromZero = (_: uPlot, _min: number | null, max: number | null): uPlot.Range.MinMax =>
  max === null || max <= 0 ? [0, 1] : [0, max * 1.1]

export class Chart {
  readonly element = h("div", { class: "chart" })
  private plot: uPlot | undefined
  private readonly resize = new ResizeObserver(() => this.plot?.setSize(this.size()))

  constructor(private readonly series: ReadonlyArray<Series>, private readonly axes: { y: string; y2?: string }) {
    this.resize.observe(this.element)
  }

  private size() {
    return { width: Math.max(240, this.element.clientWidth), height: 200 }
  }

  /** `x` in epoch ms; one array of values per series. */
  update(x: ReadonlyArray<number>, values: ReadonlyArray<ReadonlyArray<number | null>>): void {
    const data: uPlot.AlignedData = [[...x], ...values.map((column) => [...column])]
    if (this.plot !== undefined) {
      this.plot.setData(data)
      return
    }
    const axisFor = (scale: "y" | "y2", label: string): uPlot.Axis => ({
      scale,
      label,
      side: scale === "y" ? 3 : 1,
      size: 60,
      grid: { show: scale === "y" }
    })
    this.plot = new uPlot(
      {
        ...this.size(),
        // From zero, and not a 0-100 default when every value is 0 (no cost yet).
        scales: { x: { time: true }, y: { range: fromZero }, y2: { range: fromZero } },
        // Epoch milliseconds as the API sends them (a lone point then spans 86 s, not uPlot's 1000 days).
        ms: 1,
        series: [
          {},
          ...this.series.map((s): uPlot.Series => ({
            label: s.label,
            stroke: s.stroke,
            width: 2,
            scale: s.scale ?? "y",
            ...(s.format === undefined ? {} : { value: (_: uPlot, v: number | null) => v === null ? "–" : s.format!(v) })
          }))
        ],
        axes: [{}, axisFor("y", this.axes.y), ...(this.axes.y2 === undefined ? [] : [axisFor("y2", this.axes.y2)])]
      },
      data,
      this.element
    )
  }

  /** Frees the canvas; a later `update` draws a new one. */
  destroy(): void {
    this.plot?.destroy()
    this.plot = undefined
  }
}
