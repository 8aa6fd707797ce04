/**
 * The agents' `DependencyGuard`: a tool an alert (or a person) switched off
 * is refused with `DependencyDisabled` until someone re-enables it
 * (`POST /tools/:name/enable`); everything else goes through the circuit
 * breaker, when one is configured.
 */
import { DependencyGuard, Errors } from "@patinox/core"
import { ToolSwitch } from "@patinox/monitoring"
import { Effect, Layer, Option } from "effect"

const toolPrefix = DependencyGuard.tool("")

export const layer: Layer.Layer<DependencyGuard.DependencyGuard, never, ToolSwitch.ToolSwitch> = Layer.effect(
  DependencyGuard.DependencyGuard,
  Effect.gen(function*() {
    const tools = yield* ToolSwitch.ToolSwitch
    const beneath = Option.getOrUndefined(yield* Effect.serviceOption(DependencyGuard.DependencyGuard))
    return {
      protect: (dependency, effect) => {
        const guarded = beneath === undefined ? effect : beneath.protect(dependency, effect)
        if (!dependency.startsWith(toolPrefix)) return guarded
        const tool = dependency.slice(toolPrefix.length)
        return Effect.flatMap(tools.disabled, (disabled) => {
          const reason = disabled.get(tool)
          return reason === undefined ? guarded : Effect.fail(new Errors.DependencyDisabled({ dependency, reason }))
        })
      }
    }
  })
)
