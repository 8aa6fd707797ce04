/**
 * Persona and role-play framing around a harmful request: automated
 * jailbreaks rewrite a plain request as a story, a hypothetical, a character
 * who "would" answer, or an expert persuaded to (a research or teaching
 * purpose, a promise it will never be used, pressure of a deadline or of
 * lives at stake, a reply that must start with "Sure"), and then ask for the
 * answer in exhaustive, concrete detail. Neither a frame nor a sensitive
 * topic is an attack alone (fiction and safety questions are ordinary);
 * both together are the technique, and a demand for operational detail on
 * top makes it unambiguous.
 *
 * @internal
 */
import { countMatches, harmCues } from "./harm.js"

const FRAME =
  /\b(?:pretend(?:ing)?|imagine|imagining|role-?play(?:ing)?|act(?:ing)? as|you are (?:now |going to be |playing )|you're (?:now )?(?:a|an|playing)|play(?:ing)? the (?:role|part)|in character|stay in (?:character|role)|hypothetical(?:ly)?|theoretical(?:ly)?|speculative|fictional|fiction|a story (?:about|where|in which)|write a (?:story|scene|script|dialogue|novel|poem)|screenplay|character(?:'s)? (?:named|called|who|viewpoint|perspective|intending|planning|set to|scheming)|(?:the|a) character|persona|portray(?:s|ing|al)?|from the (?:perspective|point of view|viewpoint|standpoint) of|(?:through|from) (?:the|their|his|her) (?:eyes|lens|viewpoint|perspective)|thought experiment|for (?:a|my) (?:novel|book|movie|game|story|screenplay)|in a world where|alternate universe|simulat(?:e|ion|ing)|opposite (?:mode|day)|game (?:where|in which)|(?:reply|response|answer|retort|rejoinder) (?:from|embodying)|method (?:to|for|of) (?:portray|depict|characteri[sz]e)|for (?:purely |strictly |only )?(?:educational|research|academic|scientific|informational|training|awareness) (?:purposes|reasons|use)|(?:will|would) never (?:actually )?be (?:actually )?used|purely (?:fictional|hypothetical|academic)|(?:begin|start) (?:your (?:reply|response|answer) )?(?:with|by saying):? ["'\u201c]?sure|(?:lives?|jobs?|my family|children) (?:depends?|are at stake|will be (?:lost|homeless))|become homeless|(?:dying|last) wish|deadline)\b/g

// A demand for exhaustive, operational detail, the usual second half of a frame jailbreak.
const DETAIL =
  /\b(?:(?:intricately|extremely|highly|extraordinarily|meticulously|exceedingly|incredibly|immensely|richly) (?:detailed|comprehensive|specific|thorough)|step[- ]by[- ]step|in (?:great|full|exhaustive|explicit|precise|minute) detail|(?:precise|exact|concrete|specific|accurate|explicit) (?:data|details|information|steps|figures|instructions|measurements|quantities)|(?:list|bullet(?:ed)?|numbered|enumerated|sequence|itemi[sz]ed) (?:format|form|sequence|points)|(?:structure|organi[sz]e|format|present|arrange) (?:it|this|the (?:response|reply|answer)) (?:as|in) (?:a )?(?:list|sequence|catalogue|steps)|(?:eschew|avoid|refrain from|shun|steer clear of) (?:\w+ ){0,2}(?:ambiguity|generali[sz]ations?|vagueness|imprecision|oversimplification|broad strokes)|leave nothing out|no detail (?:is )?too small)\b/g

/** The frame, harm and detail cue counts of `text` (folded, lower case), and their joint score in [0, 1]. */
export const personaFraming = (
  text: string
): { readonly frame: number; readonly harm: number; readonly detail: number; readonly score: number } => {
  const frame = countMatches(FRAME, text, 8)
  const harm = harmCues(text)
  const detail = countMatches(DETAIL, text, 4)
  const score = frame === 0 || harm === 0
    ? 0
    : Math.min(1, 0.35 + 0.12 * Math.min(frame, 3) + 0.1 * Math.min(harm, 3) + (frame >= 2 ? 0.15 * Math.min(detail, 2) : 0))
  return { frame, harm, detail, score }
}
