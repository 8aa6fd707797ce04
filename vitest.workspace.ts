import { defineWorkspace } from "vitest/config"

// Each package and app has its own vitest.config.ts (unit, integration and
// type-level tests); this lists them so `vitest run` at the root runs all.
export default defineWorkspace(["packages/*", "apps/*"])
