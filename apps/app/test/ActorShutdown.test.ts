import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const appDir = fileURLToPath(new URL("..", import.meta.url))

describe("the actor runtime in a real process", () => {
  it.scopedLive("drains the message in flight on SIGTERM, refuses new ones, and exits 0 within the deadline", () =>
    Effect.gen(function*() {
      const inFlight = yield* Deferred.make<void>()
      const exited = yield* Deferred.make<{ code: number | null; at: number }>()
      let output = ""
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          // The fixture bundled by the run's global setup (globalSetup.ts).
          spawn(process.execPath, ["dist/test/actors-shutdown.js"], {
            cwd: appDir,
            stdio: ["ignore", "pipe", "pipe"]
          })
        ),
        (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
      )
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes("in flight")) Deferred.unsafeDone(inFlight, Effect.void)
      }
      child.stdout.on("data", onData)
      child.stderr.on("data", onData)
      child.on("exit", (code) => Deferred.unsafeDone(exited, Effect.succeed({ code, at: Date.now() })))

      yield* Deferred.await(inFlight).pipe(Effect.timeoutFail({
        duration: "20 seconds",
        onTimeout: () => new Error(`no message in flight:\n${output}`)
      }))
      const signalled = Date.now()
      child.kill("SIGTERM")
      const exit = yield* Deferred.await(exited).pipe(Effect.timeoutFail({
        duration: "15 seconds",
        onTimeout: () => new Error(`did not exit:\n${output}`)
      }))
      assert.strictEqual(exit.code, 0, output)
      assert.include(output, "answered: slow answer")
      assert.include(output, "refused: AgentStopped")
      assert.match(output, /runtime shut down: drained=true agents=1 in \d+ ms/)
      assert.isBelow(exit.at - signalled, 5_000, "within the 5 s deadline")
      // the finalizer's line comes after the drained answer
      assert.isBelow(output.indexOf("answered:"), output.indexOf("runtime shut down"))
    }))
})
