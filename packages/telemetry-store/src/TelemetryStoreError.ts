/**
 * The one error the telemetry store lets cross its boundary.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A storage operation failed: opening or migrating the database, a query, a
 * stored payload that no longer decodes. The background writer never fails
 * with it: its failures are logged and counted in the sink's stats.
 *
 * @since 0.1.0 @category errors
 */
export class TelemetryStoreError
  extends Schema.TaggedError<TelemetryStoreError>("@patinox/telemetry-store/TelemetryStoreError")(
    "TelemetryStoreError",
    { operation: Schema.String, reason: Schema.String, cause: Schema.optional(Schema.Defect) }
  )
{
  override get message(): string {
    return `Telemetry store ${this.operation} failed: ${this.reason}`
  }
}

/** @since 0.1.0 @category constructors */
export const fromCause = (operation: string) => (cause: unknown): TelemetryStoreError =>
  new TelemetryStoreError({
    operation,
    reason: typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string"
      ? cause.message
      : String(cause),
    cause
  })
