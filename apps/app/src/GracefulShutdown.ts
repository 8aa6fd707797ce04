/**
 * Graceful shutdown of the HTTP server. When the service's scope closes
 * (SIGTERM, SIGINT), before anything beneath the server is released:
 *
 * 1. new connections are refused (the listener closes) and idle keep-alive
 *    connections are closed; a request that still arrives on an open
 *    connection, `/ready` included, gets a 503 `ShuttingDown` at once;
 * 2. requests in flight finish and get their answer, up to the deadline;
 *    past it, each one left gets a 503 `ShuttingDown` and its work is
 *    interrupted (a model request is aborted);
 * 3. every connection is closed once its response is out.
 *
 * Only then do the layers beneath stop, in order: the agents drain, then
 * telemetry flushes (see `Http.serverLayer` and `Telemetry.layer`).
 *
 * The Node server's own finalizer cannot do this: it stops dispatching
 * requests first, so in-flight ones were reset and new ones on kept-alive
 * connections hung.
 */
import type { HttpApp } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Context, Deferred, Duration, Effect, Layer } from "effect"
import { createServer, type Server } from "node:http"
import { ShuttingDown } from "@patinox/patinox/Api"
import * as ErrorResponse from "./ErrorResponse.js"

const shuttingDown = (message: string) => ErrorResponse.respond(new ShuttingDown({ message }), { connection: "close" })

export interface Service {
  /** True from the moment shutdown starts. */
  readonly isShuttingDown: Effect.Effect<boolean>
  /** Counts a request in flight, answers 503 once shutdown is past its deadline or had already started. */
  readonly middleware: <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R>
  /** Runs the shutdown sequence; the layer's finalizer calls it. */
  readonly drain: Effect.Effect<void>
}

export class GracefulShutdown extends Context.Tag("@patinox/app/GracefulShutdown")<GracefulShutdown, Service>() {}

/** Wraps the app so that every request is counted and answered during shutdown. */
export const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | GracefulShutdown> =>
  Effect.flatMap(GracefulShutdown, (shutdown) => shutdown.middleware(app))

const make = (server: Server, deadline: Duration.Duration) =>
  Effect.gen(function*() {
    let draining = false
    let inFlight = 0
    let answered = 0
    let refused = 0
    const idle = yield* Deferred.make<void>()
    const pastDeadline = yield* Deferred.make<void>()
    const closed = yield* Deferred.make<void>()
    const deadlineMs = Duration.toMillis(deadline)

    // A connection whose last response went out during shutdown is closed as soon as it is idle.
    server.on("request", (_request, response) => {
      response.once("finish", () => {
        if (draining) setImmediate(() => server.closeIdleConnections())
      })
    })

    const done = Effect.sync(() => {
      inFlight--
      if (draining && inFlight === 0) Deferred.unsafeDone(idle, Effect.void)
    })

    const service: Service = {
      isShuttingDown: Effect.sync(() => draining),
      middleware: (app) =>
        Effect.suspend(() => {
          if (draining) {
            refused++
            return Effect.succeed(shuttingDown("The service is shutting down and takes no new requests"))
          }
          inFlight++
          // The server runs handlers uninterruptibly (routes opt back in): without `interruptible`
          // the race could not stop its loser. `disconnect`: the 503 goes out at once while the
          // interrupted work (a model request, say) winds down.
          return Effect.interruptible(Effect.raceFirst(
            Effect.disconnect(app),
            Effect.as(
              Deferred.await(pastDeadline),
              shuttingDown(`The service is shutting down and this request did not finish within ${deadlineMs} ms`)
            )
          )).pipe(
            Effect.tap((response) =>
              Effect.sync(() => {
                if (draining && response.status !== 503) answered++
              })
            ),
            Effect.ensuring(done)
          )
        }),
      drain: Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        draining = true
        const waiting = inFlight
        if (inFlight === 0) Deferred.unsafeDone(idle, Effect.void)
        // Stops listening and closes idle keep-alive connections; the callback fires once all are closed.
        server.close(() => Deferred.unsafeDone(closed, Effect.void))
        yield* Effect.logInfo(`Shutdown: stopped accepting connections; ${waiting} requests in flight`)
        // Finalizers run uninterruptibly: the awaits are made interruptible so that a timeout can end them.
        const finished = yield* Effect.timeout(Effect.interruptible(Deferred.await(idle)), deadline).pipe(Effect.option)
        if (finished._tag === "None") {
          const late = inFlight
          yield* Deferred.succeed(pastDeadline, undefined)
          yield* Deferred.await(idle)
          yield* Effect.logWarning(`Shutdown: ${late} requests still running after ${deadlineMs} ms answered 503`)
        }
        // Responses are written a moment after their handler ends; then their connections close.
        yield* Effect.timeout(Effect.interruptible(Deferred.await(closed)), "1 second").pipe(Effect.option)
        server.closeAllConnections()
        const elapsed = (yield* Clock.currentTimeMillis) - started
        yield* Effect.logInfo(
          `Shutdown: requests done in ${elapsed} ms (${answered} answered, ${waiting - answered} answered 503, ` +
            `${refused} refused with 503)`
        )
      })
    }
    return service
  })

/**
 * The Node HTTP server on `host:port` and its graceful shutdown around
 * `served` (the app and everything it needs). `served` gets the
 * `GracefulShutdown` service (for `middleware` and `/ready`); the drain runs
 * before any of `served`'s finalizers.
 */
export const layer = <ROut, E, RIn>(
  options: { readonly host: string; readonly port: number; readonly deadline: Duration.DurationInput },
  served: Layer.Layer<ROut, E, RIn>
) =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      // Node's own early errors (header overflow, bad request line) answer in the one error shape too.
      const server = ErrorResponse.answerClientErrors(createServer())
      const service = Layer.effect(GracefulShutdown, make(server, Duration.decode(options.deadline)))
      // Built after `served`, so its finalizer runs first.
      const drainFirst = Layer.scopedDiscard(
        Effect.flatMap(GracefulShutdown, (shutdown) => Effect.addFinalizer(() => shutdown.drain))
      )
      return drainFirst.pipe(
        Layer.provideMerge(served),
        Layer.provideMerge(service),
        Layer.provideMerge(NodeHttpServer.layer(() => server, { host: options.host, port: options.port }))
      )
    })
  )
