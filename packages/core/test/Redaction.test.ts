import { assert, describe, it } from "@effect/vitest"
import { ActionResult, AgentAction, Decision, Ids, Message, Redaction } from "@patinox/core"
import type { TelemetryEvent } from "@patinox/core/TelemetryEvent"

const redactor = Redaction.make()

// Shaped like the real thing, issued by nobody.
const secrets = {
  openai: "sk-abcdEFGH1234ijklMNOP5678qrstUVWX",
  openaiProject: "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe_dCbA-1234",
  aws: "AKIAIOSFODNN7EXAMPLE",
  github: "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",
  githubPat: "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123",
  slack: "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
  jwt: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
  bearer: "abc123.def456-ghi789_jkl",
  email: "jane.doe+test@example-mail.co.uk",
  card: "4111 1111 1111 1111",
  phoneIntl: "+44 20 7946 0958",
  phoneUs: "(555) 123-4567"
} as const

const privateKey = [
  "-----BEGIN RSA PRIVATE KEY-----",
  "MIIEowIBAAKCAQEAx4wLbQ0aZ9n8zq1X7k3vB2m5h6r8t9yU0iO1pA2sD3fG4hJ5",
  "kL6zX7cV8bN9mQ0wE1rT2yU3iO4pA5sD6fG7hJ8kL9zX0cV1bN2mQ3wE4rT5yU6",
  "-----END RSA PRIVATE KEY-----"
].join("\n")

const detects = (name: string, input: string, secret: string) => {
  const out = redactor.text(input)
  assert.isFalse(out.includes(secret), `${name}: "${secret}" survived in "${out}"`)
  assert.isTrue(out.includes(Redaction.marker(name)), `${name}: no marker in "${out}"`)
}

describe("Redaction.text", () => {
  it("redacts OpenAI-style keys, plain and project", () => {
    detects("openai_key", `export OPENAI=${secrets.openai} now`, secrets.openai)
    detects("openai_key", `key ${secrets.openaiProject}`, secrets.openaiProject)
  })
  it("redacts bearer tokens and keeps the scheme", () => {
    const out = redactor.text(`curl -H 'X: Bearer ${secrets.bearer}' https://api`)
    assert.isFalse(out.includes(secrets.bearer))
    assert.isTrue(out.includes(`Bearer ${Redaction.marker("bearer")}`))
  })
  it("redacts Authorization headers of any scheme", () => {
    detects("authorization", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==")
    detects("authorization", `authorization=Bearer ${secrets.bearer}`, secrets.bearer)
    detects("authorization", `{"Authorization":"${secrets.bearer}"}`, secrets.bearer)
  })
  it("redacts AWS access key ids", () => detects("aws_access_key", `aws id ${secrets.aws}.`, secrets.aws))
  it("redacts GitHub tokens", () => {
    detects("github_token", `token ${secrets.github}`, secrets.github)
    detects("github_token", `pat ${secrets.githubPat}`, secrets.githubPat)
  })
  it("redacts Slack tokens and webhooks", () => {
    detects("slack_token", `slack ${secrets.slack}`, secrets.slack)
    detects("slack_token", "post to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX", "T000/B000/XXXXXXXXXXXX")
  })
  it("redacts JWTs", () => detects("jwt", `session=${secrets.jwt}`, secrets.jwt.slice(40)))
  it("redacts private key blocks, with or without their end line", () => {
    detects("private_key", `key:\n${privateKey}\nthanks`, "MIIEowIBAAKCAQEA")
    detects("private_key", privateKey.split("\n").slice(0, 2).join("\n"), "MIIEowIBAAKCAQEA")
  })
  it("redacts generic secret assignments and keeps the name", () => {
    const out = redactor.text(`api_key=hunter2abc password: "correct horse" secret='s3cr3tvalue'`)
    assert.isFalse(out.includes("hunter2abc"))
    assert.isFalse(out.includes("correct"))
    assert.isFalse(out.includes("s3cr3tvalue"))
    assert.isTrue(out.startsWith(`api_key=${Redaction.marker("secret")}`))
    detects("secret", `{"password":"p4ssw0rd!"}`, "p4ssw0rd!")
  })
  it("redacts e-mail addresses", () => detects("email", `write to ${secrets.email}, thanks`, secrets.email))
  it("redacts Luhn-valid card numbers and leaves Luhn-invalid ones", () => {
    detects("credit_card", `card ${secrets.card} exp 12/29`, secrets.card)
    detects("credit_card", "amex 378282246310005", "378282246310005")
    assert.strictEqual(redactor.text("card 4111 1111 1111 1112"), "card 4111 1111 1111 1112")
  })
  it("redacts phone numbers written as phone numbers", () => {
    detects("phone", `call ${secrets.phoneIntl} today`, secrets.phoneIntl)
    detects("phone", `or ${secrets.phoneUs}`, secrets.phoneUs)
    detects("phone", "or 555-123-4567.", "555-123-4567")
  })
  it("applies custom patterns, given as strings or regexes", () => {
    const custom = Redaction.make({
      patterns: [{ name: "ticket", pattern: "TCK-\\d{6}" }, { name: "codename", pattern: /project nightjar/i }]
    })
    assert.strictEqual(
      custom.text("see TCK-123456 about Project Nightjar"),
      "see [REDACTED:ticket] about [REDACTED:codename]"
    )
  })
  it("catches each kind of secret standing alone, with no word around it to hint at it", () => {
    // Such strings reach the detectors only through the one-scan prefilter of every trigger.
    const alone: ReadonlyArray<readonly [string, string]> = [
      ["openai_key", secrets.openai],
      ["aws_access_key", secrets.aws],
      ["github_token", secrets.github],
      ["github_token", secrets.githubPat],
      ["slack_token", secrets.slack],
      ["jwt", secrets.jwt],
      ["email", secrets.email],
      ["credit_card", secrets.card],
      ["phone", secrets.phoneIntl],
      ["phone", secrets.phoneUs],
      ["private_key", privateKey],
      ["authorization", `AUTHORIZATION: ${secrets.bearer}`],
      ["bearer", `BEARER ${secrets.bearer}`],
      ["secret", "PASSWORD=Tr0ub4dor&3x"]
    ]
    for (const [name, input] of alone) {
      const out = redactor.text(input)
      assert.isTrue(out.includes(Redaction.marker(name)), `${name}: no marker in "${out}"`)
    }
  })
  it("returns text without any trigger unchanged, as the same string", () => {
    const prose = "Summarise the open incidents for the payments team and suggest next steps."
    assert.strictEqual(redactor.text(prose), prose)
  })
  it("truncates huge strings before scanning, and stays fast on them", () => {
    const huge = `${"a".repeat(200_000)}@${"b".repeat(200_000)}`
    const started = performance.now()
    const out = redactor.text(huge)
    assert.isBelow(performance.now() - started, 1_000)
    assert.isTrue(out.endsWith(`[TRUNCATED:${huge.length - 65_536}]`))
    const digits = "1 ".repeat(30_000)
    const started2 = performance.now()
    redactor.text(digits)
    assert.isBelow(performance.now() - started2, 1_000)
  })
})

describe("Redaction: no false positives", () => {
  const samples = [
    "The meeting on 2024-11-21 moved to room 4.12; please bring the Q3 numbers (about 1,250,000 units).",
    "Reset your password from the settings page, then sign in again with your new credentials.",
    "The bearer instrument was signed by both parties and filed with the registry.",
    "We use sk-learn style pipelines and a task-based scheduler for the nightly jobs.",
    "Order 123456 shipped at 1732197600000 ms; tracking 9400100000000000000000, version 1.2.3.",
    "Server 192.168.1.10 listens on port 8080; request id 550e8400-e29b-41d4-a716-446655440000.",
    "const tokens = usage.inputTokens + usage.outputTokens\nif (tokens > 4096) return \"too long\"",
    "import { Effect } from \"@effect/io\"\n@Component({ selector: \"app\" })\nclass Foo { key = 1 }",
    "git log --since=2.weeks -- src/ghost_runner.ts | head -n 20",
    "The function returns a Promise<string> and logs `keyword arguments` for each call.",
    "Total: 4111 items in 1111 boxes; SKU 5500-0000-0000-0005 is retired.",
    "Phone extension 4567 and year 1999 are not phone numbers; neither is 10.20.30.40."
  ]
  for (const sample of samples) {
    it(`leaves "${sample.slice(0, 40)}…" alone`, () => {
      assert.strictEqual(redactor.text(sample), sample)
    })
  }
})

describe("Redaction.event", () => {
  const event = (fields: Partial<TelemetryEvent>): TelemetryEvent => ({
    timestamp: 1_700_000_000_000,
    traceId: Ids.TraceId.make("0af7651916cd43dd8448eb211c80319c"),
    spanId: Ids.SpanId.make("b7ad6b7169203331"),
    type: "model.request",
    agentId: Ids.AgentId.make("agent-1"),
    metrics: {},
    context: {},
    ...fields
  })

  it("redacts messages, tool arguments, results, decisions and nested context", () => {
    const input = event({
      action: new AgentAction.ModelCall({
        step: 1,
        messages: [
          Message.system("You are helpful."),
          Message.user(`my key is ${secrets.openai}, mail ${secrets.email}`),
          new Message.AssistantMessage({
            content: null,
            toolCalls: [
              new Message.ToolCall({
                id: Ids.ToolCallId.make("call-1"),
                name: "http",
                arguments: JSON.stringify({ headers: { Authorization: `Bearer ${secrets.bearer}` } })
              })
            ]
          }),
          new Message.ToolMessage({
            toolCallId: Ids.ToolCallId.make("call-1"),
            name: "http",
            content: `token ${secrets.github}`,
            isError: false
          })
        ],
        tools: ["http"]
      }),
      result: new ActionResult.Failure({ error: "ToolFailed", message: `401 for ${secrets.aws}` }),
      metrics: {
        decisions: [
          new Decision.DecisionRecord({
            validator: "pii",
            stage: "user_input",
            decision: "modified",
            reason: `found ${secrets.phoneIntl}`,
            latencyMs: 1
          })
        ]
      },
      context: {
        tool: "http",
        request: { headers: [{ name: "x", value: `Bearer ${secrets.bearer}` }], apiKey: "plain-looking" },
        deep: { a: { b: { c: [secrets.jwt] } } }
      }
    })
    const out = redactor.event(input)
    const json = JSON.stringify(out)
    for (const secret of [secrets.openai, secrets.email, secrets.bearer, secrets.github, secrets.aws, secrets.phoneIntl, secrets.jwt, "plain-looking"]) {
      assert.isFalse(json.includes(secret), `${secret} survived`)
    }
    assert.strictEqual(out.context["tool"], "http")
    assert.strictEqual(out.action?._tag, "ModelCall")
    assert.isTrue(out.action instanceof AgentAction.ModelCall)
    // the original is left untouched
    assert.isTrue(JSON.stringify(input).includes(secrets.openai))
  })

  it("returns the same event when there is nothing to redact", () => {
    const input = event({
      action: new AgentAction.UserInput({ input: "What is the weather in Paris tomorrow?" }),
      context: { model: "gpt-4o-mini", provider: "openai", step: 1 }
    })
    assert.strictEqual(redactor.event(input), input)
  })

  it("redacts tool call actions, tool results and final answers", () => {
    const call = redactor.event(event({
      type: "tool.start",
      action: new AgentAction.ToolCallAction({
        step: 2,
        toolCall: new Message.ToolCall({ id: Ids.ToolCallId.make("c"), name: "db", arguments: `{"password":"p4ss!word"}` })
      })
    }))
    assert.isFalse(JSON.stringify(call).includes("p4ss!word"))
    const output = redactor.event(event({
      type: "tool.end",
      result: new ActionResult.ToolOutput({ tool: "crm", content: `owner ${secrets.email}`, isError: false })
    }))
    assert.isFalse(JSON.stringify(output).includes(secrets.email))
    const answer = redactor.event(event({
      type: "run.end",
      action: new AgentAction.FinalAnswer({ step: 3, content: `call ${secrets.phoneUs}` })
    }))
    assert.isFalse(JSON.stringify(answer).includes(secrets.phoneUs))
  })

  it("replaces values under secret-looking keys whole", () => {
    assert.deepStrictEqual(redactor.value({ password: 12345, nested: { client_secret: { x: 1 } }, tokens: 12 }), {
      password: "[REDACTED:secret]",
      nested: { client_secret: "[REDACTED:secret]" },
      tokens: 12
    })
  })
})
