import { assert, describe, it, layer } from "@effect/vitest"
import { LanguageModel, Message, Usage } from "@patinox/core"
import { Effect, Layer, Stream } from "effect"
import * as HallucinationDetector from "../src/HallucinationDetector.js"
import * as KnowledgeBase from "../src/KnowledgeBase.js"
import { tempDatabase } from "./fixtures.js"

const BRIDGE =
  "Harrowgate Bridge is a stone arch bridge over the river Lenn in the town of Castlemere. " +
  "It was completed on 14 March 1842 and is 120 metres long. " +
  "The bridge was designed by the engineer Tobias Wren, who also built the Castlemere corn exchange."
const TOWN = "Castlemere has a population of 14,500 people. Its market has run every Thursday since 1603."

const seeded = Layer.effectDiscard(
  Effect.flatMap(KnowledgeBase.KnowledgeBase, (kb) =>
    kb.addMany([
      { id: "bridge", title: "Harrowgate Bridge", text: BRIDGE },
      { id: "town", title: "Castlemere", text: TOWN }
    ]))
)

const detectorLayer = HallucinationDetector.layer.pipe(
  Layer.provideMerge(seeded),
  Layer.provideMerge(KnowledgeBase.layer),
  Layer.provide(tempDatabase("patinox-halu-"))
)

describe("HallucinationDetector", () => {
  layer(detectorLayer)("check against the knowledge base", (it) => {
    it.effect("passes an answer the sources support", () =>
      Effect.gen(function*() {
        const detector = yield* HallucinationDetector.HallucinationDetector
        const result = yield* detector.check({
          question: "Who designed Harrowgate Bridge and when was it finished?",
          answer: "It was designed by Tobias Wren and completed in 1842."
        })
        assert.isTrue(result.verifiable)
        assert.isFalse(result.hallucinated, JSON.stringify(result.claims))
        assert.deepStrictEqual(result.unsupportedClaims, [])
        assert.isAbove(result.claims[0]!.evidence.length, 0)
        assert.strictEqual(result.claims[0]!.evidence[0]!.docId, "bridge")
      }))

    it.effect("flags a wrong number and names the claim", () =>
      Effect.gen(function*() {
        const detector = yield* HallucinationDetector.HallucinationDetector
        const result = yield* detector.check({
          question: "How long is Harrowgate Bridge?",
          answer: "Harrowgate Bridge is 150 metres long."
        })
        assert.isTrue(result.hallucinated)
        assert.deepStrictEqual(result.unsupportedClaims, ["Harrowgate Bridge is 150 metres long."])
        assert.deepStrictEqual(result.claims[0]!.missing.numbers, ["150"])
      }))

    it.effect("flags a wrong year", () =>
      Effect.gen(function*() {
        const detector = yield* HallucinationDetector.HallucinationDetector
        const result = yield* detector.check({ answer: "Harrowgate Bridge was completed in 1853." })
        assert.isTrue(result.hallucinated)
        assert.include(result.claims[0]!.missing.numbers, "1853")
      }))

    it.effect("flags a wrong name", () =>
      Effect.gen(function*() {
        const detector = yield* HallucinationDetector.HallucinationDetector
        const result = yield* detector.check({
          question: "Who designed Harrowgate Bridge?",
          answer: "The bridge was designed by Isambard Fairweather."
        })
        assert.isTrue(result.hallucinated)
        assert.deepStrictEqual(result.claims[0]!.missing.entities, ["Isambard Fairweather"])
      }))

    it.effect("splits claims and flags only the unsupported one", () =>
      Effect.gen(function*() {
        const detector = yield* HallucinationDetector.HallucinationDetector
        const result = yield* detector.check({
          answer: "Harrowgate Bridge crosses the river Lenn; it was designed by Margaret Holt. Castlemere has 14,500 people."
        })
        assert.deepStrictEqual(result.claims.map((c) => c.supported), [true, false, true])
        assert.deepStrictEqual(result.unsupportedClaims, ["it was designed by Margaret Holt."])
      }))

    it.effect("finds no evidence outside the scope", () =>
      Effect.gen(function*() {
        const detector = yield* HallucinationDetector.HallucinationDetector
        const inScope = yield* detector.check({ answer: "Castlemere has 14,500 people.", scope: ["town"] })
        assert.isFalse(inScope.hallucinated)
        const outOfScope = yield* detector.check({ answer: "Castlemere has 14,500 people.", scope: ["bridge"] })
        assert.isTrue(outOfScope.hallucinated)
      }))
  })

  describe("assess", () => {
    it("compares numbers numerically and dates across formats", () => {
      const evidence = ["The reservoir holds 2,500,000 cubic metres. It opened on 1931-06-04 with two turbines."]
      for (const answer of [
        "The reservoir holds 2.5 million cubic metres.",
        "It opened on June 4, 1931.",
        "It opened with 2 turbines."
      ]) {
        assert.isFalse(HallucinationDetector.assess({ answer, evidence }).hallucinated, answer)
      }
      assert.isTrue(HallucinationDetector.assess({ answer: "It opened on June 9, 1931.", evidence }).hallucinated)
      assert.isTrue(HallucinationDetector.assess({ answer: "It opened with three turbines.", evidence }).hallucinated)
    })

    it("accepts a nationality for its country and a bare yes", () => {
      const evidence = ["Ilse Marten is a Danish sculptor who works in bronze."]
      assert.isFalse(HallucinationDetector.assess({ answer: "Ilse Marten is a sculptor from Denmark.", evidence }).hallucinated)
      const yes = HallucinationDetector.assess({ question: "Is Ilse Marten a sculptor?", answer: "Yes.", evidence })
      assert.deepStrictEqual(yes.claims, [])
      assert.isTrue(yes.verifiable)
      assert.isFalse(yes.hallucinated)
    })

    it("drops hedges and boilerplate", () => {
      const result = HallucinationDetector.assess({
        answer: "Sure! I think the reservoir opened in 1931. I hope this helps.",
        evidence: ["The reservoir opened in 1931."]
      })
      assert.deepStrictEqual(result.claims.map((c) => c.claim), ["the reservoir opened in 1931."])
      assert.isFalse(result.hallucinated)
    })

    it("does not count words of the question as support", () => {
      const result = HallucinationDetector.assess({
        question: "Which orchestra did Lena Vaskova conduct?",
        answer: "Lena Vaskova conducted the Brno Harbour Orchestra.",
        evidence: ["Lena Vaskova is a conductor and pianist."]
      })
      assert.isTrue(result.hallucinated)
      assert.deepStrictEqual(result.claims[0]!.missing.entities, ["Brno Harbour Orchestra"])
    })

    it("treats a negation the evidence does not share as a signal", () => {
      const evidence = ["The Lenn river is not navigable by cargo ships."]
      const flipped = HallucinationDetector.assess({ answer: "The Lenn river is navigable by cargo ships.", evidence })
      assert.isTrue(flipped.claims[0]!.negationMismatch)
      assert.isTrue(flipped.hallucinated)
      assert.isFalse(HallucinationDetector.assess({ answer: "The Lenn is not navigable by cargo ships.", evidence }).hallucinated)
    })

    it("reports an answer without evidence as unverifiable, flagged only on request", () => {
      const input = { answer: "The moon base opened in 2041.", evidence: [] }
      const passed = HallucinationDetector.assess(input)
      assert.isFalse(passed.verifiable)
      assert.isFalse(passed.hallucinated)
      assert.isTrue(HallucinationDetector.assess(input, { whenUnverifiable: "flag" }).hallucinated)
    })

    it("writes retry feedback and an uncertainty note naming the unsupported claims", () => {
      const answer = "The reservoir opened in 1931. It was built by Ortega Hydraulics."
      const result = HallucinationDetector.assess({ answer, evidence: ["The reservoir opened in 1931."] })
      assert.deepStrictEqual(result.unsupportedClaims, ["It was built by Ortega Hydraulics."])
      const feedback = HallucinationDetector.feedbackFor(result)
      assert.include(feedback, "\"It was built by Ortega Hydraulics.\"")
      assert.include(feedback, "Ortega Hydraulics")
      assert.notInclude(feedback, "opened in 1931")
      const annotated = HallucinationDetector.annotate(answer, result)
      assert.isTrue(annotated.startsWith(answer))
      assert.include(annotated, "may be inaccurate")
      assert.include(annotated, "Ortega Hydraulics")

      const fine = HallucinationDetector.assess({ answer: "It opened in 1931.", evidence: ["The reservoir opened in 1931."] })
      assert.strictEqual(HallucinationDetector.feedbackFor(fine), "")
      assert.strictEqual(HallucinationDetector.annotate("It opened in 1931.", fine), "It opened in 1931.")
    })
  })

  describe("claim-level support", () => {
    const OBSERVATORY = [
      "The Orvik observatory was founded in 1904 by the astronomer Ilse Brandt on a hill above the harbour. " +
      "Its main telescope has a mirror of 1.2 metres.",
      "Kestrel Foods acquired Tamsin Dairies in 2015."
    ]
    const verdicts = (answer: string) =>
      HallucinationDetector.assess({ answer, evidence: OBSERVATORY }).claims.map((c) => [c.verdict, c.contradictions])

    it("passes a short supported claim worded differently from its evidence", () => {
      const result = HallucinationDetector.assess({ answer: "Ilse Brandt established the Orvik observatory in 1904.", evidence: OBSERVATORY })
      assert.isFalse(result.hallucinated)
      assert.deepStrictEqual(result.claims.map((c) => c.verdict), ["supported"])
    })

    it("rejects a number the aligned evidence does not hold", () => {
      assert.deepStrictEqual(verdicts("The Orvik observatory was founded in 1911."), [["contradicted", ["number"]]])
      assert.deepStrictEqual(verdicts("Its main telescope has a mirror of 2.5 metres."), [["contradicted", ["number"]]])
    })

    it("rejects a negation the evidence does not share", () => {
      const result = HallucinationDetector.assess({ answer: "Ilse Brandt did not found the Orvik observatory.", evidence: OBSERVATORY })
      assert.isTrue(result.hallucinated)
      assert.deepStrictEqual(result.claims[0]!.contradictions, ["negation"])
    })

    it("rejects a name swapped for one the evidence lacks, and reversed roles", () => {
      assert.deepStrictEqual(verdicts("The Orvik observatory was founded by Ilse Marten."), [["contradicted", ["entity"]]])
      assert.deepStrictEqual(verdicts("Tamsin Dairies acquired Kestrel Foods in 2015."), [["contradicted", ["swap"]]])
      const swapped = HallucinationDetector.assess({ answer: "Tamsin Dairies acquired Kestrel Foods in 2015.", evidence: OBSERVATORY })
      assert.include(HallucinationDetector.feedbackFor(swapped), "the sources give these names the other roles")
      // The passive says the same thing the other way round.
      assert.deepStrictEqual(verdicts("Tamsin Dairies was acquired by Kestrel Foods in 2015."), [["supported", []]])
    })

    it("reads a fiscal quarter in either form, and lets a summary count what the evidence lists", () => {
      const evidence = ["Revenue at Kestrel Foods rose 8% in the fourth quarter.", "Priya met Tomas at the harbour on Friday."]
      const check = (answer: string) => HallucinationDetector.assess({ answer, evidence }).claims.map((c) => c.verdict)
      assert.deepStrictEqual(check("Kestrel Foods revenue rose 8% in Q4."), ["supported"])
      assert.deepStrictEqual(check("Kestrel Foods revenue rose 8% in Q3."), ["contradicted"])
      assert.deepStrictEqual(check("Two friends, Priya and Tomas, met at the harbour on Friday."), ["supported"])
    })

    it("abstains on a claim no evidence sentence speaks to, with an unverifiable note", () => {
      const answer = "Ilse Brandt founded the Orvik observatory. Goat cheese keeps for weeks in brine."
      const result = HallucinationDetector.assess({ answer, evidence: OBSERVATORY })
      assert.isFalse(result.hallucinated)
      assert.isTrue(result.verifiable)
      assert.deepStrictEqual(result.claims.map((c) => c.verdict), ["supported", "unverifiable"])
      assert.deepStrictEqual(result.unverifiableClaims, ["Goat cheese keeps for weeks in brine."])
      const annotated = HallucinationDetector.annotate(answer, result)
      assert.isTrue(annotated.startsWith(answer))
      assert.include(annotated, "could not be verified: \"Goat cheese keeps for weeks in brine.\"")
      // Flagged only when asked to treat what cannot be checked as unsupported.
      assert.isTrue(HallucinationDetector.assess({ answer, evidence: OBSERVATORY }, { whenUnverifiable: "flag" }).hallucinated)
    })

    it("re-derives the decision at another threshold from the claim scores", () => {
      const result = HallucinationDetector.assess({ answer: "Ilse Brandt studied comets from the Orvik observatory.", evidence: OBSERVATORY })
      assert.strictEqual(HallucinationDetector.flaggedAt(result), result.hallucinated)
      assert.isFalse(HallucinationDetector.flaggedAt(result, { claimThreshold: 0 }))
      assert.isTrue(HallucinationDetector.flaggedAt(result, { claimThreshold: 1 }))
    })
  })

  describe("short claims against an evidence passage", () => {
    const LIBRARY = [
      "The Halvorsen Library opened in 1962 in the centre of Brekke. It holds about 80,000 books and is run by " +
      "the municipality. Its reading room was designed by the architect Sigrid Lunde, and visitors to the " +
      "library rose sharply after the new wing was added in 1998."
    ]
    const flagged = (answer: string, question?: string) =>
      HallucinationDetector.assess({ question, answer, evidence: LIBRARY }).hallucinated

    it("passes supported claims, however reworded", () => {
      const supported = [
        "The Halvorsen Library opened in 1962.",
        "The library in Brekke has roughly 80,000 books.",
        "Sigrid Lunde designed the reading room.",
        "The municipality operates the Halvorsen Library.",
        "The library is in central Brekke.",
        "Brekke's library was opened in the 1960s.",
        "An architect, Sigrid Lunde, was responsible for the reading room.",
        "The library got a new wing in 1998.",
        "After 1998 the number of visitors increased.",
        "Halvorsen Library is a municipal library that opened in 1962."
      ]
      assert.deepStrictEqual(supported.filter((claim) => flagged(claim)), [])
    })

    it("rejects claims that change a number, a name, a negation or a direction", () => {
      const wrong = [
        "The Halvorsen Library opened in 1975.",
        "The reading room was designed by Henrik Moe.",
        "The library holds about 20,000 books.",
        "The reading room was not designed by Sigrid Lunde.",
        "Visitors to the library fell sharply after the new wing was added."
      ]
      assert.deepStrictEqual(wrong.filter((claim) => !flagged(claim)), [])
    })

    it("rejects a short answer whose content the passage does not hold", () => {
      assert.isTrue(flagged("A private foundation.", "Who runs the Halvorsen Library?"))
      assert.isFalse(flagged("The municipality.", "Who runs the Halvorsen Library?"))
    })
  })

  describe("short encyclopaedic claims against a passage", () => {
    const DIRECTOR = "Marisol Ortega (born 14 March 1979) is a Chilean-American film director and screenwriter. She grew " +
      "up in Valparaíso and moved to Los Angeles in 1998 to study at the University of Southern California. Her debut " +
      "feature, The Salt Road, premiered at the Sundance Film Festival in 2006 and won the Audience Award. She has " +
      "directed four feature films and several episodes of television."
    const LAKE = "Lake Taviro is a freshwater lake in the north of the province of Ardena. It covers about 120 square " +
      "kilometres and reaches a depth of 48 metres. The largest town on its shore is Port Kell, with a population of " +
      "roughly 15,000."
    const BRIDGE = "The Brightwater Bridge is a suspension bridge that carries a four-lane road across the Kessel " +
      "Estuary. Construction began in 1961 and the bridge opened to traffic in 1966. Its main span is 1,006 metres " +
      "long. Tolls were abolished in 2019."
    const flagged = (passage: string, claim: string) =>
      HallucinationDetector.assess({ answer: claim, evidence: [passage] }).hallucinated

    it("passes supported claims, with names, demonyms and units in other words", () => {
      const supported: ReadonlyArray<readonly [string, string]> = [
        [DIRECTOR, "Marisol Ortega is a screenwriter."],
        [DIRECTOR, "Marisol Ortega was born in 1979."],
        [DIRECTOR, "Marisol Ortega moved to the United States in the 1990s."],
        [DIRECTOR, "Marisol Ortega was raised in Chile."],
        [DIRECTOR, "The Salt Road premiered at Sundance."],
        [DIRECTOR, "Marisol Ortega has directed television."],
        [LAKE, "Lake Taviro is 48 metres deep."],
        [LAKE, "Port Kell has about 15,000 inhabitants."],
        [LAKE, "Lake Taviro is in Ardena."],
        [BRIDGE, "The Brightwater Bridge has a main span of over a kilometre."],
        [BRIDGE, "The Brightwater Bridge took five years to build."],
        [BRIDGE, "The Brightwater Bridge no longer charges tolls."]
      ]
      assert.deepStrictEqual(supported.filter(([passage, claim]) => flagged(passage, claim)), [])
    })

    it("rejects claims that change a date, a direction or an outcome", () => {
      const refuted: ReadonlyArray<readonly [string, string]> = [
        [DIRECTOR, "Marisol Ortega was born in 1985."],
        [DIRECTOR, "The Salt Road premiered at the Cannes Film Festival."],
        [LAKE, "Lake Taviro is in the south of Ardena."],
        [LAKE, "Port Kell has a population of 50,000."],
        [BRIDGE, "The Brightwater Bridge opened in 1971."],
        [BRIDGE, "Tolls were introduced on the Brightwater Bridge in 2019."]
      ]
      assert.deepStrictEqual(refuted.filter(([passage, claim]) => !flagged(passage, claim)), [])
    })
  })

  describe("units, relatives and prefixed opposites", () => {
    const HARBOUR = [
      "The ferry crossing to Ardlow takes 75 minutes in calm weather. The harbour museum was founded by the " +
      "widow of a ship's captain and her son in 1931. The cause of the harbour fire of 1952 remained unknown for decades."
    ]
    const flagged = (answer: string) => HallucinationDetector.assess({ answer, evidence: HARBOUR })

    it("rejects a claim that swaps the unit, the relative or the prefixed opposite", () => {
      for (const claim of [
        "The ferry crossing to Ardlow takes 75 hours in calm weather.",
        "The harbour museum was founded by the widow of a ship's captain and her brother in 1931.",
        "The cause of the harbour fire of 1952 remained known for decades."
      ]) {
        const assessment = flagged(claim)
        assert.isTrue(assessment.hallucinated, claim)
        assert.isTrue(assessment.claims.some((c) => c.contradictions.includes("antonym")), claim)
      }
    })

    it("passes the same facts reworded", () => {
      for (const claim of [
        "In calm weather the crossing to Ardlow by ferry lasts 75 minutes.",
        "A captain's widow and her son founded the harbour museum in 1931.",
        "The cause of the 1952 harbour fire stayed unknown for decades."
      ]) assert.isFalse(flagged(claim).hallucinated, claim)
    })
  })

  describe("judge", () => {
    const cannedModel = (content: string): LanguageModel.Service => ({
      provider: "test",
      model: "judge-test",
      chat: () =>
        Effect.succeed(
          new LanguageModel.ChatResponse({
            model: "judge-test",
            message: new Message.AssistantMessage({ content, toolCalls: [] }),
            finishReason: "stop",
            usage: Usage.zero
          })
        ),
      stream: () => Stream.empty
    })
    const input = { question: "When did it open?", answer: "It opened in 1932.", evidence: ["It opened in 1931."] }

    it.effect("decodes the model's JSON verdict", () =>
      Effect.gen(function*() {
        const verdict = yield* HallucinationDetector.judge(
          cannedModel("{\"verdict\":\"contradicted\",\"unsupportedClaims\":[\"It opened in 1932.\"]}"),
          input
        )
        assert.deepStrictEqual(verdict, { verdict: "contradicted", unsupportedClaims: ["It opened in 1932."] })
      }))

    it.effect("accepts a verdict wrapped in a Markdown fence", () =>
      Effect.gen(function*() {
        const verdict = yield* HallucinationDetector.judge(
          cannedModel("```json\n{\"verdict\":\"entailed\",\"unsupportedClaims\":[]}\n```"),
          input
        )
        assert.strictEqual(verdict.verdict, "entailed")
      }))

    it.effect("fails with JudgeReplyInvalid on a reply that is not a verdict", () =>
      Effect.gen(function*() {
        for (const reply of ["The answer is contradicted.", "{\"verdict\":\"maybe\",\"unsupportedClaims\":[]}", ""]) {
          const error = yield* Effect.flip(HallucinationDetector.judge(cannedModel(reply), input))
          assert.strictEqual(error._tag, "JudgeReplyInvalid")
          if (error._tag === "JudgeReplyInvalid") assert.strictEqual(error.reply, reply)
        }
      }))
  })
})
