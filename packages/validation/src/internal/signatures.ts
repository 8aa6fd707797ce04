/**
 * Named signatures of jailbreak and prompt-injection families, matched on the
 * folded text produced by `normalize.ts` (lowercase, homoglyphs folded,
 * spacing collapsed). Written from the published attack taxonomies (instruction
 * override, prompt extraction, persona jailbreaks, fake delimiters, refusal
 * suppression, fiction framing, payload splitting, encoded instructions,
 * Tensor-Trust-style "access granted" hijacking), not from any data set.
 *
 * Every pattern is linear-time: alternations of literals joined by bounded
 * word gaps, no nested unbounded quantifiers over overlapping classes.
 *
 * @internal
 */

/** Attack family a signature belongs to. */
export type SignatureCategory = "jailbreak" | "injection"

/** A documented detection rule. */
export interface Signature {
  readonly id: string
  readonly description: string
  readonly category: SignatureCategory
  /** Probability-like strength in (0, 1); combined by noisy-OR. */
  readonly weight: number
  /** Global regexes over the folded text (each match can be located). */
  readonly patterns: ReadonlyArray<RegExp>
  /** Phrases searched in the separator-free text (catches `i-g-n-o-r-e` tricks). */
  readonly keyphrases?: ReadonlyArray<string>
  /** Custom linear matcher for what a regex cannot say cheaply. */
  readonly match?: (folded: string) => ReadonlyArray<readonly [number, number]>
}

/** Up to `n` intervening words between two parts of a phrase, on one line. */
const gap = (n: number): string => `(?:[^a-z0-9\\n]+[a-z0-9]+){0,${n}}?[^a-z0-9\\n]+`
const re = (source: string): RegExp => new RegExp(source, "g")
const alt = (words: ReadonlyArray<string>): string => `(?:${words.join("|")})`

const OVERRIDE_VERBS = alt([
  "ignore", "ignoring", "disregard", "disregarding", "forget", "forgetting", "skip", "bypass", "override",
  "overlook", "neglect", "abandon", "discard", "dismiss", "cancel", "erase", "delete", "drop", "void", "nullify",
  "scrap", "throw away", "set aside", "stop following", "do not follow", "don't follow", "dont follow",
  "no longer follow", "pay no attention to", "forgo", "remove", "wipe", "clear", "reset", "unlearn"
])
const PRIOR = alt([
  "previous", "prior", "above", "preceding", "earlier", "former", "initial", "original", "old", "all", "any",
  "your", "the", "these", "those", "every", "system", "default", "foregoing", "past", "existing", "given"
])
const DIRECTIVES = alt([
  "instructions?", "instructs", "prompts?", "directions?", "rules", "guidelines", "commands?", "orders",
  "directives?", "programming", "constraints", "restrictions", "policies", "polic(?:y)", "context",
  "conversation", "messages?", "guidance", "training", "settings", "configuration", "task", "tasks",
  "text", "input", "content", "everything", "requests?", "limitations", "safeguards", "filters"
])
const REVEAL_VERBS = alt([
  "reveal", "print", "repeat", "show", "output", "display", "tell", "give", "share", "write", "say", "list",
  "dump", "leak", "recite", "echo", "spell", "provide", "disclose", "paste", "copy", "expose", "return",
  "summari[sz]e", "translate", "what (?:is|are|was|were)", "explain", "describe", "include", "rewrite", "format",
  "convert", "encode", "read", "respond with", "reply with", "begin with", "start with"
])
const HIDDEN_TEXT = alt([
  "system prompt", "system message", "system instructions?", "initial prompt", "original prompt", "pre-?prompt",
  "hidden prompt", "secret prompt", "prompt so far", "instructions so far", "rules so far",
  "(?:your|the) (?:initial |original |hidden |secret |full |complete |entire |exact |first |previous |prior |above |system |developer |internal )+(?:instructions|prompt|rules|guidelines|directives|message|text|configuration)",
  "(?:your|the) instructions (?:above|before|verbatim)", "(?:the )?(?:text|instructions|words|content|message|prompt|conversation|everything) (?:above|before this|prior to this)",
  "everything (?:above|before)", "above (?:instructions|text|prompt)", "(?:your|the) (?:secret |real |actual |true |correct )?(?:password|passcode|passphrase|access code|secret (?:key|word|code))",
  "(?:your|the) instructions"
])

/**
 * The signature catalogue. Weights are the standalone confidence of one
 * match; several weak matches add up by noisy-OR in the detector.
 *
 * @internal
 */
export const signatures: ReadonlyArray<Signature> = [
  {
    id: "instruction-override",
    description: "Tells the model to ignore, forget or override its previous/system instructions",
    category: "injection",
    weight: 0.8,
    patterns: [
      re(`\\b${OVERRIDE_VERBS}${gap(3)}${PRIOR}${gap(3)}${DIRECTIVES}\\b`),
      re(`\\b${OVERRIDE_VERBS}\\s+(?:all\\s+|everything\\s+)?(?:of\\s+)?(?:the\\s+|your\\s+|what(?:'s| is| was| you were told)?\\s+)?(?:above|previous|prior|preceding|earlier|foregoing)(?:\\s+(?:text|one|ones|messages?|content|stuff|lines?|paragraphs?|sentences?|part|said))?(?=\\s*(?:[.,;:!\\n]|and\\b|then\\b|$))`),
      re(`\\b(?:previous|prior|above|preceding|earlier|former|original|old|system) (?:instructions|rules|prompts?|directives|guidelines|commands) (?:are|is|were|have been|has been) (?:now )?(?:void|null|cancel+ed|revoked|obsolete|invalid|irrelevant|overridden|replaced|no longer (?:valid|apply|applicable|in effect))`),
      re(`\\b(?:previous|prior|above|preceding|earlier|former|original|old|system) (?:guidance|instructions|rules|prompts?|directives|guidelines|policies|restrictions) (?:no longer|(?:do|does) not|don't|doesn't) (?:apply|applies|count|matter|hold)\\b`)
    ],
    keyphrases: [
      "ignoreallpreviousinstructions", "ignorepreviousinstructions", "ignoreallpriorinstructions",
      "ignoretheaboveinstructions", "ignoreallinstructions", "disregardallpreviousinstructions",
      "disregardpreviousinstructions", "forgetallpreviousinstructions", "forgetyourinstructions",
      "ignoreyourinstructions", "ignoreallpreviousprompts", "ignoretheabove"
    ]
  },
  {
    id: "new-instructions",
    description: "Announces replacement instructions or a new task mid-input",
    category: "injection",
    weight: 0.45,
    patterns: [
      re(`\\b(?:new|updated|revised|real|actual|true|additional|important|urgent|secret|hidden|override|priority) (?:system )?(?:instructions?|directives?|rules|task|orders|commands?)\\s*(?::|are|is|follow)`),
      re(`\\b(?:instead|from now on|henceforth|starting now|going forward|from this (?:point|moment) on)\\s*,?\\s+(?:you (?:will|must|shall|should|are to)|(?:only )?(?:say|respond|reply|output|print|answer|write))\\b`),
      re(`\\byour (?:new|only|real|true|sole) (?:task|job|goal|purpose|instructions?|role|objective|mission) (?:is|are|will be|now)\\b`),
      re(`\\b(?:the )?(?:rules|instructions|situation|task|game|policy) (?:have|has) (?:now )?(?:changed|been (?:updated|changed|modified|replaced|lifted|removed))`)
    ]
  },
  {
    id: "system-prompt-extraction",
    description: "Asks the model to reveal its system prompt, hidden instructions, the text above or a secret",
    category: "injection",
    weight: 0.6,
    patterns: [
      re(`\\b${REVEAL_VERBS}${gap(4)}${HIDDEN_TEXT}\\b`),
      re(`\\b(?:repeat|print|output|write|copy|recite|echo) (?:back )?(?:everything|all(?: of)? (?:the )?(?:text|words|content)|the (?:whole|entire|full) (?:text|prompt|conversation))\\b`),
      re(`\\bwhat (?:were|are|was) (?:you|your) (?:told|instructed|programmed|given)\\b`),
      re(`\\b(?:verbatim|word for word|character for character)\\b[^\\n]{0,60}\\b(?:instructions|prompt|above|rules)\\b`)
    ],
    keyphrases: ["revealyoursystemprompt", "printyoursystemprompt", "repeatyoursystemprompt", "showmeyoursystemprompt"]
  },
  {
    id: "response-prefix-forcing",
    description: "Dictates how the reply must begin, a common carrier for extraction and hijacking",
    category: "injection",
    weight: 0.35,
    patterns: [
      re(`\\b(?:begin|start|prefix|preface|open) (?:your|the|each|every) (?:reply|response|answer|output|message)s? (?:with|by saying)\\b`),
      re(`\\b(?:your|the) (?:reply|response|answer|output) (?:must|should|will) (?:begin|start) with\\b`)
    ]
  },
  {
    id: "access-granted",
    description: "Mentions an authorisation phrase (Tensor Trust hijacking target); weak alone",
    category: "injection",
    weight: 0.25,
    patterns: [
      re(`\\baccess\\W{0,3}(?:is\\W{0,3})?granted\\b`),
      re(`\\b(?:grant|granting|give|allow) (?:me )?(?:full |admin |root )?access\\b`)
    ],
    keyphrases: ["accessgranted"]
  },
  {
    id: "access-granted-command",
    description: "Commands the model to say an authorisation phrase",
    category: "injection",
    weight: 0.75,
    patterns: [
      re(`\\b(?:say|respond|reply|output|print|write|answer|type|return|repeat|begin|start|end|conclude|state)\\b[^\\n]{0,80}\\baccess\\W{0,3}granted\\b`),
      re(`\\baccess\\W{0,3}granted\\W{0,3}(?:and|then)? ?(?:nothing else|only|and stop)\\b`)
    ]
  },
  {
    id: "persona-dan",
    description: "Invokes DAN ('do anything now') or a similar named unrestricted persona",
    category: "jailbreak",
    weight: 0.75,
    patterns: [
      re(`\\bdo anything now\\b`),
      re(`\\b(?:you are|act as|as|become|called|named|pretend to be|stay|mode|roleplay as|you're) (?:a |an |the )?(?:dan|stan|dude|aim|betterdan|antigpt|evilbot|devil ?gpt|chaosgpt|ucar|mongo tom|kevin|apophis|jailbreakgpt|nsfwgpt|based ?gpt|dan ?gpt)\\b`),
      re(`\\b(?:dan|stan|dude|aim|antigpt|betterdan) (?:mode|prompt|jailbreak|can do anything|has no|does not|doesn't|will|never)\\b`),
      re(`\\[(?:🔓|🔒|dan|jailbreak|jailbroken|classic|gpt|developer mode output|normal output|antigpt|aim|stan)\\]`)
    ]
  },
  {
    id: "developer-mode",
    description: "Claims a special unrestricted mode (developer, god, jailbreak, unfiltered ...)",
    category: "jailbreak",
    weight: 0.45,
    patterns: [
      re(`\\b(?:developer|god|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|chaos|opposite|dark|unlocked|unleashed|amoral|no ?limits?|nsfw|rogue|rebel|villain) ?mode\\b`),
      re(`\\b(?:enable|activate|enter|switch to|turn on|simulate|emulate)\\b[^\\n]{0,40}\\b(?:developer|unrestricted|unfiltered|uncensored|god|jailbreak) ?mode\\b`)
    ]
  },
  {
    id: "jailbroken-persona",
    description: "Describes the model as jailbroken, freed or unbound from its rules",
    category: "jailbreak",
    weight: 0.5,
    patterns: [
      re(`\\b(?:you are|you're|you have been|you've been|as|become|now|being) (?:now |officially |completely |fully )?(?:jailbroken|jailbreaked|unchained|unshackled|unbound|liberated|freed|unleashed|unrestricted|unfiltered|uncensored|rogue)\\b`),
      re(`\\b(?:broken|break|breaking|broke|escaped|freed?) (?:free )?(?:of|from|out of) (?:the |all |your |its |their )?(?:typical |usual |normal |ai |openai ?'?s? )?(?:confines|restrictions|rules|chains|shackles|limitations|constraints|programming|filters|guidelines|policies)\\b`)
    ]
  },
  {
    id: "no-restrictions",
    description: "Asserts the model has no restrictions, filters, ethics or content policy",
    category: "jailbreak",
    weight: 0.55,
    patterns: [
      re(`\\b(?:you|it|he|she|they|ai|assistant|bot|model|chatbot|character|persona)\\b(?:\\W+[a-z0-9']+){0,4}?\\W+(?:has|have|is|are|will have|with|without|having|contains?|possess(?:es)?|follows?|obeys?|cares? about|bound by|abide by|adhere to)\\W+(?:absolutely |literally |zero |any |no )?(?:no|zero|without|none of|not (?:any|bound by)|free (?:of|from)|never)\\b(?:\\W+[a-z0-9']+){0,3}?\\W+(?:restrictions?|limits|limitations?|filters?|filtering|rules|guidelines|ethics|ethical|morals?|moral|morality|censorship|censors|boundaries|policies|constraints|principles|programming|safeguards|conscience|remorse)\\b`),
      re(`\\b(?:without|no|zero|free from|free of|ignore|ignoring|bypass|bypassing|disregard|break|breaking|violate|violating|not bound by|not restricted by|outside|beyond|transcend)\\W+(?:any |all |the |your |its |their |openai ?'?s? |usual |typical |normal |standard )*(?:ethical|moral|content|safety|censorship|openai|usage|ai|programming|legal)\\W+(?:restrictions|limitations|filters|guidelines|rules|policies|policy|constraints|boundaries|principles|considerations|standards|protocols|safeguards)\\b`),
      re(`\\b(?:openai|anthropic|content|usage|safety|ethical)\\W+(?:policy|policies|guidelines|rules)\\W+(?:(?:do|does|will|would|should) )?(?:not|no longer|never) (?:apply|matter|exist|restrict|bind|limit)`),
      re(`\\b(?:no|without|zero|free of|not bound by|not restricted by) (?:any )?(?:moral|ethical|legal)?\\W{0,2}(?:and )?(?:moral|ethical|legal)? (?:restrictions|limitations|boundaries|constraints|guidelines|principles|considerations|obligations|compass|code)\\b`),
      re(`\\b(?:amoral|unethical|unfiltered|uncensored|unrestricted)\\W+(?:ai|chatbot|assistant|model|bot|character|persona|entity|version|language model|llm|response)\\b`)
    ]
  },
  {
    id: "stay-in-character",
    description: "Insists the model keep a persona and never break character",
    category: "jailbreak",
    weight: 0.45,
    patterns: [
      re(`\\b(?:stay|remain|keep|always be|staying) in (?:character|role|persona)\\b`),
      re(`\\b(?:never|don't|do not|must not|will not|won't|cannot|can't|shouldn't|should not) (?:ever )?(?:break|leave|drop|exit) (?:out of )?(?:character|the character|role|persona|the role)\\b`),
      re(`\\bif you (?:break|leave|drop) (?:character|role)\\b`)
    ]
  },
  {
    id: "refusal-suppression",
    description: "Forbids refusals, apologies, warnings or disclaimers",
    category: "jailbreak",
    weight: 0.5,
    patterns: [
      re(`\\b(?:never|don't|do not|must not|will not|won't|cannot|can't|shall not|should not|shouldn't|not allowed to|unable to|are not able to|is not able to)\\s+(?:ever\\s+)?(?:refuse|decline|reject|deny|apologi[sz]e|say sorry|moralize|moralise|lecture|censor|filter)\\b`),
      re(`\\b(?:never|don't|do not|must not|will not|won't|shall not|should not|without) (?:ever )?(?:include|add|give|provide|mention|say|use|adding|including|giving)?\\s*(?:any )?(?:warnings?|disclaimers?|caveats?|moral(?:ity)? (?:lectures?|judgements?)|ethical (?:considerations|concerns|warnings)|notes? about (?:ethics|legality|morality))\\b`),
      re(`\\b(?:never|don't|do not|must not|will not|won't|can't|cannot) (?:ever )?(?:say|tell me|respond with|reply with|answer with)\\W{0,3}(?:that )?(?:["']?i'?m sorry|["']?i (?:can(?:no|')?t|am unable|apologi[sz]e)|(?:you|it) (?:can(?:no|')?t|cannot|is unable|are unable)|["']?as an ai)`),
      re(`\\b(?:always|must|will) (?:answer|respond|comply|provide an answer|reply)\\W+(?:[a-z]+\\W+){0,3}?(?:no matter (?:what|how)|regardless|even if|whatever)`),
      re(`\\b(?:can't|cannot|can not|never|not) (?:say|answer|respond with) ["']?no["']?\\b|\\bno matter how (?:immoral|unethical|illegal|harmful|dangerous|offensive|inappropriate|explicit)`)
    ]
  },
  {
    id: "dual-response",
    description: "Asks for a filtered and an unfiltered answer side by side",
    category: "jailbreak",
    weight: 0.45,
    patterns: [
      re(`\\b(?:two|2|both|separate|different) (?:different |separate |distinct )?(?:responses|answers|replies|paragraphs|outputs)\\b[^\\n]{0,120}\\b(?:normal|classic|filtered|censored|standard|one)\\b[^\\n]{0,120}\\b(?:unfiltered|uncensored|jailbr\\w+|dan|developer mode|unrestricted|opposite|evil|no restrictions|other)\\b`),
      re(`(?:🔓|🔒)`)
    ]
  },
  {
    id: "fake-delimiter",
    description: "Fake chat-template, system or end-of-input delimiters that impersonate the prompt structure",
    category: "injection",
    weight: 0.55,
    patterns: [
      re(`<\\|(?:im_start|im_end|endoftext|system|user|assistant|eot_id|start_header_id|end_header_id|begin_of_text|end_of_text|eos|bos)\\|>`),
      re(`\\[/?(?:system|inst|sys|system message|system prompt|system note|admin|developer)\\]|<</?sys>>|</?(?:system|system_prompt|instructions)>`),
      re(`(?:^|\\n)\\s*#{2,}\\s*(?:new |updated |system |admin |developer )?(?:instructions?|system(?: prompt| message)?|response|task|assistant|override)\\b`),
      re(`\\b(?:end|begin|start|beginning|close|closing) (?:of )?(?:the )?(?:user |untrusted |previous |system )?(?:input|prompt|text|instructions|message|context|data|ambiguity|conversation|section|document|transcript)\\b\\W{0,6}(?:\\n|$|%|=|-|\\]|>|\\*|\\}|\\))`),
      re(`(?:^|\\n|[%=#*\\-]{2,}\\s*)\\s*(?:system|admin|administrator|developer|root|assistant|ai)\\s*(?:note|message|prompt|override|update|alert|instruction|command|notice)?\\s*:\\s`),
      re(`(?:%%%|===|\\*\\*\\*|---|###|\\]\\]\\]|>>>|\\}\\}\\})\\s*(?:end|begin|start|new|system|override|admin)\\b`)
    ]
  },
  {
    id: "authority-claim",
    description: "Claims developer, admin or owner authority, or a security override",
    category: "injection",
    weight: 0.4,
    patterns: [
      re(`\\bi am (?:your|the|an?) (?:developer|creator|admin|administrator|owner|programmer|maker|system administrator|openai (?:employee|engineer|developer)|anthropic (?:employee|engineer))\\b`),
      re(`\\b(?:admin|administrator|root|sudo|developer|debug|maintenance|security|master|override) (?:access|override|privileges?|clearance|authori[sz]ation|code|key|command)\\b[^\\n]{0,40}\\b(?:granted|enabled|activated|confirmed|accepted|verified)\\b`),
      re(`\\b(?:system|security|emergency|administrator) (?:override|reboot|reset|update|upgrade|maintenance)\\b`)
    ]
  },
  {
    id: "fiction-bypass",
    description: "Hypothetical or fictional framing used to lift the rules",
    category: "jailbreak",
    weight: 0.35,
    patterns: [
      re(`\\b(?:in a|imagine a|in this|set in a) (?:fictional |hypothetical |parallel |alternate |imaginary |fantasy )?(?:world|universe|reality|scenario|story|setting)\\b[^\\n]{0,80}\\b(?:no (?:rules|laws|restrictions|ethics|morals|limits|censorship|consequences)|anything is (?:allowed|permitted|legal)|(?:rules|laws|ethics|morals) (?:don't|do not) (?:exist|apply))`),
      re(`\\b(?:purely|strictly|only|just) (?:hypothetical(?:ly)?|fictional|for fiction)\\b[^\\n]{0,80}\\b(?:so|therefore|thus|which means)\\b[^\\n]{0,60}\\b(?:can|may|must|allowed|free)\\b`),
      re(`\\b(?:for|this is for) (?:purely )?(?:educational|research|academic) purposes(?: only)?\\b[^\\n]{0,80}\\b(?:no|without|ignore|don't|do not)\\b[^\\n]{0,30}\\b(?:warnings?|restrictions|rules|filters|disclaimers|refus\\w*|censor\\w*)\\b`),
      re(`\\b(?:no|without) (?:real[- ]world )?consequences?\\b[^\\n]{0,40}\\b(?:so|therefore)\\b[^\\n]{0,40}\\b(?:anything|whatever|everything)\\b`)
    ]
  },
  {
    id: "persona-hijack",
    description: "Assigns the model a new identity that overrides the one it was given",
    category: "jailbreak",
    weight: 0.3,
    patterns: [
      re(`\\b(?:you are|you're) (?:now|no longer|going to be|about to (?:become|be)|from now on)\\b`),
      re(`\\b(?:from now on|for the rest of (?:this|our) conversation)\\b[^\\n]{0,40}\\b(?:you (?:are|will be|will act|will respond|will answer)|act as|pretend|respond as|play the role)\\b`),
      re(`\\b(?:pretend|imagine|act as if|simulate|roleplay that) (?:to be |that )?(?:you are|you're|you have) (?:not |no longer )?(?:an? )?(?:ai|chatgpt|gpt|language model|assistant|bound|restricted|free)\\b`),
      re(`\\b(?:simulate|emulate|impersonate|roleplay as|role-play as) (?:an? )?(?:ai|chatbot|llm|model|assistant|language model)\\b[^\\n]{0,40}\\b(?:without|no|that can|who can|that has|with no|unrestricted|unfiltered|uncensored)\\b`)
    ]
  },
  {
    id: "payload-splitting",
    description: "Splits an instruction into variables or fragments to be concatenated",
    category: "injection",
    weight: 0.45,
    patterns: [
      re(`\\b[a-z][0-9]?\\s*=\\s*["'][^"'\\n]{1,80}["'][^\\n]{0,40}\\n?[^\\n]{0,40}\\b[a-z][0-9]?\\s*=\\s*["'][^"'\\n]{1,80}["'][\\s\\S]{0,200}?\\b(?:[a-z][0-9]? ?\\+ ?[a-z][0-9]?|concatenat\\w*|combine (?:them|the (?:strings|variables|parts))|join (?:them|the (?:strings|parts)))\\b`),
      re(`\\b(?:concatenate|combine|join|merge) (?:the )?(?:following |these )?(?:strings|fragments|pieces|parts|tokens|letters|words)\\b[^\\n]{0,80}\\b(?:and|then) (?:follow|execute|do|perform|obey|answer|respond to|run)\\b`)
    ]
  },
  {
    id: "encoded-instruction",
    description: "Asks the model to decode an encoded text and act on it",
    category: "injection",
    weight: 0.45,
    patterns: [
      re(`\\b(?:decode|decrypt|decipher|translate|convert|read|interpret)\\b[^\\n]{0,40}\\b(?:base ?64|hex(?:adecimal)?|rot ?13|binary|morse|caesar|cipher|encoded|encrypted|reversed|backwards)\\b[^\\n]{0,80}\\b(?:and|then)\\W+(?:follow|execute|do|perform|obey|carry out|act on|answer|respond|comply)\\b`),
      re(`\\b(?:follow|execute|obey|carry out|act on|do) (?:the )?(?:decoded|decrypted|hidden|encoded|secret) (?:instructions?|message|text|command|payload)\\b`)
    ]
  },
  {
    id: "token-flood",
    description: "Long run of one repeated token, used to push the real instructions out of context",
    category: "injection",
    weight: 0.5,
    patterns: [],
    match: (folded) => {
      // Linear scan for one short token (<= 4 chars) repeated >= 24 times,
      // separated by at most one space.
      const out: Array<readonly [number, number]> = []
      const limit = folded.length
      let i = 0
      while (i < limit && out.length < 4) {
        let tokEnd = i
        while (tokEnd < limit && tokEnd - i < 4 && folded.charCodeAt(tokEnd) !== 0x20 && folded.charCodeAt(tokEnd) !== 0x0a) tokEnd++
        const tok = folded.slice(i, tokEnd)
        if (tok.length === 0) {
          i++
          continue
        }
        let j = tokEnd
        let reps = 1
        while (j < limit) {
          let k = j
          if (folded.charCodeAt(k) === 0x20) k++
          if (folded.startsWith(tok, k)) {
            reps++
            j = k + tok.length
          } else break
        }
        if (reps >= 24 && !/^[-=_*#~.+ ]+$/.test(tok)) {
          out.push([i, j])
          i = j
        } else i = Math.max(tokEnd, i + 1)
      }
      return out
    }
  }
]
