/**
 * Token usage as the provider reported it.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** @since 0.1.0 @category schemas */
export class Usage extends Schema.Class<Usage>("@patinox/core/Usage")({
  inputTokens: Schema.NonNegativeInt,
  outputTokens: Schema.NonNegativeInt
}) {
  get totalTokens(): number {
    return this.inputTokens + this.outputTokens
  }
}

/** @since 0.1.0 @category constructors */
export const zero: Usage = new Usage({ inputTokens: 0, outputTokens: 0 })

/** @since 0.1.0 @category combinators */
export const add = (a: Usage, b: Usage): Usage =>
  new Usage({ inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens }, true)
