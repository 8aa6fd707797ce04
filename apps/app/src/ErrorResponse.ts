/**
 * The one error shape on every non-2xx response, `{ error, message, runId?, details? }`
 * (docs/http-api.md), and the API-level middleware that gives it to what the
 * handlers do not produce themselves: schema decode failures, unknown routes,
 * wrong methods, unreadable bodies and defects.
 */
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiError,
  HttpApiSchema,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { Cause, Effect, Option, Schema } from "effect"
import type { Server } from "node:http"
import type { Duplex } from "node:stream"
import {
  AgentNotFound,
  AlertNotFound,
  Api,
  DocumentNotFound,
  InternalError,
  InvalidRequest,
  Issue,
  KnowledgeUnavailable,
  LengthRequired,
  MethodNotAllowed,
  ModelFailed,
  NotFound,
  NotReady,
  PayloadTooLarge,
  ProposalNotFound,
  ProposalNotOpen,
  RunNotFound,
  RunRateLimited,
  RunRejected,
  RunTimedOut,
  ShuttingDown,
  TelemetryUnavailable,
  ToolNotDisabled,
  Unauthorized,
  UnsupportedMediaType
} from "@patinox/patinox/Api"

const errorClasses = [
  InvalidRequest,
  Unauthorized,
  NotFound,
  MethodNotAllowed,
  LengthRequired,
  PayloadTooLarge,
  UnsupportedMediaType,
  InternalError,
  AgentNotFound,
  RunRejected,
  RunRateLimited,
  ModelFailed,
  RunTimedOut,
  RunNotFound,
  KnowledgeUnavailable,
  TelemetryUnavailable,
  ToolNotDisabled,
  ProposalNotFound,
  ProposalNotOpen,
  ShuttingDown,
  NotReady,
  DocumentNotFound,
  AlertNotFound
] as const

/** Any error body the API sends. */
export const ApiError = Schema.Union(...errorClasses)
export type ApiError = typeof ApiError.Type

export const isApiError = Schema.is(ApiError)
const encode = Schema.encodeSync(ApiError)

/** `Retry-After` is in whole seconds: rounded up, so that a client waiting that long is let through. */
export const retryAfterSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)))

/** The status `error`'s class declares (its `HttpApiSchema` annotation). */
export const statusOf = (error: ApiError): number => {
  const schema = errorClasses.find((c) => error instanceof c)
  return schema === undefined ? 500 : HttpApiSchema.getStatusError(schema)
}

/**
 * The response for `error`: its encoded body, its status. Everything that
 * answers outside a handler (security checks, this module's middleware) goes
 * through here, so no error body is hand-written.
 */
export const respond = (
  error: ApiError,
  headers: Readonly<Record<string, string>> = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(encode(error), {
    status: statusOf(error),
    headers: error instanceof RunRateLimited ? { ...headers, "retry-after": retryAfterSeconds(error.retryAfterMs) } : headers
  })

/** A readable message and the issue list for a decode failure, instead of Schema's tree dump. */
export const invalidRequest = (issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>) => {
  const details = issues.map((issue) =>
    new Issue({
      path: issue.path.map((key) => typeof key === "number" ? key : String(key)),
      message: issue.message
    })
  )
  const where = (issue: Issue) => issue.path.length === 0 ? "body" : issue.path.join(".")
  return new InvalidRequest({
    message: `Invalid request: ${details.map((issue) => `${where(issue)}: ${issue.message}`).join("; ")}`,
    details
  })
}

interface Route {
  readonly method: string
  readonly pattern: RegExp
}

const routes: ReadonlyArray<Route> = (() => {
  const found: Array<Route> = []
  HttpApi.reflect(Api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      const source = endpoint.path.split("/").map((part) => part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      found.push({ method: endpoint.method, pattern: new RegExp(`^${source.join("/")}/?$`) })
    }
  })
  return found
})()

const pathOf = (url: string) => {
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

/** 405 with `Allow` when the path exists for other methods, else 404. */
const routeNotFound = (request: HttpServerRequest.HttpServerRequest) => {
  const path = pathOf(request.url)
  const allowed = [...new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method))]
  return allowed.length === 0
    ? respond(new NotFound({ message: `No route for ${request.method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}` }))
    : respond(
      new MethodNotAllowed({ message: `${request.method} is not allowed here; allowed: ${allowed.join(", ")}` }),
      { allow: allowed.join(", ") }
    )
}

const internal = (cause: Cause.Cause<unknown>) =>
  Effect.as(
    Effect.logError("request failed", cause),
    respond(new InternalError({ message: "Internal error; the service logged the cause" }))
  )

/**
 * Turns whatever a request ends with into the one shape. The API's own errors
 * are encoded here too (the same classes, so the same bodies), which keeps the
 * middleware's error channel empty.
 */
const shape = (app: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>) =>
  Effect.catchAllCause(app, (cause) =>
    Effect.gen(function*() {
      if (Cause.isInterruptedOnly(cause)) return yield* Effect.failCause(cause)
      const request = yield* HttpServerRequest.HttpServerRequest
      // The router's and the handlers' failures are typed `never` here, but arrive all the same.
      const failure: Option.Option<unknown> = Cause.failureOption(cause)
      const defect: Option.Option<unknown> = Cause.dieOption(cause)
      const error = Option.orElse(failure, () => defect)
      if (Option.isNone(error)) return yield* internal(cause)
      const value = error.value
      if (isApiError(value)) return respond(value)
      if (value instanceof HttpApiError.HttpApiDecodeError) return respond(invalidRequest(value.issues))
      if (value instanceof HttpServerError.RouteNotFound) return routeNotFound(request)
      if (value instanceof HttpServerError.RequestError && value.reason === "Decode") {
        return respond(new InvalidRequest({ message: "The request body could not be read" }))
      }
      return yield* internal(cause)
    }))

/** The API-level middleware layer; `Http.ts` provides it to the server. */
export const layer = HttpApiBuilder.middleware(shape)

/**
 * Node answers malformed requests (an oversized header block: 431; a bad
 * request line: 400; headers too slow: 408) before the app sees them; this
 * gives those answers the one error shape too. Returns `server`.
 */
export const answerClientErrors = (server: Server): Server =>
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable) return socket.destroy()
    const [status, tag, reason] = error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "HeadersTooLarge", "Request Header Fields Too Large"] as const
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "RequestTimeout", "Request Timeout"] as const
      : [400, "InvalidRequest", "Bad Request"] as const
    const body = JSON.stringify({
      error: tag,
      message: status === 431
        ? "The request line and headers are too large"
        : `Malformed HTTP request (${error.code ?? "unknown"})`
    })
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
    )
  })
