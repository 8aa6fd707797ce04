/**
 * @since 0.1.0
 */
export * as Api from "./Api.js"
export * as Durability from "./Durability.js"
export * as Guard from "./Guard.js"
export * as Http from "./Http.js"
export * as Observability from "./Observability.js"
export * as Patinox from "./Patinox.js"
export * as PatinoxConfig from "./PatinoxConfig.js"
export * as Runs from "./Runs.js"
export * as Telemetry from "./Telemetry.js"
export * as Validation from "./Validation.js"
