/**
 * Which tools are switched off, and why. An alert rule with the
 * `disable_tool` action turns a tool off when it keeps breaching; it stays
 * off until a person turns it on again (`enable`), even if the alert
 * resolves. The agent loop (wired by the app) refuses disabled tools; this
 * module only holds the state.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"

/** @since 0.1.0 @category models */
export interface Service {
  /** Turns `tool` off (again: the reason is replaced). */
  readonly disable: (tool: string, reason: string) => Effect.Effect<void>
  /** Turns `tool` on; `false` if it was not off. */
  readonly enable: (tool: string) => Effect.Effect<boolean>
  /** Tool name to the reason it is off. */
  readonly disabled: Effect.Effect<ReadonlyMap<string, string>>
  readonly isDisabled: (tool: string) => Effect.Effect<boolean>
}

/** @since 0.1.0 @category tags */
export class ToolSwitch extends Context.Tag("@patinox/monitoring/ToolSwitch")<ToolSwitch, Service>() {}

/** @since 0.1.0 @category constructors */
export const make: Effect.Effect<Service> = Effect.sync(() => {
  const off = new Map<string, string>()
  return {
    disable: (tool, reason) =>
      Effect.sync(() => {
        off.set(tool, reason)
      }).pipe(
        Effect.zipRight(Effect.logWarning(`tool ${tool} disabled: ${reason}`)),
        Effect.withSpan("ToolSwitch.disable", { attributes: { "gen_ai.tool.name": tool } })
      ),
    enable: (tool) =>
      Effect.sync(() => off.delete(tool)).pipe(
        Effect.tap((was) => (was ? Effect.logInfo(`tool ${tool} enabled again`) : Effect.void)),
        Effect.withSpan("ToolSwitch.enable", { attributes: { "gen_ai.tool.name": tool } })
      ),
    disabled: Effect.sync(() => new Map(off)),
    isDisabled: (tool) => Effect.sync(() => off.has(tool))
  }
})

/** @since 0.1.0 @category layers */
export const layer: Layer.Layer<ToolSwitch> = Layer.effect(ToolSwitch, make)
