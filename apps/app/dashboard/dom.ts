// Elements built with text nodes only: run inputs and outputs are user data,
// and nothing from the API is ever parsed as HTML.

type Child = Node | string | number | null | undefined | false

export const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, string | number | boolean | undefined>> = {},
  ...children: ReadonlyArray<Child | ReadonlyArray<Child>>
): HTMLElementTagNameMap[K] => {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue
    element.setAttribute(name, value === true ? "" : String(value))
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    element.append(typeof child === "object" ? child : String(child))
  }
  return element
}

export const formatBytes = (bytes: number): string =>
  bytes >= 1_073_741_824 ? `${(bytes / 1_073_741_824).toFixed(2)} GB` : `${(bytes / 1_048_576).toFixed(1)} MB`

export const formatMs = (ms: number | undefined): string =>
  ms === undefined ? "–" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`

export const formatCost = (cost: number | undefined): string => cost === undefined ? "–" : `$${cost.toFixed(4)}`

export const formatTime = (epochMs: number): string => new Date(epochMs).toLocaleTimeString()

export const formatAgo = (epochMs: number | null, now = Date.now()): string => {
  if (epochMs === null) return "never"
  const seconds = Math.max(0, Math.round((now - epochMs) / 1000))
  return seconds < 60 ? `${seconds} s ago` : seconds < 3600 ? `${Math.round(seconds / 60)} min ago` : formatTime(epochMs)
}
