import { defineConfig } from "vitest/config"

/**
 * The one test configuration every package uses: runtime tests in
 * `test/**\/*.test.ts`, type-level tests in `test/**\/*.test-d.ts` checked by
 * `tsc` through vitest's typecheck mode.
 */
export const packageConfig = (name: string) =>
  defineConfig({
    test: {
      name,
      include: ["test/**/*.test.ts"],
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
