import { assert, describe, it } from "@effect/vitest"
import { Errors, Ids } from "@patinox/core"
import { Effect } from "effect"
import { RunRateLimited } from "@patinox/patinox/Api"
import { respond, retryAfterSeconds, statusOf } from "../src/ErrorResponse.js"
import * as Http from "../src/Http.js"

describe("run errors on the wire", () => {
  const runId = Ids.RunId.make("run-1")
  const rejected = (retryAfterMs?: number) =>
    new Errors.ValidationRejected({
      validator: "rate-limiter",
      stage: "model request",
      reason: "0/60 requests left",
      ...(retryAfterMs === undefined ? {} : { retryAfterMs })
    })

  it.effect("a rate-limit rejection is a 429 with its wait; other rejections are 422", () =>
    Effect.sync(() => {
      const limited = Http.toHttpError(rejected(1_200), runId)
      assert.instanceOf(limited, RunRateLimited)
      assert.strictEqual(statusOf(limited), 429)
      assert.deepInclude(limited, { error: "RateLimited", runId, retryAfterMs: 1_200 })
      assert.strictEqual(statusOf(Http.toHttpError(rejected(), runId)), 422)
      const response = respond(limited)
      assert.strictEqual(response.status, 429)
      assert.strictEqual(response.headers["retry-after"], "2")
    }))

  it.effect("maps each kind of run failure to its status, never 500", () =>
    Effect.sync(() => {
      const cases: ReadonlyArray<readonly [Errors.RunError, number]> = [
        [new Errors.MaxStepsExceeded({ agent: "a", maxSteps: 4 }), 422],
        [new Errors.RunDeadlineExceeded({ agent: "a", deadlineMs: 100 }), 504],
        [new Errors.InvalidInput({ reason: "empty" }), 400],
        [new Errors.ModelTimeout({ model: "m", timeoutMs: 10 }), 502]
      ]
      for (const [error, status] of cases) {
        const http = Http.toHttpError(error, runId)
        assert.strictEqual(statusOf(http), status, error._tag)
        assert.strictEqual(http.runId, runId)
      }
    }))

  it.effect("Retry-After rounds up to whole seconds, at least one", () =>
    Effect.sync(() => {
      assert.strictEqual(retryAfterSeconds(1), "1")
      assert.strictEqual(retryAfterSeconds(1_000), "1")
      assert.strictEqual(retryAfterSeconds(1_001), "2")
      assert.strictEqual(retryAfterSeconds(0), "1")
    }))
})
