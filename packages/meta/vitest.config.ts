import { mergeConfig } from "vitest/config"
import { packageConfig } from "../../vitest.shared.js"

export default mergeConfig(packageConfig("meta"), {
  // The sink's write thread, bundled once for the run.
  test: { globalSetup: ["../../vitest.writeWorker.ts"] }
})
