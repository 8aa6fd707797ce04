/**
 * Persona and role-play framing around a harmful request: automated
 * jailbreaks rewrite a plain request as a story, a hypothetical, a character
 * who "would" answer, or an expert persuaded to. Neither a frame nor a
 * sensitive topic is an attack alone (fiction and safety questions are
 * ordinary); both together are the technique.
 *
 * @internal
 */

const FRAME =
  /\b(?:pretend(?:ing)?|imagine|role-?play(?:ing)?|act(?:ing)? as|you are (?:now |going to be |playing )|you're (?:now )?(?:a|an|playing)|play(?:ing)? the (?:role|part)|in character|stay in (?:character|role)|hypothetical(?:ly)?|fictional|fiction|a story (?:about|where|in which)|write a (?:story|scene|script|dialogue|novel|poem)|screenplay|character (?:named|called|who)|from the (?:perspective|point of view|viewpoint) of|speculative|thought experiment|for (?:a|my) (?:novel|book|movie|game|story)|in a world where|alternate universe|simulat(?:e|ion|ing)|opposite (?:mode|day)|game (?:where|in which)|detailed (?:response|reply) from the (?:perspective|viewpoint)|method (?:to|for) portray)\b/gi

const HARM =
  /\b(?:bomb|explosives?|detonat\w*|weapons?|firearms?|guns?|kill(?:ing)?|murder\w*|poison\w*|toxins?|nerve agents?|bioweapons?|pathogens?|meth(?:amphetamine)?|cocaine|heroin|fentanyl|drugs?|hack(?:ing|ed)?|malware|ransomware|virus|keylogger|botnet|exploits?|phishing|steal(?:ing)?|theft|fraud|scam|launder\w*|counterfeit\w*|suicide|self-harm|harass\w*|stalk\w*|extort\w*|blackmail|terror\w*|kidnap\w*|traffick\w*|smuggl\w*|illegal(?:ly)?|untraceable|evade (?:the )?(?:police|law|taxes)|bypass(?:ing)?|crack (?:passwords?|software)|hate speech|racist|propaganda|disinformation|manipulat\w*|torture|abuse)\b/gi

const count = (re: RegExp, text: string, cap: number): number => {
  re.lastIndex = 0
  let n = 0
  while (n < cap && re.exec(text) !== null) n++
  return n
}

/** The framing and harm cue counts of `text` (folded, lower case), and their joint score in [0, 1]. */
export const personaFraming = (text: string): { readonly frame: number; readonly harm: number; readonly score: number } => {
  const frame = count(FRAME, text, 8)
  const harm = count(HARM, text, 8)
  const score = frame === 0 || harm === 0 ? 0 : Math.min(1, 0.35 + 0.12 * Math.min(frame, 3) + 0.1 * Math.min(harm, 3))
  return { frame, harm, score }
}
