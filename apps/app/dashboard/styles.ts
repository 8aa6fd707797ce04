// The components' shared styles, adopted by each shadow root (a shadow root
// does not see the page's stylesheet; adopted sheets need no inline <style>,
// which the page's Content-Security-Policy forbids).
import uplotCss from "uplot/dist/uPlot.min.css"

const panelCss = `
:host { display: block; background: var(--panel, #fff); border: 1px solid var(--line, #d8dde6); border-radius: 8px;
  padding: 12px 14px; min-width: 0; color: var(--ink, #1d2433); font: 14px/1.4 system-ui, sans-serif; }
h2 { font-size: 15px; margin: 0 0 8px; display: flex; justify-content: space-between; align-items: center; gap: 8px; }
h3 { font-size: 13px; margin: 12px 0 4px; color: var(--muted, #5b6475); }
.message { color: var(--muted, #5b6475); font-size: 13px; margin: 4px 0; }
.message.error { color: var(--bad, #b42318); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line, #d8dde6); vertical-align: top; }
th { color: var(--muted, #5b6475); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr.clickable { cursor: pointer; }
tbody tr.clickable:hover, tbody tr[aria-selected="true"] { background: var(--hover, #eef2f8); }
button { font: inherit; font-size: 13px; padding: 3px 10px; border-radius: 5px; border: 1px solid var(--line, #c4cbd8);
  background: #f6f8fb; cursor: pointer; }
button:hover { background: #e8edf5; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: #eef2f8; }
.ok, .approved, .succeeded { color: #067647; }
.bad, .rejected, .failed, .error { color: var(--bad, #b42318); }
.modified, .retried, .running { color: #b54708; }
pre { background: #f6f8fb; border: 1px solid var(--line, #d8dde6); border-radius: 5px; padding: 8px; overflow: auto;
  max-height: 320px; font-size: 12px; white-space: pre-wrap; word-break: break-word; }
pre .add { color: #067647; } pre .del { color: #b42318; }
ul.tree { list-style: none; padding-left: 14px; margin: 2px 0; border-left: 2px solid var(--line, #d8dde6); }
ul.tree li { margin: 3px 0; }
.reason { color: var(--muted, #5b6475); }
.chart { width: 100%; min-height: 200px; }
.scroll { max-height: 340px; overflow: auto; }
`

const sheet = (text: string): CSSStyleSheet => {
  const style = new CSSStyleSheet()
  style.replaceSync(text)
  return style
}

/** One sheet object shared by every component (adopting it is free). */
export const panelSheets: ReadonlyArray<CSSStyleSheet> = [sheet(uplotCss), sheet(panelCss)]
