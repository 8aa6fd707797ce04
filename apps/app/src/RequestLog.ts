/**
 * The request log line and the server span, with the URL redacted: query
 * strings carry search terms and sometimes secrets (`?q=deploy key sk-proj-…`),
 * and neither logs nor traces may keep them. Replaces `HttpMiddleware.logger`
 * and the platform's request span, which record the URL as sent (`Http.ts`
 * turns that span off).
 */
import { HttpApp, HttpServerError, HttpServerRequest, HttpTraceContext } from "@effect/platform"
import { Redaction } from "@patinox/core"
import { Effect, Option } from "effect"

const maxPath = 512
const harmless = /^[0-9]{1,12}$/

/**
 * The URL with every query value replaced (numbers such as `limit=5` kept) and
 * secrets in the path and parameter names redacted; long paths are cut.
 */
export const redactUrl = (url: string): string => {
  const query = url.indexOf("?")
  const rawPath = query === -1 ? url : url.slice(0, query)
  const cut = rawPath.length > maxPath ? `${rawPath.slice(0, maxPath)}…[${rawPath.length} chars]` : rawPath
  const path = Redaction.defaultRedactor.text(cut)
  if (query === -1) return path
  const params = url.slice(query + 1).split("&").slice(0, 20).map((pair) => {
    const eq = pair.indexOf("=")
    const name = Redaction.defaultRedactor.text((eq === -1 ? pair : pair.slice(0, eq)).slice(0, 64))
    const value = eq === -1 ? "" : pair.slice(eq + 1)
    return value === "" ? name : `${name}=${harmless.test(value) ? value : Redaction.marker("query")}`
  })
  return `${path}?${params.join("&")}`
}

let counter = 0

/** Logs one line per request and wraps it in a server span, both with `redactUrl`; no header is recorded. */
export const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = redactUrl(request.url)
    const path = url.split("?")[0]!
    return yield* Effect.useSpan(
      `http.server ${request.method}`,
      {
        kind: "server",
        captureStackTrace: false,
        parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers)),
        attributes: {
          "http.request.method": request.method,
          "url.path": path,
          ...(url.length > path.length ? { "url.query": url.slice(path.length + 1) } : {}),
          ...(request.remoteAddress._tag === "Some" ? { "client.address": request.remoteAddress.value } : {})
        }
      },
      (span) =>
        Effect.flatMap(Effect.exit(Effect.withParentSpan(app, span)), (exit) => {
          const status = HttpServerError.exitResponse(exit).status
          span.attribute("http.response.status_code", status)
          return Effect.zipRight(
            Effect.annotateLogs(Effect.log("Sent HTTP response"), {
              "http.method": request.method,
              "http.url": url,
              "http.status": status
            }),
            exit
          )
        })
    ).pipe(Effect.withLogSpan(`http.span.${++counter}`))
  })
