import { assert, describe, it } from "@effect/vitest"
import { ActionResult, AgentAction, Ids, Message } from "@patinox/core"
import { TelemetryQueries, TelemetrySink, TelemetryStore } from "@patinox/telemetry-store"
import { Effect, Layer } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { event, logInto, tempFile } from "./fixtures.js"

// Shaped like real credentials, issued by nobody.
const secrets = [
  "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe_dCbA-1234",
  "sk-abcdEFGH1234ijklMNOP5678qrstUVWX",
  "tok3n.Very-Secret_Bearer~value",
  "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",
  "AKIAIOSFODNN7EXAMPLE",
  "jane.doe+test@example-mail.co.uk",
  "ops-oncall@corp.example.com",
  "hunter2-db-password",
  "tenant-secret-7781"
] as const
const [projectKey, userKey, bearer, github, aws, email, email2, password, custom] = secrets

describe("secrets never reach the database file", () => {
  it.scoped("prompts, tool arguments, tool output, error messages and context are redacted before writing", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const runId = Ids.RunId.make("run-secret")
      const logs: Array<string> = []
      const config = TelemetryStore.Config.make({
        ...TelemetryStore.defaults,
        redaction: { patterns: [{ name: "tenant", pattern: "tenant-secret-\\d+" }] }
      })
      yield* Effect.gen(function*() {
        const sink = yield* TelemetrySink.TelemetrySink
        yield* sink.offer(event({
          runId,
          type: "run.start",
          action: new AgentAction.UserInput({ input: `Use my key ${projectKey} and mail ${email}` }),
          context: {}
        }))
        yield* sink.offer(event({
          runId,
          type: "model.request",
          action: new AgentAction.ModelCall({
            step: 1,
            messages: [
              Message.system("You are helpful."),
              Message.user(`Authorization: Bearer ${bearer}; also ${userKey}`)
            ],
            tools: ["http"]
          }),
          context: { model: "gpt-4o", provider: "openai", headers: { authorization: `Bearer ${bearer}` } }
        }))
        yield* sink.offer(event({
          runId,
          type: "tool.start",
          action: new AgentAction.ToolCallAction({
            step: 1,
            toolCall: new Message.ToolCall({
              id: Ids.ToolCallId.make("call-1"),
              name: "db",
              arguments: JSON.stringify({ password, token: github, note: `ask ${email2}, ref ${custom}` })
            })
          }),
          context: { tool: "db", args: { nested: [{ password }], aws } }
        }))
        yield* sink.offer(event({
          runId,
          type: "tool.error",
          result: new ActionResult.Failure({ error: "ToolFailed", message: `AccessDenied for ${aws} (owner ${email})` }),
          metrics: { latencyMs: 12 },
          context: { tool: "db", error: "ToolFailed" }
        }))
        yield* sink.offer(event({
          runId,
          type: "run.error",
          result: new ActionResult.Failure({ error: "ModelAuthenticationFailed", message: `key ${userKey} refused` }),
          context: {}
        }))
        const stored = yield* Effect.flatMap(TelemetryQueries.TelemetryQueries, (q) =>
          Effect.zipRight(sink.flush, q.eventsByRun(runId)))
        assert.strictEqual(stored.length, 5)
        assert.include(JSON.stringify(stored), "[REDACTED:")
        // Offered but not flushed: written by the finalizer when the layer closes.
        yield* sink.offer(event({ runId, type: "run.end", action: new AgentAction.FinalAnswer({ step: 2, content: `mail ${email}` }), context: {} }))
      }).pipe(Effect.provide(TelemetryStore.layerSqlite(file, config).pipe(Layer.provide(logInto(logs)))))

      // The sink redacted on its own thread, with the custom pattern rebuilt there.
      assert.isTrue(logs.some((line) => line.startsWith("TelemetrySink: write thread ready")), logs.join("\n"))
      const bytes = [file, `${file}-wal`, `${file}-shm`]
        .filter((f) => existsSync(f))
        .map((f) => readFileSync(f).toString("latin1"))
        .join("\n")
      assert.include(bytes, "run-secret", "the events are in the file")
      assert.include(bytes, "[REDACTED:email]")
      assert.include(bytes, "[REDACTED:tenant]")
      for (const secret of secrets) {
        assert.notInclude(bytes, secret, `${secret} reached the database file`)
      }
    }))
})
