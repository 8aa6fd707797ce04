/**
 * The one runtime edge: `pnpm --filter app start`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as AppConfig from "./AppConfig.js"
import * as Http from "./Http.js"

const main = Layer.unwrapEffect(Effect.map(AppConfig.load, Http.layer))

Layer.launch(main).pipe(NodeRuntime.runMain)
