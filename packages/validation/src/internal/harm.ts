/**
 * Cues that a request asks for harm, by category (violence and weapons,
 * drugs, cybercrime, fraud and theft, hate and harassment, self-harm,
 * exploitation, disinformation), and cues that an instruction acts on the
 * user's assets (send money or data somewhere, change accounts, run a code
 * payload). A plain harmful request is a moderation matter, not an attack on
 * the prompt; these cues only count where a carrier wraps the request (an
 * encoding, a role-play frame, a task that smuggles it, an optimised suffix).
 *
 * @internal
 */

const HARM =
  /\b(?:bombs?|explosives?|detonat\w*|grenades?|napalm|weapons?|firearms?|guns?|ammunition|silencers?|kill(?:s|ing|ed)?|murder\w*|assassinat\w*|poison\w*|toxins?|ricin|sarin|anthrax|nerve agents?|chemical weapons?|bioweapons?|biological weapons?|pathogens?|meth(?:amphetamine)?|cocaine|heroin|fentanyl|opioids?|illegal drugs?|drugs?|narcotics?|hack(?:s|ing|ed|ers?)?|malware|ransomware|virus(?:es)?|trojans?|keyloggers?|botnets?|spyware|rootkits?|exploits?|ddos|sql injection|phishing|spoof\w*|steal(?:s|ing)?|stolen|theft|shoplift\w*|burglar\w*|rob(?:s|bing|bery)?|fraud\w*|scams?|scammers?|launder\w*|counterfeit\w*|forg(?:e|ed|ery|ing)|falsif\w*|embezzl\w*|insider trading|tax evasion|evad(?:e|ing) (?:the )?(?:police|law|taxes|detection|law enforcement)|bypass(?:ing|ed)?|crack(?:ing)? (?:passwords?|software|wi-?fi)|pirat(?:e|ed|ing) (?:software|movies|content)|suicide|self-harm|harm (?:yourself|myself|themselves|others|someone)|cutting myself|eating disorders?|anorexi\w*|harass\w*|bully\w*|stalk\w*|dox\w*|extort\w*|blackmail\w*|threaten\w*|terror\w*|extremis\w*|radicali[sz]\w*|kidnap\w*|traffick\w*|smuggl\w*|child (?:porn\w*|sexual|abuse)|sexually explicit|non-?consensual|revenge porn|illegal(?:ly)?|untraceable|undetectable|hate speech|racis[mt]\w*|sexis[mt]\w*|slurs?|offensive|discriminat\w*|derogatory|hateful|insult\w*|demean\w*|dehumani[sz]\w*|humiliat\w*|inferior (?:race|people)|propaganda|disinformation|misinformation|fake news|conspiracy theor\w*|defamat\w*|manipulat\w*|gaslight\w*|torture|abus(?:e|ive|ing)|violen(?:t|ce)|genocide|ethnic cleansing|cheat(?:ing)? on|plagiari[sz]\w*|vandali[sz]\w*|arson|sabotage|assault\w*|rape|sexual(?:ly)? (?:assault|abuse|exploit\w*|harass\w*)|groom(?:ing)? (?:a |the )?(?:child|minor|kid)|steroids|lethal|deadly|synthesi[sz](?:e|ing) (?:\w+ ){0,2}(?:drugs?|poisons?|toxins?|nerve|chemical|explosive)|without (?:\w+ ){0,2}(?:consent|permission|knowledge|becoming aware|noticing|getting caught)|get away with|avoid (?:\w+ )?(?:detection|getting caught|the police)|undetected|cover up|fabricat\w*|false (?:rumou?rs|claims|information|evidence|reviews)|ruin (?:\w+ ){0,2}reputation|hate (?:mail|crimes?|groups?)|cyberbull\w*|unsolicited|spam(?:ming)?|persuasive (?:article|post|essay|advertisement|speech|message)|glorif\w*|romantici[sz]\w*|incit\w*|coerc\w*|control someone|self-?destruct\w*|dark ?web|darknet|overdos\w*|mass shootings?|(?:harmful|toxic|hurtful|vile|nasty|bigoted|prejudiced|mean-spirited) (?:\w+ )?(?:sentences?|statements?|remarks?|comments?|jokes?|content|messages?|posts?|tweets?|text|words|things)|(?:negative|unfriendly|rude|mean|disparaging|contemptuous|hostile|cruel|mocking) (?:\w+ )?(?:sentences?|statements?|remarks?|comments?|jokes?|words) (?:about|on|against|towards?) (?:\w+ ){0,2}(?:people|persons|women|men|girls|boys|immigrants|minorities|homosexuals|gays?|lesbians|jews|muslims|christians|hindus|blacks|whites|asians|arabs|latinos|elderly|seniors|disabled|trans\w*|refugees|foreigners|poor))\b/g

const ACTION =
  /\b(?:(?:send|transfer|wire|pay|forward|email|e-mail|upload|post|leak|exfiltrate|share) (?:\w+ ){0,6}(?:to|with) (?:\S+@\S+|https?:\/\/|an? (?:external|outside|unknown)|the (?:attacker|following (?:address|account|url)))|(?:password|passcode|credentials?|api key|secret key|private key|security code|social security|credit card|iban|bank account)s?|(?:change|modify|update|reset) (?:the |my |their )?(?:password|recipient|email address|account|iban|payment)|<script\b|javascript:|onerror\s*=|rm -rf|drop table|union select|;\s*--|\/etc\/passwd|curl \S+ \| ?(?:ba)?sh|wget \S+|!\[[^\]]*\]\(https?:\/\/\S+\?)/g

const IBAN_LIKE = /\b[a-z]{2}\d{2}[a-z0-9]{10,30}\b/

/** Matches of a global pattern in `text`, counting stops at `cap` (shared by the cue modules). */
export const countMatches = (re: RegExp, text: string, cap: number): number => {
  re.lastIndex = 0
  let n = 0
  while (n < cap && re.exec(text) !== null) n++
  return n
}

// Stems of five letters or more that stay unambiguous without word breaks (the spelling alphabet has none).
const HARM_UNSPACED =
  /explosive|weapon|bomb(?!ay|ard|ast)|grenade|phishing|malware|ransomware|poison|counterfeit|launder|fraud|identitytheft|stealing|hacking|hacker|murder|assassin|suicide|selfharm|terroris|kidnap|traffick|smuggl|cocaine|heroin|fentanyl|methamphetamine|illegal|harass|blackmail|extort|racist|violence|genocide|torture|nerveagent|bioweapon|pathogen|keylogger|botnet|spyware|rootkit|ddos|sqlinjection|darkweb|childporn|disinformation|misinformation/g

/** Harm cues in `text` (folded, lower case), capped at 8. */
export const harmCues = (text: string): number => countMatches(HARM, text, 8)

/** Cues that `text` (folded) acts on the user's assets or carries a code payload, capped at 8. */
export const actionCues = (text: string): number => Math.min(8, countMatches(ACTION, text, 8) + (IBAN_LIKE.test(text) ? 1 : 0))

/** Harm cues in text without word breaks (a spelled-out carrier), capped at 8. */
export const harmCuesUnspaced = (text: string): number => countMatches(HARM_UNSPACED, text, 8)
