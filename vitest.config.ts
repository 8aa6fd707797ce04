import { defineConfig } from "vitest/config"
import { sourceCondition } from "./vitest.shared.js"
import projects from "./vitest.workspace.js"

export default defineConfig({
  test: {
    projects,
    // The pool reads isolation from here, the workers from each project (vitest.shared.ts): both off,
    // so each project's files share one worker process.
    isolate: false,
    // Threads and processes the tests start resolve the workspace's packages through Node, not vite.
    poolOptions: {
      forks: { execArgv: [`--conditions=${sourceCondition}`] },
      // validation's files each in a thread of their own (packages/validation/vitest.config.ts).
      threads: { isolate: true }
    }
  }
})
