import { SqliteClient } from "@effect/sql-sqlite-node"
import { TempDir } from "@patinox/testing"
import { Effect, Layer } from "effect"
import { join } from "node:path"

/** A SQLite file in a fresh directory, removed after the client closes (when the layer is released). */
export const tempDatabase = (prefix: string, name = "kb") =>
  Layer.unwrapScoped(
    Effect.map(TempDir.make(prefix), (dir) => SqliteClient.layer({ filename: join(dir, `${name}.sqlite`) }))
  )
