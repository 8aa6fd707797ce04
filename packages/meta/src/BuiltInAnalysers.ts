/**
 * The four built-in analysers (latency, errors, efficiency, cost), each
 * configured by its section of `MetaConfig`, as one `Analysers` layer. A host
 * adds its own on top with `Analysis.withAnalyser`, or replaces a built-in one
 * by adding an analyser of the same name.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import * as Analysis from "./Analysis.js"
import * as Cost from "./analysers/Cost.js"
import * as Efficiency from "./analysers/Efficiency.js"
import * as Errors from "./analysers/Errors.js"
import * as Latency from "./analysers/Latency.js"
import type { MetaConfig } from "./MetaConfig.js"

/** @since 0.1.0 @category constructors */
export const latency = (config: MetaConfig): Analysis.Analyser => Latency.make(config.latency)

/** @since 0.1.0 @category constructors */
export const errors = (config: MetaConfig): Analysis.Analyser => Errors.make(config.errors)

/** @since 0.1.0 @category constructors */
export const efficiency = (config: MetaConfig): Analysis.Analyser => Efficiency.make(config.efficiency)

/** @since 0.1.0 @category constructors */
export const cost = (config: MetaConfig): Analysis.Analyser => Cost.make(config.cost)

/** The four analysers, in the order a pass runs them. @since 0.1.0 @category constructors */
export const make = (config: MetaConfig): ReadonlyArray<Analysis.Analyser> => [
  latency(config),
  errors(config),
  efficiency(config),
  cost(config)
]

/**
 * The built-in analysers, stacked from `Analysis.empty`. A host's own go on
 * top: `Analysis.withAnalyser(mine).pipe(Layer.provide(layer(config)))`.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (config: MetaConfig): Layer.Layer<Analysis.Analysers> =>
  make(config).reduce<Layer.Layer<Analysis.Analysers>>(
    (beneath, analyser) => Layer.provide(Analysis.withAnalyser(analyser), beneath),
    Analysis.empty
  )
