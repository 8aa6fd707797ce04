/**
 * The GitHub publisher: a branch per finding, one commit per publish made
 * through the git data API, and one open pull request per branch that later
 * publishes update. Octokit's own retrying is off; retries happen here, in
 * Effect, so they are bounded, typed, and run on the `Clock`.
 *
 * @since 0.1.0
 */
import { Octokit } from "@octokit/rest"
import { Clock, Data, Duration, Effect, Layer, Option, type Redacted, Redacted as R, Schedule } from "effect"
import { describe, plainTitle, type Proposal, slug } from "./Proposal.js"
import { author, branchName, type Config, GitHubError, type PublishedRef, Publisher, RateLimited } from "./Publisher.js"

/** @since 0.1.0 @category models */
export interface Options extends Config {
  readonly token: Redacted.Redacted<string>
  readonly owner: string
  readonly repo: string
  /** The branch pull requests target; `main` unless told. */
  readonly baseBranch?: string | undefined
  /** The API root, for GitHub Enterprise or a fake; `https://api.github.com` unless told. */
  readonly baseUrl?: string | undefined
  /** Retries after the first attempt for 5xx and rate limits; 4 unless told. */
  readonly maxRetries?: number | undefined
  /** The longest rate-limit wait honoured; a longer one fails as `RateLimited`. 60 s unless told. */
  readonly maxWait?: Duration.DurationInput | undefined
}

class Failed extends Data.TaggedError("Failed")<{ readonly cause: unknown }> {}

const property = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined

const header = (cause: unknown, name: string): string | undefined => {
  const value = property(property(property(cause, "response"), "headers"), name)
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined
}

/** Whether an error is worth another attempt: 5xx, network failures and rate limits. @since 0.1.0 @category errors */
export const isRetriable = (error: GitHubError | RateLimited): boolean =>
  error._tag === "RateLimited" || error.status === 0 || error.status >= 500

/** @since 0.1.0 @category constructors */
export const make = (options: Options): Publisher["Type"] => {
  const base = options.baseBranch ?? "main"
  const autoMerge = options.autoMerge ?? false
  const maxWaitMs = Duration.toMillis(options.maxWait ?? "60 seconds")
  const { owner, repo } = options
  const octokit = new Octokit({
    auth: R.value(options.token),
    ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
    userAgent: "patinox-meta",
    // Retries and logging are ours; Octokit would otherwise retry and warn on its own.
    request: { retries: 0 },
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }
  })

  // Turns Octokit's RequestError into a typed error: rate limits carry the
  // wait GitHub asked for (`retry-after`, or until `x-ratelimit-reset`).
  const classify = (cause: unknown): Effect.Effect<never, GitHubError | RateLimited> =>
    Effect.gen(function*() {
      const rawStatus = property(cause, "status")
      const status = typeof rawStatus === "number" ? rawStatus : 0
      const rawMessage = property(cause, "message")
      const message = typeof rawMessage === "string" ? rawMessage : String(cause)
      if (status === 403 || status === 429) {
        const retryAfter = header(cause, "retry-after")
        const reset = header(cause, "x-ratelimit-reset")
        if (retryAfter !== undefined && Number.isFinite(Number(retryAfter))) {
          return yield* new RateLimited({ status, retryAfterMs: Number(retryAfter) * 1000, message })
        }
        if (header(cause, "x-ratelimit-remaining") === "0" && reset !== undefined) {
          const now = yield* Clock.currentTimeMillis
          return yield* new RateLimited({ status, retryAfterMs: Math.max(0, Number(reset) * 1000 - now), message })
        }
        if (status === 429 || /secondary rate limit/i.test(message)) {
          return yield* new RateLimited({ status, retryAfterMs: 60_000, message })
        }
      }
      return yield* new GitHubError({ status, message })
    })

  // Waits what GitHub asked for (at least the backoff), at most `maxRetries` times.
  const policy = Schedule.identity<GitHubError | RateLimited>().pipe(
    Schedule.addDelay((error) => Duration.millis(error._tag === "RateLimited" ? error.retryAfterMs : 0)),
    Schedule.intersect(Schedule.exponential("500 millis")),
    Schedule.intersect(Schedule.recurs(options.maxRetries ?? 4)),
    Schedule.whileInput((error: GitHubError | RateLimited) =>
      isRetriable(error) && (error._tag !== "RateLimited" || error.retryAfterMs <= maxWaitMs)
    )
  )

  const call = <A>(name: string, f: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: (cause) => new Failed({ cause }) }).pipe(
      Effect.catchTag("Failed", (failed) => classify(failed.cause)),
      Effect.retry(policy),
      Effect.withSpan(`GitHubPublisher.${name}`)
    )

  const branchSha = (branch: string) =>
    call("getRef", (signal) => octokit.rest.git.getRef({ owner, repo, ref: `heads/${branch}`, request: { signal } })).pipe(
      Effect.map((r) => Option.some(r.data.object.sha)),
      Effect.catchIf((e) => e._tag === "GitHubError" && e.status === 404, () => Effect.succeed(Option.none<string>()))
    )

  const publish = Effect.fn("GitHubPublisher.publish")(function*(proposal: Proposal) {
    const branch = branchName(slug(proposal.findingKey))
    const baseSha = yield* branchSha(base).pipe(
      Effect.flatMap(Option.match({
        onNone: () => new GitHubError({ status: 404, message: `base branch ${base} not found` }),
        onSome: Effect.succeed
      }))
    )
    const existing = yield* branchSha(branch)
    const parent = Option.getOrElse(existing, () => baseSha)
    const parentCommit = yield* call("getCommit", (signal) =>
      octokit.rest.git.getCommit({ owner, repo, commit_sha: parent, request: { signal } }))

    const entries = yield* Effect.forEach(proposal.files, (file) =>
      call("createBlob", (signal) =>
        octokit.rest.git.createBlob({ owner, repo, content: file.after, encoding: "utf-8", request: { signal } })).pipe(
          Effect.map((blob) => ({ path: file.path, mode: "100644" as const, type: "blob" as const, sha: blob.data.sha }))
        ))
    const tree = yield* call("createTree", (signal) =>
      octokit.rest.git.createTree({ owner, repo, base_tree: parentCommit.data.tree.sha, tree: entries, request: { signal } }))
    const commit = yield* call("createCommit", (signal) =>
      octokit.rest.git.createCommit({
        owner,
        repo,
        message: `${plainTitle(proposal.title)}\n\n${describe(proposal)}`,
        tree: tree.data.sha,
        parents: [parent],
        author: { ...author },
        request: { signal }
      }))
    const sha = commit.data.sha

    // The same finding goes on the same branch, as a fast-forward on top.
    if (Option.isSome(existing)) {
      yield* call("updateRef", (signal) =>
        octokit.rest.git.updateRef({ owner, repo, ref: `heads/${branch}`, sha, force: false, request: { signal } }))
    } else {
      yield* call("createRef", (signal) =>
        octokit.rest.git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha, request: { signal } }))
    }

    const title = plainTitle(proposal.title)
    const body = describe(proposal)
    const open = yield* call("listPulls", (signal) =>
      octokit.rest.pulls.list({ owner, repo, head: `${owner}:${branch}`, state: "open", request: { signal } }))
    const current = open.data[0]
    const pull = current !== undefined
      ? yield* call("updatePull", (signal) =>
        octokit.rest.pulls.update({ owner, repo, pull_number: current.number, title, body, request: { signal } }))
      : yield* call("createPull", (signal) =>
        octokit.rest.pulls.create({ owner, repo, head: branch, base, title, body, request: { signal } }))

    if (proposal.labels.length > 0) {
      yield* call("addLabels", (signal) =>
        octokit.rest.issues.addLabels({
          owner,
          repo,
          issue_number: pull.data.number,
          labels: [...proposal.labels],
          request: { signal }
        }))
    }

    const merged = autoMerge
      ? yield* call("merge", (signal) =>
        octokit.rest.pulls.merge({ owner, repo, pull_number: pull.data.number, sha, request: { signal } })).pipe(
          Effect.map((r) => r.data.merged)
        )
      : false

    const ref: PublishedRef = { kind: "github", branch, commit: sha, url: pull.data.html_url, number: pull.data.number, merged }
    return ref
  })

  return Publisher.of({ publish })
}

/** @since 0.1.0 @category layers */
export const layer = (options: Options): Layer.Layer<Publisher> => Layer.sync(Publisher, () => make(options))
