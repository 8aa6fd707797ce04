/**
 * The offline publisher: a branch per finding in a local git repository,
 * one commit per publish. It drives the `git` binary's plumbing with a
 * temporary index, so the user's checked-out branch, index and working tree
 * are never touched.
 *
 * @since 0.1.0
 */
import { Command, CommandExecutor, FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Option, Stream } from "effect"
import { describe, plainTitle, type Proposal, slug } from "./Proposal.js"
import { author, branchName, type Config, GitError, type PublishedRef, Publisher } from "./Publisher.js"

/** @since 0.1.0 @category models */
export interface Options extends Config {
  readonly repoDir: string
  /** The branch proposals start from and (with `autoMerge`) merge into; `main` unless told. */
  readonly baseBranch?: string | undefined
}

interface RunOptions {
  readonly env?: Record<string, string> | undefined
  readonly stdin?: string | undefined
  /** Exit codes that are an answer rather than a failure (`rev-parse --verify` says "no" with 1). */
  readonly okCodes?: ReadonlyArray<number> | undefined
}

interface RunResult {
  readonly exitCode: number
  readonly stdout: string
}

const collect = <E>(stream: Stream.Stream<Uint8Array, E>) => stream.pipe(Stream.decodeText(), Stream.mkString)

/** @since 0.1.0 @category constructors */
export const make = Effect.fn("LocalGitPublisher.make")(function*(options: Options) {
  const executor = yield* CommandExecutor.CommandExecutor
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const base = options.baseBranch ?? "main"
  const autoMerge = options.autoMerge ?? false

  const git = (args: ReadonlyArray<string>, run: RunOptions = {}): Effect.Effect<RunResult, GitError> => {
    const name = `git ${args[0] ?? ""}`
    let command = Command.make("git", ...args).pipe(
      Command.workingDirectory(options.repoDir),
      // No pager, no prompts, no user hooks or locale-dependent messages.
      Command.env({ GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", ...run.env })
    )
    if (run.stdin !== undefined) command = Command.feed(command, run.stdin)
    return Effect.scoped(Effect.gen(function*() {
      const process = yield* executor.start(command)
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [collect(process.stdout), collect(process.stderr), process.exitCode],
        { concurrency: 3 }
      )
      const code = Number(exitCode)
      if (code !== 0 && !(run.okCodes ?? []).includes(code)) {
        return yield* new GitError({ command: name, exitCode: code, message: stderr.trim() || `exit ${code}` })
      }
      return { exitCode: code, stdout: stdout.trim() }
    })).pipe(
      Effect.catchTag("SystemError", "BadArgument", (e) => new GitError({ command: name, message: e.message }))
    )
  }

  const revParse = (ref: string) =>
    git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { okCodes: [1] }).pipe(
      Effect.map((r) => (r.exitCode === 0 && r.stdout !== "" ? Option.some(r.stdout) : Option.none()))
    )

  const publish = Effect.fn("LocalGitPublisher.publish")(function*(proposal: Proposal) {
    const baseSha = yield* revParse(`refs/heads/${base}`).pipe(
      Effect.flatMap(Option.match({
        onNone: () => new GitError({ command: "git rev-parse", message: `base branch ${base} not found` }),
        onSome: Effect.succeed
      }))
    )
    const branch = branchName(slug(proposal.findingKey))
    const existing = yield* revParse(`refs/heads/${branch}`)
    // The same finding goes on the same branch: a new commit on top, not a second branch.
    const parent = Option.getOrElse(existing, () => baseSha)

    const commit = yield* Effect.scoped(Effect.gen(function*() {
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "patinox-index-" })
      const env = { GIT_INDEX_FILE: path.join(dir, "index") }
      yield* git(["read-tree", parent], { env })
      for (const file of proposal.files) {
        const blob = yield* git(["hash-object", "-w", "--stdin"], { stdin: file.after })
        // Keep an existing file's mode (an executable stays executable).
        const listed = yield* git(["ls-tree", parent, "--", file.path])
        const mode = /^(\d{6}) blob /.exec(listed.stdout)?.[1] ?? "100644"
        yield* git(["update-index", "--add", "--cacheinfo", `${mode},${blob.stdout},${file.path}`], { env })
      }
      const tree = yield* git(["write-tree"], { env })
      const message = `${plainTitle(proposal.title)}\n\n${describe(proposal)}`
      const made = yield* git(["commit-tree", tree.stdout, "-p", parent, "-F", "-"], {
        stdin: message,
        env: {
          GIT_AUTHOR_NAME: author.name,
          GIT_AUTHOR_EMAIL: author.email,
          GIT_COMMITTER_NAME: author.name,
          GIT_COMMITTER_EMAIL: author.email
        }
      })
      return made.stdout
    }).pipe(Effect.catchTag("SystemError", "BadArgument", (e) =>
      new GitError({ command: "temporary index", message: e.message })
    )))

    // Compare-and-swap: a concurrent publish of the same finding fails instead of being lost.
    const expected = Option.getOrElse(existing, () => "0".repeat(40))
    yield* git(["update-ref", "-m", "patinox: proposal", `refs/heads/${branch}`, commit, expected])

    const merged = autoMerge ? yield* fastForward(baseSha, commit) : false
    const ref: PublishedRef = { kind: "git", branch, commit, merged }
    return ref
  })

  // Fast-forwards the base branch, only when it is not checked out: moving a
  // checked-out branch's ref would leave the user's working tree out of step.
  const fastForward = (baseSha: string, commit: string) =>
    Effect.gen(function*() {
      const head = yield* git(["symbolic-ref", "-q", "HEAD"], { okCodes: [1] })
      const bare = yield* git(["rev-parse", "--is-bare-repository"])
      if (head.stdout === `refs/heads/${base}` && bare.stdout !== "true") {
        yield* Effect.logWarning(`autoMerge: ${base} is checked out; leaving the proposal unmerged`)
        return false
      }
      const ancestor = yield* git(["merge-base", "--is-ancestor", baseSha, commit], { okCodes: [1] })
      if (ancestor.exitCode !== 0) {
        yield* Effect.logWarning(`autoMerge: ${base} moved on; the proposal is not a fast-forward`)
        return false
      }
      yield* git(["update-ref", "-m", "patinox: auto-merge", `refs/heads/${base}`, commit, baseSha])
      return true
    })

  return Publisher.of({ publish })
})

/**
 * The publisher as a layer, with Node's command executor and file system.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (options: Options): Layer.Layer<Publisher> =>
  Layer.effect(Publisher, make(options)).pipe(Layer.provide(NodeContext.layer))
