/**
 * @since 0.1.0
 */
export * as Migrations from "./Migrations.js"
export * as Retention from "./Retention.js"
export * as TelemetryQueries from "./TelemetryQueries.js"
export * as TelemetrySink from "./TelemetrySink.js"
export * as TelemetryStore from "./TelemetryStore.js"
export * as TelemetryStoreError from "./TelemetryStoreError.js"
