import { defineConfig } from "vitest/config"

/**
 * The condition under which the workspace's packages export their TypeScript
 * sources (`package.json` exports), so that tests run on `src/` without a build.
 */
export const sourceCondition = "@patinox/source"

/** Vite's default conditions for server code (its `defaultServerConditions`), after ours. */
const conditions = [sourceCondition, "module", "node", "development|production"]

/**
 * The one test configuration every package uses: runtime tests in
 * `test/**\/*.test.ts`, type-level tests in `test/**\/*.test-d.ts` checked by
 * `tsc` through vitest's typecheck mode.
 */
export const packageConfig = (name: string) =>
  defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      name,
      include: ["test/**/*.test.ts"],
      // One worker process runs a project's files one after another: each file in a fresh process
      // loaded effect and the platform again, about a third of a pass. Our sources are still
      // evaluated afresh per file; what files share is node_modules' state, such as Effect's
      // global metric registry, so tests read their own series or a difference.
      isolate: false,
      testTimeout: 30_000,
      hookTimeout: 30_000,
      typecheck: {
        enabled: true,
        checker: "tsc",
        include: ["test/**/*.test-d.ts"],
        tsconfig: "./tsconfig.json"
      }
    }
  })
