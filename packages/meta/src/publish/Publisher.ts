/**
 * Where proposals go: a local git branch by default, a GitHub pull request
 * when a token and repository are configured. Both implement `Publisher`;
 * neither merges anything unless `autoMerge` is true.
 *
 * @since 0.1.0
 */
import { Context, type Effect, Schema } from "effect"
import type { Proposal } from "./Proposal.js"

/** Where a proposal landed. @since 0.1.0 @category models */
export interface PublishedRef {
  readonly kind: "git" | "github"
  readonly branch: string
  readonly commit: string
  readonly url?: string | undefined
  readonly number?: number | undefined
  /** True only when `autoMerge` was on and the merge went through. */
  readonly merged: boolean
}

/** The git binary failed or the repository is not as expected. @since 0.1.0 @category errors */
export class GitError extends Schema.TaggedError<GitError>("@patinox/meta/GitError")("GitError", {
  command: Schema.String,
  exitCode: Schema.optional(Schema.Number),
  message: Schema.String
}) {}

/** GitHub answered with an error, or could not be reached (`status` 0). @since 0.1.0 @category errors */
export class GitHubError extends Schema.TaggedError<GitHubError>("@patinox/meta/GitHubError")("GitHubError", {
  status: Schema.Number,
  message: Schema.String
}) {}

/** GitHub's rate limit held after the retries, or asked for a longer wait than allowed. @since 0.1.0 @category errors */
export class RateLimited extends Schema.TaggedError<RateLimited>("@patinox/meta/RateLimited")("RateLimited", {
  status: Schema.Number,
  retryAfterMs: Schema.Number,
  message: Schema.String
}) {}

/** @since 0.1.0 @category errors */
export type PublishError = GitError | GitHubError | RateLimited

/** Settings shared by every publisher. @since 0.1.0 @category models */
export interface Config {
  /** Merge the proposal right after publishing it. Off by default: proposals are reviewed. */
  readonly autoMerge?: boolean | undefined
}

/** @since 0.1.0 @category models */
export interface Service {
  readonly publish: (proposal: Proposal) => Effect.Effect<PublishedRef, PublishError>
}

/** @since 0.1.0 @category tags */
export class Publisher extends Context.Tag("@patinox/meta/Publisher")<Publisher, Service>() {}

/** The branch every proposal for the same finding goes to. @since 0.1.0 @category naming */
export const branchName = (slugged: string): string => `patinox/${slugged}`

/** The commit author of every proposal. @since 0.1.0 @category naming */
export const author = { name: "Patinox meta-layer", email: "meta@patinox.invalid" } as const
