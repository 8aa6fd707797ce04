/**
 * A fake GitHub REST API on a real loopback port, for the endpoints a
 * proposal publisher uses: git refs, blobs, trees and commits, pull
 * requests and issue labels. Every request is checked against GitHub's
 * published REST description (`@octokit/openapi`) before it is answered,
 * so a client that sends what GitHub would reject fails here too. Faults
 * (500s, secondary rate limits) can be scripted.
 *
 * ```ts
 * const github = yield* FakeGitHub.make({ owner: "acme", repo: "agents", token: "t", files: { "a.yaml": "a: 1\n" } })
 * // new Octokit({ auth: "t", baseUrl: github.url })
 * ```
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { createHash } from "node:crypto"
import * as Http from "node:http"
import { createRequire } from "node:module"
import type * as Net from "node:net"

// ---------------------------------------------------------------------------
// the REST description
// ---------------------------------------------------------------------------

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { readonly [key: string]: Json }

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const field = (value: Json | undefined, key: string): Json | undefined => (isObject(value) ? value[key] : undefined)

let spec: JsonObject | undefined
// The description is 13 MB: read it once, and only when a fake first needs it.
const loadSpec = (): JsonObject => {
  if (spec === undefined) {
    const loaded: unknown = createRequire(import.meta.url)("@octokit/openapi/generated/api.github.com.json")
    if (!isObject(loaded)) throw new Error("@octokit/openapi: unexpected description")
    spec = loaded
  }
  return spec
}

const resolve = (schema: Json | undefined): Json | undefined => {
  const ref = field(schema, "$ref")
  if (typeof ref !== "string") return schema
  return resolve(ref.replace(/^#\//, "").split("/").reduce<Json | undefined>((node, key) => field(node, key), loadSpec()))
}

/** A route of the description that a request matched. @since 0.1.0 @category validation */
export interface Route {
  readonly template: string
  readonly params: Readonly<Record<string, string>>
  readonly operation: JsonObject
}

const matchTemplate = (template: string, segments: ReadonlyArray<string>): Record<string, string> | undefined => {
  const parts = template.split("/").slice(1)
  const params: Record<string, string> = {}
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? ""
    const segment = segments[i]
    if (segment === undefined) return undefined
    const name = /^\{(.+)\}$/.exec(part)?.[1]
    if (name === undefined) {
      if (part !== segment) return undefined
    } else if (i === parts.length - 1 && name === "ref") {
      // A trailing `{ref}` takes the rest: refs hold slashes.
      params[name] = segments.slice(i).join("/")
      return params
    } else {
      params[name] = segment
    }
  }
  return segments.length === parts.length ? params : undefined
}

/**
 * The description's operation for a method and path, preferring the
 * template with the most literal segments (`/git/ref/{ref}` over `{...}`).
 *
 * @since 0.1.0 @category validation
 */
export const findRoute = (method: string, pathname: string): Route | undefined => {
  const segments = pathname.split("/").slice(1).map((s) => decodeURIComponent(s))
  const paths = field(loadSpec(), "paths")
  if (!isObject(paths)) return undefined
  let best: Route | undefined
  let bestScore = -1
  for (const [template, item] of Object.entries(paths)) {
    const operation = field(item, method.toLowerCase())
    if (!isObject(operation)) continue
    const params = matchTemplate(template, segments)
    if (params === undefined) continue
    const score = template.split("/").filter((p) => !p.startsWith("{")).length
    if (score > bestScore) {
      best = { template, params, operation }
      bestScore = score
    }
  }
  return best
}

const typeMatches = (value: unknown, type: string): boolean => {
  switch (type) {
    case "string": return typeof value === "string"
    case "integer": return typeof value === "number" && Number.isInteger(value)
    case "number": return typeof value === "number"
    case "boolean": return typeof value === "boolean"
    case "array": return Array.isArray(value)
    case "object": return isObject(value)
    case "null": return value === null
    default: return true
  }
}

// Checks one value against a schema: the type, and for objects the required
// properties and the types of the properties present (one level deep).
const check = (value: unknown, raw: Json | undefined, where: string, deep: boolean): string | undefined => {
  const schema = resolve(raw)
  if (!isObject(schema)) return undefined
  const alternatives = field(schema, "oneOf") ?? field(schema, "anyOf")
  if (Array.isArray(alternatives)) {
    const errors = alternatives.map((alt: Json) => check(value, alt, where, deep))
    return errors.some((e) => e === undefined) ? undefined : errors[0]
  }
  const allOf = field(schema, "allOf")
  if (Array.isArray(allOf)) {
    for (const part of allOf) {
      const error = check(value, part, where, deep)
      if (error !== undefined) return error
    }
  }
  if (value === null && field(schema, "nullable") === true) return undefined
  const type = field(schema, "type")
  const types = typeof type === "string" ? [type] : Array.isArray(type) ? type.filter((t) => typeof t === "string") : []
  if (types.length > 0 && !types.some((t) => typeMatches(value, t))) {
    return `${JSON.stringify(value)} is not a ${types.join(" or ")} (${where})`
  }
  const enumValues = field(schema, "enum")
  if (Array.isArray(enumValues) && !enumValues.some((e: Json) => e === value)) {
    return `${JSON.stringify(value)} is not a member of ${JSON.stringify(enumValues)} (${where})`
  }
  if (!deep || !isObject(value)) return undefined
  const required = field(schema, "required")
  if (Array.isArray(required)) {
    for (const name of required) {
      if (typeof name === "string" && !(name in value)) return `"${name}" wasn't supplied.`
    }
  }
  const properties = field(schema, "properties")
  if (isObject(properties)) {
    for (const [name, property] of Object.entries(properties)) {
      if (name in value) {
        const error = check(value[name], property, `property "${name}"`, false)
        if (error !== undefined) return error
      }
    }
  }
  return undefined
}

/** A request the description rejects, with the status and message GitHub would send. @since 0.1.0 @category validation */
export interface Rejection {
  readonly status: 404 | 422
  readonly message: string
}

/**
 * Checks a request against the REST description: the route must exist and
 * a JSON body must have the required properties with the right types.
 *
 * @since 0.1.0 @category validation
 */
export const validate = (method: string, pathname: string, body: unknown): Rejection | Route => {
  const route = findRoute(method, pathname)
  if (route === undefined) return { status: 404, message: "Not Found" }
  const requestBody = resolve(field(route.operation, "requestBody"))
  const schema = field(field(field(requestBody, "content"), "application/json"), "schema")
  if (schema === undefined) return route
  if (body === undefined) {
    return field(requestBody, "required") === true ? { status: 422, message: "Invalid request.\n\nNo body." } : route
  }
  const error = check(body, schema, "body", true)
  return error === undefined ? route : { status: 422, message: `Invalid request.\n\n${error}` }
}

const isRejection = (result: Rejection | Route): result is Rejection => "status" in result

// ---------------------------------------------------------------------------
// the fake
// ---------------------------------------------------------------------------

/** A request the fake received. @since 0.1.0 @category models */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
  /** The status the fake answered with. */
  readonly status: number
}

/** A scripted failure for the next requests. @since 0.1.0 @category models */
export type Fault =
  | { readonly kind: "server-error"; readonly status?: 500 | 502 | 503 | undefined }
  | { readonly kind: "secondary-rate-limit"; readonly retryAfterSeconds: number }
  | { readonly kind: "primary-rate-limit"; readonly resetEpochSeconds: number }

/** A pull request as the fake holds it. @since 0.1.0 @category models */
export interface PullRequest {
  readonly number: number
  title: string
  body: string | null
  readonly head: string
  readonly base: string
  state: "open" | "closed"
  merged: boolean
  labels: Array<string>
}

/** @since 0.1.0 @category models */
export interface Options {
  readonly owner: string
  readonly repo: string
  /** When set, requests without `Authorization: token <token>` (or `Bearer`) get a 401. */
  readonly token?: string | undefined
  readonly baseBranch?: string | undefined
  /** The files of the base branch's only commit. */
  readonly files?: Readonly<Record<string, string>> | undefined
}

/** @since 0.1.0 @category models */
export interface FakeGitHubServer {
  readonly url: string
  readonly requests: () => ReadonlyArray<RecordedRequest>
  /** Answer the next `count` requests with `fault`. */
  readonly failNext: (count: number, fault: Fault) => void
  readonly pulls: () => ReadonlyArray<PullRequest>
  /** The commit sha a branch points at. */
  readonly branchSha: (branch: string) => string | undefined
  /** A file's text at a branch's tip. */
  readonly fileAt: (branch: string, path: string) => string | undefined
  readonly commitMessage: (sha: string) => string | undefined
}

const docs = "https://docs.github.com/rest"

const sha1 = (text: string): string => createHash("sha1").update(text).digest("hex")

interface Commit {
  readonly tree: string
  readonly parents: ReadonlyArray<string>
  readonly message: string
}

class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Readonly<Record<string, string>> = {}
  ) {}
}

const error = (status: number, message: string, headers: Record<string, string> = {}) =>
  new Reply(status, { message, documentation_url: docs, status: String(status) }, headers)

const readBody = (req: Http.IncomingMessage): Promise<string> =>
  new Promise((resolveBody, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolveBody(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const str = (value: unknown): string => (typeof value === "string" ? value : "")

/**
 * Starts the fake on 127.0.0.1 and a free port; it stops when the scope closes.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (options: Options): Effect.Effect<FakeGitHubServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    yield* Effect.sync(loadSpec)
    const base = options.baseBranch ?? "main"
    const blobs = new Map<string, string>()
    const trees = new Map<string, ReadonlyMap<string, string>>()
    const commits = new Map<string, Commit>()
    const refs = new Map<string, string>()
    const pulls: Array<PullRequest> = []
    const recorded: Array<RecordedRequest> = []
    const faults: Array<Fault> = []
    let counter = 0

    const putTree = (entries: ReadonlyMap<string, string>): string => {
      const sha = sha1(`tree ${JSON.stringify([...entries].sort())}`)
      trees.set(sha, entries)
      return sha
    }
    const putCommit = (commit: Commit): string => {
      const sha = sha1(`commit ${JSON.stringify(commit)} ${counter++}`)
      commits.set(sha, commit)
      return sha
    }
    const initial = new Map<string, string>()
    for (const [path, content] of Object.entries(options.files ?? {})) {
      const sha = sha1(`blob ${content}`)
      blobs.set(sha, content)
      initial.set(path, sha)
    }
    refs.set(`refs/heads/${base}`, putCommit({ tree: putTree(initial), parents: [], message: "initial" }))

    let url = ""
    const repoUrl = () => `${url}/repos/${options.owner}/${options.repo}`
    const refJson = (ref: string, sha: string) => ({
      ref,
      node_id: `REF_${sha1(ref)}`,
      url: `${repoUrl()}/git/${ref}`,
      object: { type: "commit", sha, url: `${repoUrl()}/git/commits/${sha}` }
    })
    const commitJson = (sha: string, commit: Commit) => ({
      sha,
      node_id: `C_${sha}`,
      url: `${repoUrl()}/git/commits/${sha}`,
      html_url: `https://github.com/${options.owner}/${options.repo}/commit/${sha}`,
      message: commit.message,
      author: { name: "Author", email: "author@example.invalid", date: "2026-01-01T00:00:00Z" },
      committer: { name: "Author", email: "author@example.invalid", date: "2026-01-01T00:00:00Z" },
      tree: { sha: commit.tree, url: `${repoUrl()}/git/trees/${commit.tree}` },
      parents: commit.parents.map((p) => ({ sha: p, url: `${repoUrl()}/git/commits/${p}`, html_url: "" })),
      verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null }
    })
    const pullJson = (pull: PullRequest) => ({
      id: pull.number * 1000,
      node_id: `PR_${pull.number}`,
      number: pull.number,
      url: `${repoUrl()}/pulls/${pull.number}`,
      html_url: `https://github.com/${options.owner}/${options.repo}/pull/${pull.number}`,
      state: pull.state,
      title: pull.title,
      body: pull.body,
      merged: pull.merged,
      labels: pull.labels.map((name, i) => ({ id: i + 1, name, color: "ededed", default: false })),
      head: { ref: pull.head, sha: refs.get(`refs/heads/${pull.head}`) ?? "", label: `${options.owner}:${pull.head}` },
      base: { ref: pull.base, sha: refs.get(`refs/heads/${pull.base}`) ?? "", label: `${options.owner}:${pull.base}` }
    })
    const isAncestor = (ancestor: string, sha: string): boolean => {
      const seen = new Set<string>()
      const stack = [sha]
      while (stack.length > 0) {
        const next = stack.pop() ?? ""
        if (next === ancestor) return true
        if (seen.has(next)) continue
        seen.add(next)
        stack.push(...(commits.get(next)?.parents ?? []))
      }
      return false
    }

    const handle = (method: string, route: Route, query: URLSearchParams, body: unknown): Reply => {
      const p = route.params
      if (p["owner"] !== options.owner || p["repo"] !== options.repo) return error(404, "Not Found")
      const b = isObject(body) ? body : {}
      switch (`${method} ${route.template}`) {
        case "GET /repos/{owner}/{repo}/git/ref/{ref}": {
          const ref = `refs/${p["ref"] ?? ""}`
          const sha = refs.get(ref)
          return sha === undefined ? error(404, "Not Found") : new Reply(200, refJson(ref, sha))
        }
        case "POST /repos/{owner}/{repo}/git/refs": {
          const ref = str(b["ref"])
          if (!/^refs\/.+\/.+/.test(ref)) return error(422, "Reference name must start with 'refs/' and have two slashes")
          if (refs.has(ref)) return error(422, "Reference already exists")
          if (!commits.has(str(b["sha"]))) return error(422, "Object does not exist")
          refs.set(ref, str(b["sha"]))
          return new Reply(201, refJson(ref, str(b["sha"])))
        }
        case "PATCH /repos/{owner}/{repo}/git/refs/{ref}": {
          const ref = `refs/${p["ref"] ?? ""}`
          const current = refs.get(ref)
          const sha = str(b["sha"])
          if (current === undefined) return error(422, "Reference does not exist")
          if (!commits.has(sha)) return error(422, "Object does not exist")
          if (b["force"] !== true && !isAncestor(current, sha)) return error(422, "Update is not a fast forward")
          refs.set(ref, sha)
          return new Reply(200, refJson(ref, sha))
        }
        case "POST /repos/{owner}/{repo}/git/blobs": {
          const content = b["encoding"] === "base64"
            ? Buffer.from(str(b["content"]), "base64").toString("utf8")
            : str(b["content"])
          const sha = sha1(`blob ${content}`)
          blobs.set(sha, content)
          return new Reply(201, { sha, url: `${repoUrl()}/git/blobs/${sha}` })
        }
        case "GET /repos/{owner}/{repo}/git/commits/{commit_sha}": {
          const sha = p["commit_sha"] ?? ""
          const commit = commits.get(sha)
          return commit === undefined ? error(404, "Not Found") : new Reply(200, commitJson(sha, commit))
        }
        case "POST /repos/{owner}/{repo}/git/trees": {
          const baseTree = b["base_tree"]
          const entries = new Map(typeof baseTree === "string" ? trees.get(baseTree) ?? [] : [])
          if (typeof baseTree === "string" && !trees.has(baseTree)) return error(422, "Invalid base_tree")
          const items = Array.isArray(b["tree"]) ? b["tree"] : []
          for (const item of items) {
            const path = str(field(item, "path"))
            const sha = field(item, "sha")
            const content = field(item, "content")
            if (sha === null) entries.delete(path)
            else if (typeof sha === "string") {
              if (!blobs.has(sha)) return error(422, "Invalid tree info: sha not found")
              entries.set(path, sha)
            } else if (typeof content === "string") {
              const blob = sha1(`blob ${content}`)
              blobs.set(blob, content)
              entries.set(path, blob)
            }
          }
          const sha = putTree(entries)
          return new Reply(201, {
            sha,
            url: `${repoUrl()}/git/trees/${sha}`,
            truncated: false,
            tree: [...entries].map(([path, blob]) => ({ path, mode: "100644", type: "blob", sha: blob }))
          })
        }
        case "POST /repos/{owner}/{repo}/git/commits": {
          const tree = str(b["tree"])
          const parents = Array.isArray(b["parents"]) ? b["parents"].map(str) : []
          if (!trees.has(tree)) return error(422, "Tree SHA does not exist")
          if (parents.some((parent) => !commits.has(parent))) return error(422, "Parent SHA does not exist")
          const commit = { tree, parents, message: str(b["message"]) }
          const sha = putCommit(commit)
          return new Reply(201, commitJson(sha, commit))
        }
        case "GET /repos/{owner}/{repo}/pulls": {
          const state = query.get("state") ?? "open"
          const head = query.get("head")
          const found = pulls.filter((pull) =>
            (state === "all" || pull.state === state) &&
            (head === null || `${options.owner}:${pull.head}` === head)
          )
          return new Reply(200, found.map(pullJson))
        }
        case "POST /repos/{owner}/{repo}/pulls": {
          const head = str(b["head"]).replace(`${options.owner}:`, "")
          const baseRef = str(b["base"])
          if (!refs.has(`refs/heads/${head}`) || !refs.has(`refs/heads/${baseRef}`)) {
            return new Reply(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", field: "head", code: "invalid" }], documentation_url: docs, status: "422" })
          }
          if (pulls.some((pull) => pull.state === "open" && pull.head === head && pull.base === baseRef)) {
            return new Reply(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${options.owner}:${head}.` }], documentation_url: docs, status: "422" })
          }
          const pull: PullRequest = {
            number: pulls.length + 1,
            title: str(b["title"]),
            body: typeof b["body"] === "string" ? b["body"] : null,
            head,
            base: baseRef,
            state: "open",
            merged: false,
            labels: []
          }
          pulls.push(pull)
          return new Reply(201, pullJson(pull))
        }
        case "PATCH /repos/{owner}/{repo}/pulls/{pull_number}": {
          const pull = pulls.find((candidate) => String(candidate.number) === p["pull_number"])
          if (pull === undefined) return error(404, "Not Found")
          if (typeof b["title"] === "string") pull.title = b["title"]
          if (typeof b["body"] === "string") pull.body = b["body"]
          if (b["state"] === "open" || b["state"] === "closed") pull.state = b["state"]
          return new Reply(200, pullJson(pull))
        }
        case "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge": {
          const pull = pulls.find((candidate) => String(candidate.number) === p["pull_number"])
          if (pull === undefined) return error(404, "Not Found")
          if (pull.state !== "open") return error(405, "Pull Request is not mergeable")
          const headSha = refs.get(`refs/heads/${pull.head}`) ?? ""
          const baseSha = refs.get(`refs/heads/${pull.base}`) ?? ""
          const head = commits.get(headSha)
          if (head === undefined) return error(405, "Pull Request is not mergeable")
          const sha = putCommit({ tree: head.tree, parents: [baseSha, headSha], message: `Merge pull request #${pull.number}` })
          refs.set(`refs/heads/${pull.base}`, sha)
          pull.merged = true
          pull.state = "closed"
          return new Reply(200, { sha, merged: true, message: "Pull Request successfully merged" })
        }
        case "POST /repos/{owner}/{repo}/issues/{issue_number}/labels": {
          const pull = pulls.find((candidate) => String(candidate.number) === p["issue_number"])
          if (pull === undefined) return error(404, "Not Found")
          const given: ReadonlyArray<Json> = Array.isArray(body) ? body : Array.isArray(b["labels"]) ? b["labels"] : []
          for (const label of given) {
            const name = typeof label === "string" ? label : str(field(label, "name"))
            if (name !== "" && !pull.labels.includes(name)) pull.labels.push(name)
          }
          return new Reply(200, pullJson(pull).labels)
        }
        default:
          return error(404, "Not Found")
      }
    }

    const answer = (method: string, pathname: string, query: URLSearchParams, headers: Http.IncomingHttpHeaders, text: string): Reply => {
      const fault = faults.shift()
      if (fault !== undefined) {
        switch (fault.kind) {
          case "server-error": return error(fault.status ?? 500, "Server Error")
          case "secondary-rate-limit":
            return error(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", {
              "retry-after": String(fault.retryAfterSeconds)
            })
          case "primary-rate-limit":
            return error(403, "API rate limit exceeded", {
              "x-ratelimit-limit": "5000",
              "x-ratelimit-remaining": "0",
              "x-ratelimit-reset": String(fault.resetEpochSeconds)
            })
        }
      }
      if (options.token !== undefined) {
        const auth = headers["authorization"] ?? ""
        if (auth !== `token ${options.token}` && auth !== `Bearer ${options.token}` && auth !== `bearer ${options.token}`) {
          return error(401, "Bad credentials")
        }
      }
      let body: unknown = undefined
      if (text !== "") {
        try {
          body = JSON.parse(text)
        } catch {
          return error(400, "Problems parsing JSON")
        }
      }
      const checked = validate(method, pathname, body)
      if (isRejection(checked)) return error(checked.status, checked.message)
      return handle(method, checked, query, body)
    }

    const server = Http.createServer((req, res) => {
      readBody(req).then((text) => {
        const parsed = new URL(req.url ?? "/", "http://127.0.0.1")
        const reply = answer(req.method ?? "GET", parsed.pathname, parsed.searchParams, req.headers, text)
        let body: unknown
        try {
          body = text === "" ? undefined : JSON.parse(text)
        } catch {
          body = text
        }
        recorded.push({
          method: req.method ?? "GET",
          path: parsed.pathname,
          query: Object.fromEntries(parsed.searchParams),
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : v ?? ""])),
          body,
          status: reply.status
        })
        res.writeHead(reply.status, {
          "content-type": "application/json; charset=utf-8",
          "x-github-media-type": "github.v3; format=json",
          ...reply.headers
        })
        res.end(reply.body === undefined ? "" : JSON.stringify(reply.body))
      }, () => {
        res.writeHead(400).end()
      })
    })

    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const address: string | Net.AddressInfo | null = server.address()
    url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`

    const tipTree = (branch: string) => {
      const sha = refs.get(`refs/heads/${branch}`)
      const commit = sha === undefined ? undefined : commits.get(sha)
      return commit === undefined ? undefined : trees.get(commit.tree)
    }
    const fake: FakeGitHubServer = {
      url,
      requests: () => recorded.slice(),
      failNext: (count, fault) => {
        for (let i = 0; i < count; i++) faults.push(fault)
      },
      pulls: () => pulls.map((pull) => ({ ...pull, labels: pull.labels.slice() })),
      branchSha: (branch) => refs.get(`refs/heads/${branch}`),
      fileAt: (branch, path) => {
        const blob = tipTree(branch)?.get(path)
        return blob === undefined ? undefined : blobs.get(blob)
      },
      commitMessage: (sha) => commits.get(sha)?.message
    }
    return fake
  })
