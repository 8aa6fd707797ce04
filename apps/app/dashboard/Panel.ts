// What every panel shares: a shadow root with the shared styles, a title, a
// message line, and a poll loop (a chain of timeouts, cleared when the
// element leaves the page) that keeps going through errors.
import { ApiError, tokenEvent } from "./api.js"
import { h } from "./dom.js"
import { panelSheets } from "./styles.js"

export abstract class Panel extends HTMLElement {
  protected readonly root: ShadowRoot
  protected readonly heading: HTMLHeadingElement
  protected readonly status: HTMLParagraphElement
  protected readonly content: HTMLDivElement
  private timer: ReturnType<typeof setTimeout> | undefined
  private controller: AbortController | undefined
  private readonly refreshNow = () => void this.tick()

  constructor(title: string, protected readonly intervalMs: number) {
    super()
    this.root = this.attachShadow({ mode: "open" })
    this.root.adoptedStyleSheets = [...panelSheets]
    this.heading = h("h2", {}, h("span", {}, title))
    this.status = h("p", { class: "message", role: "status" })
    this.content = h("div", { class: "content" })
    this.root.append(this.heading, this.status, this.content)
  }

  /** Fetches and renders; throws to show an error (the loop goes on). */
  protected abstract load(signal: AbortSignal): Promise<void>

  connectedCallback(): void {
    window.addEventListener(tokenEvent, this.refreshNow)
    void this.tick()
  }

  disconnectedCallback(): void {
    window.removeEventListener(tokenEvent, this.refreshNow)
    clearTimeout(this.timer)
    this.timer = undefined
    this.controller?.abort()
  }

  /** One load now, then the next after `intervalMs`; a load in flight is replaced. */
  protected async tick(): Promise<void> {
    clearTimeout(this.timer)
    this.controller?.abort()
    const controller = new AbortController()
    this.controller = controller
    try {
      await this.load(controller.signal)
      if (this.status.classList.contains("error")) this.note("")
      this.setAttribute("data-loaded", "")
    } catch (error) {
      if (controller.signal.aborted) return
      this.showError(error)
    }
    if (this.isConnected && this.controller === controller) {
      this.timer = setTimeout(() => void this.tick(), this.intervalMs)
    }
  }

  protected showError(error: unknown): void {
    this.status.className = "message error"
    this.status.textContent = error instanceof ApiError
      ? error.status === 401
        ? "Enter the API token to see this panel."
        : error.notAvailable
        ? "Not available on this service."
        : `${error.code}: ${error.message}`
      : `Cannot reach the service: ${error instanceof Error ? error.message : String(error)}`
  }

  /** A neutral line under the title (empty data), or none. */
  protected note(text: string): void {
    this.status.className = "message"
    this.status.textContent = text
  }

  /** A table's rows; an empty table is hidden (the message line says why). */
  protected fill(body: HTMLTableSectionElement, rows: ReadonlyArray<HTMLTableRowElement>): void {
    body.replaceChildren(...rows)
    const table = body.closest("table")
    if (table !== null) table.hidden = rows.length === 0
  }

  /** Runs an action from a button, showing its failure without stopping the loop. */
  protected async act(action: () => Promise<void>): Promise<void> {
    try {
      await action()
      await this.tick()
    } catch (error) {
      this.showError(error)
    }
  }
}
