import { mergeConfig } from "vitest/config"
import { packageConfig } from "../../vitest.shared.js"

export default mergeConfig(packageConfig("validation"), {
  // Isolated, each file in a thread of its own (threads start faster than processes): after
  // BadInput's block without the test services, later files in the same worker found the live
  // Clock where TestClock should be.
  test: { pool: "threads", isolate: true }
})
