/**
 * Temporary directories for tests, removed with everything in them when
 * their scope closes, so that test runs leave nothing in the OS temp folder.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * A new directory in the OS temp folder, named `prefix` and a random
 * suffix. Acquire it before whatever writes into it (a SQLite client, a
 * child process): scopes close in reverse, so that is closed first and the
 * directory removed after.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), prefix))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
