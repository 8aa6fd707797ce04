import { mergeConfig } from "vitest/config"
import { packageConfig } from "../../vitest.shared.js"

export default mergeConfig(packageConfig("app"), {
  // The process tests run the bundle, built once here.
  test: { globalSetup: ["./test/globalSetup.ts"] }
})
