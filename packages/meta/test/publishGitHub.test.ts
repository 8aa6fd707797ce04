import { assert, describe, it } from "@effect/vitest"
import { FakeGitHub } from "@patinox/testing"
import { Cause, Chunk, Clock, Effect, Exit, Fiber, Option, Redacted, TestClock } from "effect"
import { GitHubPublisher, type Proposal, Publisher } from "../src/index.js"

const before = "# timeouts in ms\ntimeoutMs: 20000\nmaxResults: 10\n"
const after = before.replace("20000", "8000")

const proposal = (overrides: Partial<Proposal.Proposal> = {}): Proposal.Proposal => ({
  id: "p-1",
  findingKey: "latency:tool:search",
  title: "Lower the search tool's timeout",
  files: [{ path: "agents/search.yaml", before, after }],
  evidence: {
    query: "select p95(duration_ms) from spans",
    before: { p95Ms: 19500 },
    expected: "p95 below 8 s <img src=x onerror=alert(1)> @admin"
  },
  labels: ["patinox", "latency"],
  ...overrides
})

const fake = FakeGitHub.make({ owner: "acme", repo: "agents", token: "secret", files: { "agents/search.yaml": before } })

const publish = (github: FakeGitHub.FakeGitHubServer, p: Proposal.Proposal, options: Partial<GitHubPublisher.Options> = {}) =>
  Effect.flatMap(Publisher.Publisher, (publisher) => publisher.publish(p)).pipe(
    Effect.provide(GitHubPublisher.layer({
      token: Redacted.make("secret"),
      owner: "acme",
      repo: "agents",
      baseUrl: github.url,
      ...options
    }))
  )

const realPause = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))

// Runs an effect that does real HTTP and sleeps on the TestClock: whenever
// it waits on the clock, the clock jumps to the wake-up time. Returns the
// waits it asked for, so tests can check what it honoured.
const driveClock = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    const waits: Array<number> = []
    for (let i = 0; i < 4000; i++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return { exit: done.value, waits }
      const sleeps = yield* TestClock.sleeps()
      if (Chunk.isNonEmpty(sleeps)) {
        const at = Chunk.headNonEmpty(sleeps)
        waits.push(at - (yield* Clock.currentTimeMillis))
        yield* TestClock.setTime(at)
      } else {
        yield* realPause
      }
    }
    return yield* Effect.dieMessage("the publish never finished")
  })

describe("GitHubPublisher", () => {
  it.scoped("opens a labelled pull request with the escaped evidence, and never merges by default", () =>
    Effect.gen(function*() {
      const github = yield* fake
      const ref = yield* publish(github, proposal())

      assert.strictEqual(ref.kind, "github")
      assert.strictEqual(ref.branch, "patinox/latency-tool-search")
      assert.strictEqual(ref.number, 1)
      assert.isFalse(ref.merged)
      const [pull, ...others] = github.pulls()
      assert.lengthOf(others, 0)
      assert.strictEqual(pull?.head, "patinox/latency-tool-search")
      assert.strictEqual(pull?.base, "main")
      assert.deepStrictEqual(pull?.labels, ["patinox", "latency"])
      assert.include(pull?.body ?? "", "19500")
      assert.include(pull?.body ?? "", "&lt;img src=x onerror=alert\\(1\\)&gt;")
      assert.notInclude(pull?.body ?? "", "<img")
      assert.notInclude(pull?.body ?? "", "@admin")
      assert.strictEqual(github.fileAt(ref.branch, "agents/search.yaml"), after)
      assert.strictEqual(github.branchSha(ref.branch), ref.commit)
      assert.strictEqual(github.fileAt("main", "agents/search.yaml"), before)
      assert.include(github.commitMessage(ref.commit) ?? "", "19500")
      // Every request Octokit sent passed the REST description's checks.
      assert.isTrue(github.requests().every((r) => r.status < 400 || r.path.includes("/git/ref/")))
      assert.isFalse(github.requests().some((r) => r.path.endsWith("/merge")))
    }))

  it.scoped("a second publish of the same finding updates the open pull request", () =>
    Effect.gen(function*() {
      const github = yield* fake
      const first = yield* publish(github, proposal())
      const further = after.replace("maxResults: 10", "maxResults: 5")
      const second = yield* publish(github, proposal({
        id: "p-2",
        files: [{ path: "agents/search.yaml", before: after, after: further }],
        evidence: { query: "q", before: { p95Ms: 9100 }, expected: "fewer results" }
      }))
      assert.strictEqual(second.number, first.number)
      assert.strictEqual(second.branch, first.branch)
      assert.lengthOf(github.pulls(), 1)
      assert.include(github.pulls()[0]?.body ?? "", "9100")
      assert.strictEqual(github.fileAt(second.branch, "agents/search.yaml"), further)
      assert.isTrue(github.requests().some((r) => r.method === "PATCH" && r.path.endsWith("/pulls/1")))
      assert.isTrue(github.requests().some((r) => r.method === "PATCH" && r.path.includes("/git/refs/")))
    }))

  it.scoped("merges only with autoMerge", () =>
    Effect.gen(function*() {
      const github = yield* fake
      const ref = yield* publish(github, proposal(), { autoMerge: true })
      assert.isTrue(ref.merged)
      assert.strictEqual(github.fileAt("main", "agents/search.yaml"), after)
    }))

  it.scoped("a 500 is retried after a backoff on the clock", () =>
    Effect.gen(function*() {
      const github = yield* fake
      github.failNext(1, { kind: "server-error" })
      const { exit, waits } = yield* driveClock(publish(github, proposal()))
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(waits, [500])
      assert.strictEqual(github.requests()[0]?.status, 500)
    }))

  it.scoped("a secondary rate limit waits retry-after, then succeeds", () =>
    Effect.gen(function*() {
      const github = yield* fake
      github.failNext(1, { kind: "secondary-rate-limit", retryAfterSeconds: 7 })
      const { exit, waits } = yield* driveClock(publish(github, proposal()))
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(waits, [7000])
      assert.lengthOf(github.pulls(), 1)
    }))

  it.scoped("retries are bounded: a GitHub that keeps failing gives a typed error", () =>
    Effect.gen(function*() {
      const github = yield* fake
      github.failNext(10, { kind: "server-error", status: 503 })
      const { exit, waits } = yield* driveClock(publish(github, proposal(), { maxRetries: 2 }))
      assert.deepStrictEqual(waits, [500, 1000])
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      assert.strictEqual(Option.getOrUndefined(failure)?._tag, "GitHubError")
      assert.lengthOf(github.requests(), 3)
    }))

  it.scoped("a rate limit asking for longer than maxWait fails at once as RateLimited", () =>
    Effect.gen(function*() {
      const github = yield* fake
      github.failNext(1, { kind: "secondary-rate-limit", retryAfterSeconds: 3600 })
      const error = yield* Effect.flip(publish(github, proposal()))
      assert.strictEqual(error._tag, "RateLimited")
      assert.strictEqual(error._tag === "RateLimited" ? error.retryAfterMs : 0, 3_600_000)
    }))

  it.scoped("bad credentials are a typed 401, not retried, not a crash", () =>
    Effect.gen(function*() {
      const github = yield* fake
      const error = yield* Effect.flip(publish(github, proposal(), { token: Redacted.make("wrong") }))
      assert.strictEqual(error._tag, "GitHubError")
      assert.strictEqual(error._tag === "GitHubError" ? error.status : 0, 401)
      assert.lengthOf(github.requests(), 1)
    }))
})
