/**
 * @since 0.1.0
 */
export * as Agent from "./Agent.js"
export * as RunResult from "./RunResult.js"
