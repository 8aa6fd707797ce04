import { assert, describe, it } from "@effect/vitest"
import { generalisation, type Row } from "../eval/hallucination.js"

const PASSAGE = "The Orvik observatory was founded in 1904 by the astronomer Ilse Brandt. Its telescope has a 1.2 metre mirror."
const row = (source: string, answer: string, label: Row["label"], knowledge = PASSAGE): Row => ({
  knowledge,
  question: "",
  answer,
  label,
  source
})

const rows: ReadonlyArray<Row> = [
  row("qa", "Ilse Brandt founded the Orvik observatory in 1904.", "grounded"),
  row("qa", "Ilse Brandt founded the Orvik observatory in 1911.", "hallucinated"),
  row("summaries", "The Orvik observatory, founded by Ilse Brandt, has a 1.2 metre mirror.", "grounded"),
  row("summaries", "The Orvik observatory, founded by Ilse Marten, has a 1.2 metre mirror.", "hallucinated"),
  row("closed-book", "The moon base opened in 2041.", "hallucinated", "")
]

describe("hallucination eval: per source and leave one source out", () => {
  it("scores every source with a passage, and each one with parameters fitted on the others", () => {
    const figures = generalisation(["synthetic.jsonl"], rows, undefined)
    // Closed-book rows have nothing to generalise over.
    assert.deepStrictEqual(Object.keys(figures.bySource), ["qa", "summaries"])
    assert.strictEqual(figures.rows, 4)
    assert.deepStrictEqual(figures.leaveOneSourceOut.parameters, ["claimThreshold", "alignmentFloor"])
    for (const source of ["qa", "summaries"]) {
      const held = figures.leaveOneSourceOut.bySource[source]!
      assert.strictEqual(held.metrics.counts.n, 2)
      assert.isAtLeast(held.alignmentFloor, 0.2)
      // The contradicted number and the swapped name are caught whatever the threshold.
      assert.strictEqual(held.metrics.balancedAccuracy, 1)
    }
    assert.strictEqual(figures.leaveOneSourceOut.macroBalancedAccuracy, 1)
    assert.strictEqual(figures.macroBalancedAccuracy, 1)
  })
})
