/**
 * The one runtime edge: `pnpm --filter app start`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as AppConfig from "./AppConfig.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Http from "./Http.js"

const main = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* AppConfig.load
    const file = yield* ConfigFile.load
    yield* Effect.logInfo(file.path === undefined ? "Config: embedded defaults" : `Config: ${file.path}`)
    return Http.layer(config, file.config)
  })
)

Layer.launch(main).pipe(NodeRuntime.runMain)
