import { packageConfig } from "../../vitest.shared.js"

export default packageConfig("provider-openai")
