// <patinox-alerts>: the alerts firing now (GET /monitoring/alerts), each with
// an Acknowledge button (POST /monitoring/alerts/:id/acknowledge).
import { getJson, post } from "./api.js"
import { formatTime, h } from "./dom.js"
import { Panel } from "./Panel.js"
import type { Alerts as AlertList } from "./types.js"

export class Alerts extends Panel {
  private readonly list = h("tbody")

  constructor() {
    super("Alerts", 5_000)
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
            h("th", {}, "since"),
            h("th", {}, "rule"),
            h("th", {}, "subject"),
            h("th", {}, "severity"),
            h("th", { class: "num" }, "value"),
            h("th", {}, "")
          )
        ),
        this.list
      )
    )
  }

  protected async load(signal: AbortSignal): Promise<void> {
    const alerts = await getJson<AlertList>("/monitoring/alerts", signal)
    this.note(alerts.active.length === 0 ? "No alert is firing." : "")
    this.setAttribute("firing", String(alerts.active.length))
    this.fill(this.list, alerts.active.map((alert) => {
      const acknowledge = h("button", { type: "button", "data-action": "acknowledge" }, "Acknowledge")
      acknowledge.addEventListener("click", () =>
        void this.act(() => post(`/monitoring/alerts/${encodeURIComponent(alert.id)}/acknowledge`).then(() => undefined)))
      return h(
        "tr",
        { "data-alert": alert.id, class: alert.acknowledged ? "" : "bad" },
        h("td", {}, formatTime(alert.since)),
        h("td", {}, alert.rule),
        h("td", {}, alert.subject),
        h("td", {}, alert.severity),
        h("td", { class: "num" }, Number.isInteger(alert.value) ? alert.value : alert.value.toFixed(3)),
        h("td", {}, alert.acknowledged ? `acknowledged ${alert.acknowledgedAt === undefined ? "" : formatTime(alert.acknowledgedAt)}` : acknowledge)
      )
    }))
  }
}
