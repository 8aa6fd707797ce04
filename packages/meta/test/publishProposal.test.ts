import { assert, describe, it } from "@effect/vitest"
import { Proposal } from "../src/index.js"

const injected = "x\u0000\u001b[31m <img src=x onerror=alert(1)> [click](http://evil.example) @admin **bold** # h\n```\n</details>\u202Eevil"

const proposal: Proposal.Proposal = {
  id: "p-<1>",
  findingKey: "errors:tool:<script>",
  title: "Fix\u0007 the [tool](http://evil.example)\nSecond line",
  files: [{ path: "agents/a.yaml", before: "a: 1\nb: 2\n", after: "a: 1\nb: 3\n" }],
  evidence: {
    query: "select * from spans where msg = '```'",
    before: { "rate<b>": 0.5 },
    expected: injected,
    replay: { before: { rate: 0.5 }, after: { rate: 0.1 } }
  },
  labels: []
}

describe("Proposal.describe", () => {
  it("escapes injected telemetry text", () => {
    const body = Proposal.describe(proposal)
    assert.notInclude(body, "<img")
    assert.notInclude(body, "<script>")
    assert.notInclude(body, "<b>")
    assert.notInclude(body, "</details>")
    assert.notInclude(body, "](http")
    assert.notInclude(body, "@admin")
    assert.notInclude(body, "**bold**")
    assert.notMatch(body, /[\u0000-\u0008\u000B-\u001F\u007F\u202E]/)
    assert.include(body, "&lt;img src=x onerror=alert\\(1\\)&gt;")
    assert.include(body, "&#64;admin")
  })

  it("fences code with a fence longer than any backtick run inside", () => {
    const body = Proposal.describe(proposal)
    assert.include(body, "````sql\nselect * from spans where msg = '```'\n````")
    assert.strictEqual(Proposal.fence("a ````` b"), "``````text\na ````` b\n``````")
  })

  it("holds the evidence and a diff of the changed lines", () => {
    const body = Proposal.describe(proposal)
    assert.include(body, "| rate | 0.500 | 0.100 |")
    assert.include(body, "-b: 2\n+b: 3")
    assert.notInclude(body, "-a: 1")
  })

  it("titles are one plain line and branch slugs are safe", () => {
    assert.strictEqual(Proposal.plainTitle(proposal.title), "Fix the [tool](http://evil.example) Second line")
    assert.strictEqual(Proposal.slug("latency:tool:search"), "latency-tool-search")
    assert.strictEqual(Proposal.slug("../../etc passwd;rm"), "etc-passwd-rm")
  })
})
