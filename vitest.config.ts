import { defineConfig } from "vitest/config"
import { sourceCondition } from "./vitest.shared.js"
import projects from "./vitest.workspace.js"

export default defineConfig({
  test: {
    projects,
    // Threads and processes the tests start resolve the workspace's packages through Node, not vite.
    poolOptions: { forks: { execArgv: [`--conditions=${sourceCondition}`] } }
  }
})
