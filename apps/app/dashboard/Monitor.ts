// <patinox-monitor>: the performance monitor's status (GET /monitoring/status)
// every 2 s, with Reset and Export. Its state is on the element
// (`state="warning"`) for styles and tests alike.
import { call, getJson, post } from "./api.js"
import { formatAgo, formatBytes, h } from "./dom.js"
import { Panel } from "./Panel.js"
import type { MonitorStatus } from "./types.js"

const monitorCss = new CSSStyleSheet()
monitorCss.replaceSync(`
:host([state="active"]) { border-color: #2e90fa; }
:host([state="warning"]) { border-color: #d92d20; background: #fef3f2; }
:host([state="warning"]) .state { background: #d92d20; color: #fff; }
:host([state="active"]) .state { background: #2e90fa; color: #fff; }
.figures { display: flex; gap: 24px; flex-wrap: wrap; margin: 6px 0; }
.figure .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.figure .label { color: #5b6475; font-size: 12px; }
.bar { height: 6px; background: #e4e7ec; border-radius: 3px; overflow: hidden; width: 180px; margin-top: 4px; }
.bar > div { height: 100%; background: #2e90fa; }
:host([state="warning"]) .bar > div { background: #d92d20; }
.actions { display: flex; gap: 8px; }
`)

/** Above this share of the limit the widget warns, whatever the service's state says. */
const memoryWarning = 0.9

/** The file name from `Content-Disposition`, else one of the same form. */
const fileName = (disposition: string | null): string =>
  /filename="?([^";]+)"?/.exec(disposition ?? "")?.[1] ?? `patinox-metrics-${Date.now()}.json`

export class Monitor extends Panel {
  private readonly memory = h("span", { class: "value", "data-field": "memory" }, "–")
  private readonly limit = h("span", { "data-field": "limit" }, "")
  private readonly bar = h("div")
  private readonly calls = h("span", { class: "value", "data-field": "llm-calls" }, "–")
  private readonly activity = h("span", { "data-field": "last-activity" }, "")
  private readonly message = h("p", { class: "message", "data-field": "message" })
  private readonly state = h("span", { class: "pill state", "data-field": "state" }, "…")

  constructor() {
    super("Performance monitor", 2_000)
    this.root.adoptedStyleSheets = [...this.root.adoptedStyleSheets, monitorCss]
    const reset = h("button", { type: "button", "data-action": "reset" }, "Reset")
    const exportButton = h("button", { type: "button", "data-action": "export" }, "Export")
    reset.addEventListener("click", () => void this.act(() => post("/monitoring/reset").then(() => undefined)))
    exportButton.addEventListener("click", () => void this.act(() => this.download()))
    this.heading.append(this.state, h("span", { class: "actions" }, reset, exportButton))
    this.content.append(
      h(
        "div",
        { class: "figures" },
        h("div", { class: "figure" }, this.memory, h("div", { class: "label" }, "memory (heap used) of ", this.limit), h("div", { class: "bar" }, this.bar)),
        h("div", { class: "figure" }, this.calls, h("div", { class: "label" }, "LLM calls")),
        h("div", { class: "figure" }, h("span", { class: "value" }, this.activity), h("div", { class: "label" }, "last activity"))
      ),
      this.message
    )
  }

  protected async load(signal: AbortSignal): Promise<void> {
    const status = await getJson<MonitorStatus>("/monitoring/status", signal)
    const { value, limit } = status.primaryMetric
    const share = limit > 0 ? value / limit : 0
    const warning = status.state === "warning" || share > memoryWarning
    this.setAttribute("state", warning ? "warning" : status.state)
    this.dataset.llmCalls = String(status.secondaryMetric.value)
    this.dataset.memory = String(value)
    this.state.textContent = warning ? "warning" : status.state
    this.memory.textContent = formatBytes(value)
    this.limit.textContent = formatBytes(limit)
    this.bar.style.width = `${Math.min(100, Math.round(share * 100))}%`
    this.calls.textContent = String(status.secondaryMetric.value)
    this.activity.textContent = formatAgo(status.lastActivity)
    this.message.textContent = status.message
  }

  /** The metrics as a file: fetched with the token (a link would need it in the URL), saved from a Blob. */
  private async download(): Promise<void> {
    const response = await call("/monitoring/export")
    const url = URL.createObjectURL(await response.blob())
    const link = h("a", { href: url, download: fileName(response.headers.get("content-disposition")) })
    this.root.append(link)
    link.click()
    link.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  }
}
