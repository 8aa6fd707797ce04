/**
 * @since 0.1.0
 */
export * as FakeGitHub from "./FakeGitHub.js"
export * as FakeOpenAi from "./FakeOpenAi.js"
export * as ScriptedModel from "./ScriptedModel.js"
export * as TempDir from "./TempDir.js"
export * as Workload from "./Workload.js"
