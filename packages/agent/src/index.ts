/**
 * @since 0.1.0
 */
export * as Agent from "./Agent.js"
export * as AgentRuntime from "./AgentRuntime.js"
export * as RunResult from "./RunResult.js"
export * as Supervisor from "./Supervisor.js"
