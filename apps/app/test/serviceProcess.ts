// Shared by the tests that run the service as a real process (start-up, shutdown, crashes).
import { Deferred, Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const appDir = fileURLToPath(new URL("..", import.meta.url))

export interface Service {
  readonly process: ChildProcess
  readonly url: string
  readonly output: () => string
  readonly exit: Deferred.Deferred<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Starts `node dist/bin/main.js` (what `pnpm --filter app start` runs; the
 * test run's global setup has bundled it; pnpm itself does not forward
 * signals) with `env` over this process's environment, less any real
 * model's settings, and waits for the dashboard URL its first-start message
 * gives. A process still running when the scope closes is killed.
 */
export const startService = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const listening = yield* Deferred.make<string, Error>()
      const exit = yield* Deferred.make<{ code: number | null; signal: NodeJS.Signals | null }>()
      const clean = { ...process.env }
      delete clean.OPENAI_API_KEY
      delete clean.OPENAI_BASE_URL
      const child = spawn(process.execPath, ["dist/bin/main.js"], {
        cwd: appDir,
        env: { ...clean, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        // The first-start message, logged once everything has started.
        const match = /Dashboard: +(http:\/\/127\.0\.0\.1:\d+)\//.exec(output)
        if (match?.[1] !== undefined) Deferred.unsafeDone(listening, Effect.succeed(match[1]))
      }
      child.stdout.on("data", onData)
      child.stderr.on("data", onData)
      child.on("exit", (code, signal) => {
        Deferred.unsafeDone(listening, Effect.fail(new Error(`service exited (${code}) before listening:\n${output}`)))
        Deferred.unsafeDone(exit, Effect.succeed({ code, signal }))
      })
      const url = yield* Deferred.await(listening).pipe(Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => new Error(`service did not log its URL in 30 s:\n${output}`)
      }))
      const service: Service = { process: child, url, output: () => output, exit }
      return service
    }),
    (service) => Effect.sync(() => service.process.exitCode === null && service.process.kill("SIGKILL"))
  )
