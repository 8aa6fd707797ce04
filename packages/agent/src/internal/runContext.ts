/**
 * The context a run executes in.
 *
 * A service's runtime context holds every layer's services (dozens), and each
 * span a run opens copies the context it runs in (`Context.add` builds a new
 * map): a dozen copies per run. So a run is given only what it reads: the
 * validation pipeline and the monitor (by type), the dependency guard (looked
 * up when present), and the span it was started or asked from. Tools keep the
 * whole context they were built with (see `prepare` in `Agent.ts`), minus
 * that context's span.
 *
 * Measured with a sampling heap profile over 2,000 runs of the bench's agent
 * (one tool call, two model calls) in the service's runtime: context copies
 * fell from 20 to under 2 KB per run, about 5 KB of which the narrowing
 * itself spends again (740 → 735 KB per run in all).
 *
 * Taking the span from the current context, never from a captured one, is
 * also what makes a started agent's runs children of the asker's span, and a
 * tool's own spans children of its `execute_tool` span.
 */
import { DependencyGuard, Monitor, ValidationPipeline } from "@patinox/core"
import { Context, Effect, Option, Tracer } from "effect"

/** What a run requires by type. */
export type Services = ValidationPipeline.ValidationPipeline | Monitor.Monitor

/** The run's services out of a context of any size; its span is left out. */
export const services = (context: Context.Context<Services>): Context.Context<Services> =>
  Context.pick(
    ValidationPipeline.ValidationPipeline,
    Monitor.Monitor,
    DependencyGuard.DependencyGuard,
    Monitor.RecordModelResponses
  )(context)

const withSpanOf = (base: Context.Context<Services>, current: Context.Context<never>): Context.Context<Services> => {
  const span = Context.getOption(current, Tracer.ParentSpan)
  return Option.isSome(span) ? Context.add(base, Tracer.ParentSpan, span.value) : base
}

/** Runs `self` with the current context's run services and span only. */
export const within = <A, E>(self: Effect.Effect<A, E, Services>): Effect.Effect<A, E, Services> =>
  Effect.mapInputContext(self, (current: Context.Context<Services>) => withSpanOf(services(current), current))

/**
 * Runs `self` with `captured` (see `services`) and the current span, so the
 * run's spans are children of the caller's, whatever span was current when
 * `captured` was taken.
 */
export const withCaptured = <A, E>(self: Effect.Effect<A, E, Services>, captured: Context.Context<Services>): Effect.Effect<A, E> =>
  Effect.mapInputContext(self, (current: Context.Context<never>) => withSpanOf(captured, current))
