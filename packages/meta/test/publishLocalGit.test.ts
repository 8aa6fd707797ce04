import { assert, describe, it } from "@effect/vitest"
import { TempDir } from "@patinox/testing"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { LocalGitPublisher, Proposal, Publisher } from "../src/index.js"

const yamlBefore = `# The search agent.
name: search
# Tools time out after this many milliseconds; keep it below the gateway's 30 s.
timeoutMs: 20000
# How many results a search returns.
maxResults: 10
`
const yamlAfter = yamlBefore.replace("timeoutMs: 20000", "timeoutMs: 8000")

const git = (dir: string, ...args: Array<string>) =>
  execFileSync("git", args, { cwd: dir, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } }).trim()

// A repository with one commented YAML file committed on `main`, and an
// uncommitted edit in the working tree that publishing must leave alone.
const makeRepo = Effect.gen(function*() {
  const dir = yield* TempDir.make("patinox-git-")
  git(dir, "init", "-q", "-b", "main")
  git(dir, "config", "user.name", "Test User")
  git(dir, "config", "user.email", "test@example.invalid")
  writeFileSync(join(dir, "search.yaml"), yamlBefore)
  git(dir, "add", "search.yaml")
  git(dir, "commit", "-q", "-m", "initial")
  writeFileSync(join(dir, "notes.txt"), "work in progress\n")
  return dir
})

const proposal = (overrides: Partial<Proposal.Proposal> = {}): Proposal.Proposal => ({
  id: "p-1",
  findingKey: "latency:tool:search",
  title: "Lower the search tool's timeout",
  files: [{ path: "search.yaml", before: yamlBefore, after: yamlAfter }],
  evidence: {
    query: "select p95(duration_ms) from spans where tool = 'search'",
    before: { p95Ms: 19500, errorRate: 0.12 },
    expected: "p95 below 8 s",
    replay: { before: { p95Ms: 19500 }, after: { p95Ms: 7900 } }
  },
  labels: ["patinox", "latency"],
  ...overrides
})

const publishWith = (options: LocalGitPublisher.Options, p: Proposal.Proposal) =>
  Effect.flatMap(Publisher.Publisher, (publisher) => publisher.publish(p)).pipe(
    Effect.provide(LocalGitPublisher.layer(options))
  )

describe("LocalGitPublisher", () => {
  it.scoped("commits the proposal on its own branch and touches nothing else", () =>
    Effect.gen(function*() {
      const dir = yield* makeRepo
      const headBefore = git(dir, "rev-parse", "HEAD")
      const statusBefore = git(dir, "status", "--porcelain")

      const ref = yield* publishWith({ repoDir: dir }, proposal())

      assert.strictEqual(ref.kind, "git")
      assert.strictEqual(ref.branch, "patinox/latency-tool-search")
      assert.isFalse(ref.merged)
      assert.strictEqual(git(dir, "rev-parse", `refs/heads/${ref.branch}`), ref.commit)
      const diff = git(dir, "diff", "--unified=0", `main..${ref.branch}`)
      const changed = diff.split("\n").filter((l) => /^[-+][^-+]/.test(l))
      assert.deepStrictEqual(changed, ["-timeoutMs: 20000", "+timeoutMs: 8000"])
      assert.strictEqual(git(dir, "show", `${ref.branch}:search.yaml`) + "\n", yamlAfter)

      const message = git(dir, "log", "-1", "--format=%B", ref.branch)
      assert.isTrue(message.startsWith("Lower the search tool's timeout\n\n"))
      assert.include(message, "19500")
      assert.include(message, "7900")
      assert.include(message, "select p95(duration_ms)")
      assert.strictEqual(git(dir, "log", "-1", "--format=%an <%ae>", ref.branch), "Patinox meta-layer <meta@patinox.invalid>")

      // HEAD, main, the index and the working tree are as they were.
      assert.strictEqual(git(dir, "rev-parse", "HEAD"), headBefore)
      assert.strictEqual(git(dir, "rev-parse", "main"), headBefore)
      assert.strictEqual(git(dir, "symbolic-ref", "HEAD"), "refs/heads/main")
      assert.strictEqual(git(dir, "status", "--porcelain"), statusBefore)
      assert.strictEqual(readFileSync(join(dir, "search.yaml"), "utf8"), yamlBefore)
    }))

  it.scoped("a second publish of the same finding adds a commit on the same branch", () =>
    Effect.gen(function*() {
      const dir = yield* makeRepo
      const first = yield* publishWith({ repoDir: dir }, proposal())
      const further = yamlAfter.replace("maxResults: 10", "maxResults: 5")
      const second = yield* publishWith(
        { repoDir: dir },
        proposal({ id: "p-2", files: [{ path: "search.yaml", before: yamlAfter, after: further }] })
      )
      assert.strictEqual(second.branch, first.branch)
      assert.strictEqual(git(dir, "rev-list", "--count", `main..${second.branch}`), "2")
      assert.strictEqual(git(dir, "rev-parse", `${second.commit}^`), first.commit)
      assert.deepStrictEqual(git(dir, "branch", "--list", "patinox/*").split("\n").map((l) => l.trim()), [
        "patinox/latency-tool-search"
      ])
    }))

  it.scoped("never merges by default; autoMerge fast-forwards a base that is not checked out", () =>
    Effect.gen(function*() {
      const dir = yield* makeRepo
      git(dir, "branch", "release", "main")
      const releaseBefore = git(dir, "rev-parse", "release")
      const unmerged = yield* publishWith({ repoDir: dir, baseBranch: "release" }, proposal())
      assert.isFalse(unmerged.merged)
      assert.strictEqual(git(dir, "rev-parse", "release"), releaseBefore)

      const merged = yield* publishWith(
        { repoDir: dir, baseBranch: "release", autoMerge: true },
        proposal({ findingKey: "errors:tool:search" })
      )
      assert.isTrue(merged.merged)
      assert.strictEqual(git(dir, "rev-parse", "release"), merged.commit)
      // The checked-out main is never moved, even with autoMerge.
      const onMain = yield* publishWith({ repoDir: dir, autoMerge: true }, proposal({ findingKey: "x:y" }))
      assert.isFalse(onMain.merged)
      assert.notStrictEqual(git(dir, "rev-parse", "main"), onMain.commit)
    }))

  it.scoped("a missing base branch is a typed GitError", () =>
    Effect.gen(function*() {
      const dir = yield* makeRepo
      const error = yield* Effect.flip(publishWith({ repoDir: dir, baseBranch: "nope" }, proposal()))
      assert.strictEqual(error._tag, "GitError")
    }))
})
