/**
 * A proposal: a reviewed edit of behaviour files with the evidence behind
 * it, and the markdown description a reviewer reads. Evidence is built from
 * telemetry, which is untrusted text, so `describe` escapes everything it
 * did not write itself.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** One file's full text before and after the edit; publishers write `after`. @since 0.1.0 @category models */
export const FileChange = Schema.Struct({
  path: Schema.String,
  before: Schema.String,
  after: Schema.String
})
/** @since 0.1.0 @category models */
export type FileChange = typeof FileChange.Type

/** Numbers measured by a query, keyed by metric name. @since 0.1.0 @category models */
export const Measures = Schema.Record({ key: Schema.String, value: Schema.Number })

/** What the proposal rests on. @since 0.1.0 @category models */
export const Evidence = Schema.Struct({
  query: Schema.String,
  before: Measures,
  expected: Schema.String,
  replay: Schema.optional(Schema.Struct({ before: Measures, after: Measures }))
})
/** @since 0.1.0 @category models */
export type Evidence = typeof Evidence.Type

/** @since 0.1.0 @category models */
export const Proposal = Schema.Struct({
  id: Schema.String,
  /** What was found and where, e.g. `latency:tool:search`; one open proposal per key. */
  findingKey: Schema.String,
  title: Schema.String,
  files: Schema.Array(FileChange),
  evidence: Evidence,
  labels: Schema.Array(Schema.String)
})
/** @since 0.1.0 @category models */
export type Proposal = typeof Proposal.Type

// ---------------------------------------------------------------------------
// escaping
// ---------------------------------------------------------------------------

// C0/C1 controls and bidi overrides, except tab and newline: they can hide
// text from a reviewer or break the terminal that shows a commit message.
const controls = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2066-\u2069]/g

/** Removes control and bidi characters, keeping tabs and newlines. @since 0.1.0 @category escaping */
export const stripControl = (text: string): string => text.replace(/\r\n?/g, "\n").replace(controls, "")

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "&#64;" }

/**
 * Untrusted text as inline markdown: one line, HTML and `@mentions`
 * neutralised, every markdown punctuation character backslash-escaped.
 *
 * @since 0.1.0 @category escaping
 */
export const escapeInline = (text: string): string =>
  stripControl(text)
    .replace(/\s+/g, " ")
    // One pass, so the entities written here are not escaped again.
    .replace(/[&<>@\\`*_{}[\]()#+\-.!|~"']/g, (c) => entities[c] ?? `\\${c}`)

/**
 * Untrusted text as a fenced code block. The fence is longer than any
 * backtick run inside, so the text cannot close it.
 *
 * @since 0.1.0 @category escaping
 */
export const fence = (text: string, info = "text"): string => {
  const body = stripControl(text)
  const longest = Math.max(0, ...Array.from(body.matchAll(/`+/g), (m) => m[0].length))
  const marks = "`".repeat(Math.max(3, longest + 1))
  return `${marks}${info}\n${body}${body.endsWith("\n") ? "" : "\n"}${marks}`
}

/** A proposal's title as plain text: one line, no controls, at most 200 characters. @since 0.1.0 @category escaping */
export const plainTitle = (title: string): string => stripControl(title).replace(/\s+/g, " ").trim().slice(0, 200)

/** A finding key as a branch-name segment: lower-case `[a-z0-9-]`. @since 0.1.0 @category escaping */
export const slug = (key: string): string =>
  key.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80) || "finding"

// ---------------------------------------------------------------------------
// description
// ---------------------------------------------------------------------------

const formatNumber = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(3))

const measuresTable = (columns: ReadonlyArray<readonly [string, Readonly<Record<string, number>>]>): string => {
  const keys = Array.from(new Set(columns.flatMap(([, m]) => Object.keys(m)))).sort()
  const header = `| metric | ${columns.map(([name]) => name).join(" | ")} |`
  const rule = `|---|${columns.map(() => "---:").join("|")}|`
  const rows = keys.map((k) =>
    `| ${escapeInline(k)} | ${columns.map(([, m]) => (m[k] === undefined ? "" : formatNumber(m[k]))).join(" | ")} |`
  )
  return [header, rule, ...rows].join("\n")
}

/**
 * One file's change as a line-level diff good enough for review: the common
 * head and tail are dropped, what is left is shown as removed and added lines.
 *
 * @since 0.1.0 @category description
 */
export const fileDiff = (change: FileChange): string => {
  const a = change.before.split("\n")
  const b = change.after.split("\n")
  let head = 0
  while (head < a.length && head < b.length && a[head] === b[head]) head++
  let tail = 0
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++
  const removed = a.slice(head, a.length - tail).map((l) => `-${l}`)
  const added = b.slice(head, b.length - tail).map((l) => `+${l}`)
  return [`@@ line ${head + 1} @@`, ...removed, ...added].join("\n")
}

/**
 * Every file's change in one text, each under `---`/`+++` headers naming its
 * path: what the proposal store keeps and the API shows. Raw text: whoever
 * renders it as markdown fences it.
 *
 * @since 0.1.0 @category description
 */
export const diffOf = (files: ReadonlyArray<FileChange>): string =>
  files.map((file) => [`--- a/${file.path}`, `+++ b/${file.path}`, fileDiff(file)].join("\n")).join("\n")

/**
 * The markdown body of a proposal: evidence, expected effect, replay and
 * the diff. Every piece of proposal text is escaped or fenced; only the
 * headings and table structure are written raw.
 *
 * @since 0.1.0 @category description
 */
export const describe = (proposal: Proposal): string => {
  const { evidence } = proposal
  const sections = [
    `## ${escapeInline(plainTitle(proposal.title))}`,
    `Finding: ${escapeInline(proposal.findingKey)} (proposal ${escapeInline(proposal.id)})`,
    "### Evidence",
    "Query:",
    fence(evidence.query, "sql"),
    measuresTable([["before", evidence.before]]),
    "### Expected",
    escapeInline(evidence.expected)
  ]
  if (evidence.replay !== undefined) {
    sections.push("### Replay", measuresTable([["before", evidence.replay.before], ["after", evidence.replay.after]]))
  }
  sections.push("### Changes")
  for (const file of proposal.files) {
    sections.push(`File: ${escapeInline(file.path)}`, fence(fileDiff(file), "diff"))
  }
  sections.push("---", "_Proposed by the Patinox meta-layer. Nothing is merged without review unless `meta.autoMerge` is on._")
  return sections.join("\n\n") + "\n"
}
