// The dashboard's one way to the API: same origin, the bearer token from
// sessionStorage (never a URL, never localStorage: it goes with the tab),
// and the API's error shape `{ error, message }` turned into an ApiError.

const tokenKey = "patinox.token"

/** Fired on `window` when the service refuses the token (or there is none): the page asks for one. */
export const unauthorizedEvent = "patinox:unauthorized"
/** Fired on `window` when a token is entered: every panel refreshes at once. */
export const tokenEvent = "patinox:token"

export const token = {
  get: (): string | null => sessionStorage.getItem(tokenKey),
  set: (value: string): void => {
    sessionStorage.setItem(tokenKey, value)
    window.dispatchEvent(new Event(tokenEvent))
  },
  clear: (): void => sessionStorage.removeItem(tokenKey)
}

/** A non-2xx answer: `code` is the body's `error` (`Unauthorized`, `NotFound`, …). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message)
  }
  /** The endpoint is not on this service (an older build): the panel says so and keeps asking. */
  get notAvailable(): boolean {
    return this.status === 404 && this.code === "NotFound" && this.message.startsWith("No route")
  }
}

const headers = (extra: Record<string, string> = {}): Record<string, string> => {
  const current = token.get()
  return current === null ? extra : { ...extra, authorization: `Bearer ${current}` }
}

const failure = async (response: Response): Promise<ApiError> => {
  let code = `HTTP ${response.status}`
  let message = response.statusText || code
  try {
    const body: unknown = await response.json()
    if (typeof body === "object" && body !== null) {
      if ("error" in body && typeof body.error === "string") code = body.error
      if ("message" in body && typeof body.message === "string") message = body.message
    }
  } catch {
    // Not the API's JSON (a proxy's page): the status says enough.
  }
  if (response.status === 401) window.dispatchEvent(new Event(unauthorizedEvent))
  return new ApiError(response.status, code, message)
}

/** A request with the token; the response when it is 2xx, else its ApiError thrown. */
export const call = async (path: string, init: { method?: string; signal?: AbortSignal } = {}): Promise<Response> => {
  const response = await fetch(path, {
    method: init.method ?? "GET",
    headers: headers({ accept: "application/json" }),
    cache: "no-store",
    ...(init.signal === undefined ? {} : { signal: init.signal })
  })
  if (!response.ok) throw await failure(response)
  return response
}

/** GET `path` and its JSON, typed by the caller as the API documents it. */
export const getJson = async <A>(path: string, signal?: AbortSignal): Promise<A> => {
  const response = await call(path, signal === undefined ? {} : { signal })
  return await response.json() as A
}

/** POST without a body (reset, acknowledge, dismiss) and the JSON answer. */
export const post = async <A>(path: string): Promise<A> => {
  const response = await call(path, { method: "POST" })
  return await response.json() as A
}
