import { SqliteClient } from "@effect/sql-sqlite-node"
import { TempDir } from "@patinox/testing"
import { Effect, Layer } from "effect"
import { join } from "node:path"

/** A SQLite file in a fresh directory, removed after the client closes (when the layer is released). */
export const tempDatabase = (prefix: string, name = "kb") =>
  Layer.unwrapScoped(
    Effect.map(TempDir.make(prefix), (dir) => SqliteClient.layer({ filename: join(dir, `${name}.sqlite`) }))
  )

/** A clean table-QA task, hand-written: the prompt guard's table signals must see a table and no order in it. */
export const townsTable = [
  "Answer the question using the table.",
  "Question: which town is the largest?",
  "town | population | area",
  "northtown | 12000 | 40",
  "southville | 8000 | 31",
  "eastbury | 15500 | 52"
].join("\n")
