// The test projects: every package and app has its own vitest.config.ts
// (runtime tests in test/**/*.test.ts, type-level tests in test/**/*.test-d.ts).
// The root vitest.config.ts runs them all (`test.projects`, which replaces
// vitest's deprecated workspace-file discovery).
export default ["packages/*", "apps/*"]
