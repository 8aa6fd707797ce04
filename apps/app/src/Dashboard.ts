/**
 * The dashboard's static assets (docs/dashboard.md): `index.html` at `/` and
 * the hashed scripts and styles under `/dashboard/`, read once from the folder
 * `scripts/dashboard.ts` builds. They hold no data, so `Security.ts` lets them
 * through without the token; every figure the page shows comes from the API,
 * fetched with the token the person enters.
 */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NotFound } from "@patinox/patinox/Api"
import { Data, Effect, Option } from "effect"
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { extname, join } from "node:path"
import { gzipSync } from "node:zlib"
import { fileURLToPath } from "node:url"
import { respond } from "./ErrorResponse.js"

/** What the build writes beside the assets: the page and the files it may load. */
export const manifestName = "assets.json"

/** `assets.json`: `files` are names in the folder, served at `/dashboard/<name>` (`entry` at `/`). */
export interface Manifest {
  readonly entry: string
  readonly files: ReadonlyArray<string>
}

/** Where the dashboard is served; `Security.ts` opens exactly these paths to GET and HEAD. */
export const isAssetPath = (path: string): boolean =>
  path === "/" || path === "/index.html" || path.startsWith("/dashboard/")

/**
 * The built folder: `dist/dashboard` beside `dist/bin` when this module is
 * bundled into `dist/bin/main.js`, `../dist/dashboard` from `src/` when run
 * from sources. Only a folder holding the manifest counts, so the sources'
 * own `dashboard/` folder is never served.
 */
export const defaultDir = (): string => {
  const candidates = ["../dashboard/", "../dist/dashboard/"].map((relative) => fileURLToPath(new URL(relative, import.meta.url)))
  return candidates.find((dir) => existsSync(join(dir, manifestName))) ?? candidates[1]!
}

interface Asset {
  readonly body: Uint8Array
  /** The same bytes gzipped, sent to browsers that accept it (all do): a third of the size. */
  readonly gzipped: Uint8Array
  readonly contentType: string
  readonly etag: string
}

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml"
}

/**
 * The page may load only its own scripts and styles and talk only to this
 * service, so that nothing injected into a run's text can run or send the
 * token elsewhere.
 */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

interface Assets {
  readonly entry: Asset
  readonly files: ReadonlyMap<string, Asset>
}

class AssetsUnreadable extends Data.TaggedError("AssetsUnreadable")<{ readonly dir: string; readonly cause: unknown }> {}

const isManifest = (value: unknown): value is Manifest =>
  typeof value === "object" && value !== null && "entry" in value && typeof value.entry === "string" &&
  "files" in value && Array.isArray(value.files) && value.files.every((file: unknown) => typeof file === "string")

/** The folder's files in memory (a few hundred kB), each with its ETag; none when the folder was not built. */
const load = (dir: string) =>
  Effect.try({
    try: (): Option.Option<Assets> => {
      if (!existsSync(join(dir, manifestName))) return Option.none()
      const manifest: unknown = JSON.parse(readFileSync(join(dir, manifestName), "utf8"))
      if (!isManifest(manifest)) throw new Error(`${manifestName} is not a dashboard manifest`)
      const assets = new Map<string, Asset>()
      for (const name of new Set([manifest.entry, ...manifest.files])) {
        // Names come from the build; anything that could leave the folder is not served.
        if (name.includes("/") || name.includes("\\") || name.startsWith(".")) continue
        const body = readFileSync(join(dir, name))
        assets.set(name, {
          body,
          gzipped: gzipSync(body, { level: 9 }),
          contentType: contentTypes[extname(name)] ?? "application/octet-stream",
          etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`
        })
      }
      const entry = assets.get(manifest.entry)
      if (entry === undefined) throw new Error(`${manifestName} names no page`)
      assets.delete(manifest.entry)
      return Option.some({ entry, files: assets })
    },
    catch: (cause) => new AssetsUnreadable({ dir, cause })
  })

const notBuilt = (dir: string) =>
  respond(new NotFound({ message: `The dashboard is not built (no ${manifestName} in ${dir}): run \`pnpm --filter app build\`` }))

/**
 * One asset's response: `304` when the browser holds it already. Hashed names
 * never change content, so they are cached for a year; the page is
 * revalidated on each load, so a new build is picked up at once.
 */
const serve = (asset: Asset, cache: string, headers: Readonly<Record<string, string>> = {}) =>
  Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    const gzip = /\bgzip\b/.test(request.headers["accept-encoding"] ?? "")
    // Each encoding is its own representation, with its own tag.
    const etag = gzip ? `${asset.etag.slice(0, -1)}-gz"` : asset.etag
    const common = { etag, vary: "accept-encoding", "cache-control": cache, "x-content-type-options": "nosniff", ...headers }
    if (request.headers["if-none-match"] === etag) return HttpServerResponse.empty({ status: 304, headers: common })
    return gzip
      ? HttpServerResponse.uint8Array(asset.gzipped, {
        contentType: asset.contentType,
        headers: { ...common, "content-encoding": "gzip" }
      })
      : HttpServerResponse.uint8Array(asset.body, { contentType: asset.contentType, headers: common })
  })

/**
 * The routes, beside the API's on its router (as `HttpApiScalar.layer` mounts
 * `/docs`). A folder that is missing or unreadable is logged, and its paths
 * answer 404 saying how to build it: the API keeps working without it.
 */
export const layer = (dir: string = defaultDir()) =>
  HttpApiBuilder.Router.use(Effect.fnUntraced(function*(router) {
    const loaded = yield* load(dir).pipe(
      Effect.tapError((error) => Effect.logWarning(`dashboard assets in ${error.dir} unreadable`, error.cause)),
      Effect.orElseSucceed(() => Option.none<Assets>())
    )
    if (Option.isNone(loaded)) {
      yield* Effect.logInfo(`The dashboard is not built (${dir}): / answers 404 until \`pnpm --filter app build\``)
      const missing = Effect.sync(() => notBuilt(dir))
      yield* router.get("/", missing)
      yield* router.get("/index.html", missing)
      yield* router.get("/dashboard/*", missing)
      return
    }
    const { entry, files } = loaded.value
    const page = serve(entry, "no-cache", { "content-security-policy": contentSecurityPolicy, "referrer-policy": "no-referrer" })
    yield* router.get("/", page)
    yield* router.get("/index.html", page)
    yield* router.get(
      "/dashboard/*",
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const name = request.url.split("?")[0]!.replace(/^.*?\/dashboard\//, "")
        const asset = files.get(name)
        return asset === undefined
          ? Effect.succeed(respond(new NotFound({ message: `No dashboard asset ${JSON.stringify(name.slice(0, 200))}` })))
          : serve(asset, "public, max-age=31536000, immutable")
      })
    )
  }))
