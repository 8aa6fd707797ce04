/**
 * Who may call the service and what a request may carry, checked before any
 * handler runs (docs/http-api.md):
 *
 * - a non-loopback bind needs an API token, else the service refuses to start;
 * - with a token, every path but `/health` and `/ready` needs `Authorization: Bearer`,
 *   except the dashboard's static assets (`Dashboard.ts`) to GET and HEAD: they hold no data;
 * - a request body must be `application/json` (browsers send forms and plain
 *   text cross-site without asking), within the size limit, valid UTF-8, within
 *   the depth limit, and parse;
 * - CORS headers only for configured origins.
 */
import { HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Data, Effect, Option, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { InvalidRequest, LengthRequired, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from "@patinox/patinox/Api"
import type { AppConfig } from "./AppConfig.js"
import type { ServerConfig } from "./ConfigFile.js"
import { isAssetPath } from "./Dashboard.js"
import { type ApiError, respond } from "./ErrorResponse.js"
import { redactUrl } from "./RequestLog.js"

export interface Settings {
  readonly token: Redacted.Redacted<string> | undefined
  readonly allowedOrigins: ReadonlyArray<string>
  readonly maxBodyBytes: number
  readonly maxJsonDepth: number
}

/** The service was asked to listen beyond this machine with nothing guarding it. */
export class InsecureBind extends Data.TaggedError("InsecureBind")<{ readonly host: string }> {
  override get message() {
    return `refusing to listen on ${this.host} without an API token: every interface would get unauthenticated ` +
      `access to runs, the knowledge base and the tool switches. Set PATINOX_API_TOKEN (or server.apiToken in ` +
      `the config file), or bind 127.0.0.1.`
  }
}

/** True for addresses only this machine can reach. */
export const isLoopback = (host: string): boolean => {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase()
  return bare === "localhost" || bare === "::1" || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(bare)
}

/** The settings for `config` and the file's `server` section; fails on a non-loopback bind without a token. */
export const settings = (config: AppConfig, server: ServerConfig): Effect.Effect<Settings, InsecureBind> => {
  const token = config.apiToken ?? server.apiToken
  return token === undefined && !isLoopback(config.host)
    ? Effect.fail(new InsecureBind({ host: config.host }))
    : Effect.succeed({
      token,
      allowedOrigins: server.allowedOrigins,
      maxBodyBytes: server.maxBodyBytes,
      maxJsonDepth: server.maxJsonDepth
    })
}

const digest = (text: string) => createHash("sha256").update(text).digest()

/** Equal-length digests, so the comparison's time says nothing about the token. */
const tokenMatches = (given: string, expected: Redacted.Redacted<string>) =>
  timingSafeEqual(digest(given), digest(Redacted.value(expected)))

const bearer = (request: HttpServerRequest.HttpServerRequest): string | undefined =>
  /^Bearer +(\S+) *$/i.exec(request.headers["authorization"] ?? "")?.[1]

/**
 * Who a run is for, for per-user rate limits: a short fingerprint of the bearer
 * token when there is one (never the token), else the client's address.
 */
export const userId = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const token = bearer(request)
  if (token !== undefined) return `token:${digest(token).toString("hex").slice(0, 12)}`
  return request.remoteAddress._tag === "Some" ? `ip:${request.remoteAddress.value}` : undefined
}

const openPaths = new Set(["/health", "/ready"])

/** What needs no token: the probes, and the dashboard's page and scripts to read. */
const isOpen = (method: string, path: string) =>
  openPaths.has(path) || ((method === "GET" || method === "HEAD") && isAssetPath(path))

const bodyMethods = new Set(["POST", "PUT", "PATCH", "DELETE"])

/**
 * Nesting depth above `max`, found without parsing: `JSON.parse` and Schema
 * decoders recurse per level, so a deep body must be refused before either.
 */
export const jsonDepthExceeds = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) {
      inString = true
    } else if (c === 91 || c === 123) {
      if (++depth > max) return true
    } else if (c === 93 || c === 125) {
      depth--
    }
  }
  return false
}

const corsHeaders = (origin: string) => ({ "access-control-allow-origin": origin, vary: "Origin" })

/** The checks, as a middleware for `HttpApiBuilder.serve`. */
export const middleware = (settings: Settings) => {
  const allowed = new Set(settings.allowedOrigins)
  const maxMb = (settings.maxBodyBytes / 1_048_576).toFixed(2)

  const checkBody = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<ApiError | undefined> =>
    Effect.gen(function*() {
      if (!bodyMethods.has(request.method)) return undefined
      const length = request.headers["content-length"]
      const hasBody = request.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0")
      const type = request.headers["content-type"]
      if (type !== undefined || hasBody) {
        const media = (type ?? "").split(";")[0]!.trim().toLowerCase()
        if (media !== "application/json") {
          return new UnsupportedMediaType({
            message: `Request bodies must be application/json; got ${type === undefined ? "no content type" : media}`
          })
        }
      }
      if (!hasBody) return undefined
      // The platform's body reader drops the connection when a body outgrows its limit, so the
      // size is checked from the header, before a byte is read; a body without one is refused.
      if (length === undefined) {
        return new LengthRequired({ message: "Request bodies need a Content-Length header (chunked bodies are refused)" })
      }
      const tooLarge = new PayloadTooLarge({
        message: `Request body larger than ${settings.maxBodyBytes} bytes (${maxMb} MB, server.maxBodyBytes)`
      })
      if (!/^\d{1,15}$/.test(length)) return new InvalidRequest({ message: "Content-Length is not a number" })
      if (Number(length) > settings.maxBodyBytes) return tooLarge
      // The request caches the text, so the handler's own read reuses it.
      const text = yield* request.text.pipe(
        HttpServerRequest.withMaxBodySize(Option.some(settings.maxBodyBytes)),
        Effect.either
      )
      if (text._tag === "Left") {
        return String(text.left.cause).includes("maxBytes") ? tooLarge : new InvalidRequest({ message: "The request body could not be read" })
      }
      // The body is decoded as UTF-8 with replacement characters: one means invalid input.
      if (text.right.includes("\uFFFD")) {
        return new InvalidRequest({
          message: "Request body is not valid UTF-8 (send U+FFFD itself as the JSON escape \\ufffd)"
        })
      }
      if (jsonDepthExceeds(text.right, settings.maxJsonDepth)) {
        return new InvalidRequest({ message: `Request body nests deeper than ${settings.maxJsonDepth} levels` })
      }
      try {
        JSON.parse(text.right)
      } catch (error) {
        return new InvalidRequest({
          message: `Request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`
        })
      }
      return undefined
    })

  return <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const origin = request.headers["origin"]
      const cors = origin !== undefined && allowed.has(origin) ? corsHeaders(origin) : undefined
      if (cors !== undefined) {
        if (request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined) {
          return HttpServerResponse.empty({
            status: 204,
            headers: {
              ...cors,
              "access-control-allow-methods": "GET, POST, DELETE",
              "access-control-allow-headers": "authorization, content-type",
              "access-control-max-age": "600"
            }
          })
        }
        yield* HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(HttpServerResponse.setHeaders(response, cors)))
      }
      const path = request.url.split("?")[0]!
      if (settings.token !== undefined && !isOpen(request.method, path)) {
        const given = bearer(request)
        if (given === undefined || !tokenMatches(given, settings.token)) {
          yield* Effect.logWarning(
            `refused ${request.method} ${redactUrl(path)}: ${given === undefined ? "no bearer token" : "wrong bearer token"}`
          )
          return respond(new Unauthorized({ message: "A valid bearer token is required (Authorization: Bearer <token>)" }), {
            ...cors,
            "www-authenticate": "Bearer"
          })
        }
      }
      const refused = yield* checkBody(request)
      return refused === undefined ? yield* app : respond(refused, cors)
    })
}
