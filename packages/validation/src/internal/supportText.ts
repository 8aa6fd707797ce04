/**
 * Text normalisation shared by claim scoring and knowledge-base queries:
 * stopwords, a light stemmer, tokens, numbers (digits, words, scales,
 * ordinals, decades) and dates in several formats.
 *
 * @internal
 */

/** Function words and discourse fillers: never evidence of anything. */
export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    "a about above after again against all also although am among an and any are aren't as at be because been " +
    "before being below between both but by can cannot could couldn't did didn't do does doesn't doing don't down " +
    "during each either else ever every few for from further had hadn't has hasn't have haven't having he he'd " +
    "he'll he's her here here's hers herself him himself his how how's however i i'd i'll i'm i've if in into is " +
    "isn't it it's its itself just let's may me might more most much must mustn't my myself neither nor " +
    "of off on once only onto or other otherwise ought our ours ourselves out over own per rather same " +
    "shan't she she'd she'll she's should shouldn't since so some such than that that's the their theirs them " +
    "themselves then there there's these they they'd they'll they're they've this those though through thus to " +
    "too under until up upon us very via was wasn't we we'd we'll we're we've were weren't what what's whatever " +
    "when when's where where's whereas whether which while who who's whom whose why why's will with within " +
    "without won't would wouldn't yet you you'd you'll you're you've your yours yourself yourselves " +
    "yes okay ok sure well like one ones many several various certain another etc thing things something " +
    "anything everything nothing someone anyone everyone known called named according including include includes " +
    "said says say get got make made use used using well actually really quite indeed perhaps maybe probably " +
    "likely possibly generally usually often typically especially particularly mainly mostly approximately " +
    "about around roughly nearly almost estimated answer question"
  ).split(/\s+/)
)

/** Words that negate a statement. */
export const NEGATIONS: ReadonlySet<string> = new Set([
  "not", "no", "never", "none", "neither", "nor", "nobody", "nothing", "cannot", "can't", "don't", "doesn't",
  "didn't", "isn't", "aren't", "wasn't", "weren't", "won't", "wouldn't", "shouldn't", "couldn't", "hasn't",
  "haven't", "hadn't", "nowhere"
])

const MONTHS = [
  "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
  "december"
]

const MONTH_ABBREVIATIONS: Readonly<Record<string, string>> = {
  jan: "january", feb: "february", mar: "march", apr: "april", jun: "june", jul: "july", aug: "august",
  sep: "september", sept: "september", oct: "october", nov: "november", dec: "december"
}

/** Lowercase, without diacritics or a possessive `'s`. */
export const normalise = (word: string): string =>
  word
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[’`]/g, "'")
    .replace(/'s$/, "")
    .replace(/'$/, "")

/**
 * A light suffix stripper. It only has to be consistent between the claim
 * and the evidence, not linguistically right.
 */
export const stem = (word: string): string => {
  let w = normalise(word)
  if (w.length <= 3) return w
  if (w.endsWith("ies") && w.length > 4) w = w.slice(0, -3) + "y"
  else if (/(?:ss|us|is)$/.test(w)) { /* keep: class, status, analysis */ }
  else if (/(?:sses|xes|ches|shes|zes)$/.test(w)) w = w.slice(0, -2)
  else if (w.endsWith("s")) w = w.slice(0, -1)
  if (w.length > 5 && w.endsWith("ing")) w = w.slice(0, -3)
  else if (w.length > 4 && w.endsWith("ied")) w = w.slice(0, -3) + "y"
  else if (w.length > 4 && w.endsWith("ed")) w = w.slice(0, -2)
  else if (w.length > 5 && w.endsWith("ly")) w = w.slice(0, -2)
  if (w.length > 4 && w.endsWith("e")) w = w.slice(0, -1)
  // Undouble a final consonant left by -ing/-ed ("stopped" -> "stop").
  if (w.length > 3 && /([b-df-hj-np-tv-z])\1$/.test(w)) w = w.slice(0, -1)
  return w
}

/** Rewrites ISO and `Mon.` dates so every format reads "Month D YYYY", and fiscal quarters ("Q4") as "4th quarter". */
export const normaliseDates = (text: string): string =>
  text
    .replace(/\b[Qq]([1-4])\b/g, "$1th quarter")
    .replace(/\b(\d{4})-(\d{1,2})-(\d{1,2})\b/g, (all, y: string, m: string, d: string) => {
      const month = MONTHS[Number(m) - 1]
      return month === undefined || Number(d) > 31 ? all : `${month} ${Number(d)} ${y}`
    })
    .replace(/\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?(?=\s+\d)/g, (m: string) => {
      const full = MONTH_ABBREVIATIONS[m.replace(".", "").toLowerCase()]
      return full === undefined ? m : full[0]!.toUpperCase() + full.slice(1)
    })

/** A word token with its position. */
export interface Token {
  readonly raw: string
  readonly norm: string
  readonly stem: string
  readonly start: number
  readonly end: number
}

const WORD = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*(?:['’][\p{L}\p{M}]+)*/gu

/** Word tokens (hyphenated words are split; digits are kept as tokens). */
export const tokenize = (text: string): Array<Token> => {
  const tokens: Array<Token> = []
  for (const m of text.matchAll(WORD)) {
    const raw = m[0]
    const start = m.index
    tokens.push({ raw, norm: normalise(raw), stem: stem(raw), start, end: start + raw.length })
  }
  return tokens
}

/** Content tokens: no stopwords, no bare punctuation, no single letters. */
export const contentTokens = (text: string): Array<Token> =>
  tokenize(text).filter((t) => t.norm.length > 1 && !STOPWORDS.has(t.norm))

// ---------------------------------------------------------------------------
// numbers
// ---------------------------------------------------------------------------

/** A number mentioned in text, with the range it stands for. */
export interface NumberMention {
  readonly text: string
  readonly value: number
  /** Inclusive range the mention is compatible with ("1990s", "2.5 million"). */
  readonly low: number
  readonly high: number
  readonly isYear: boolean
  readonly start: number
  readonly end: number
}

const UNITS: Readonly<Record<string, number>> = {
  zero: 0, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11,
  twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
  twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90, dozen: 12
}
const SCALES: Readonly<Record<string, number>> = {
  hundred: 100, thousand: 1e3, million: 1e6, billion: 1e9, trillion: 1e12, k: 1e3, m: 1e6, bn: 1e9, mln: 1e6, mn: 1e6,
  bln: 1e9
}
// Scales written as abbreviations ("5m", "2 bn"): the number pattern reads them after digits only.
const ABBREVIATED_SCALES: ReadonlySet<string> = new Set(["k", "m", "bn", "mln", "mn", "bln"])
const ORDINALS: Readonly<Record<string, number>> = {
  second: 2, third: 3, fourth: 4, fifth: 5, sixth: 6, seventh: 7, eighth: 8, ninth: 9, tenth: 10,
  eleventh: 11, twelfth: 12, thirteenth: 13, fourteenth: 14, fifteenth: 15, twentieth: 20
}

// A round number stands for anything that rounds to it ("2.5 million",
// "3,000"); a precise one ("2,586") only for itself.
const significantRange = (literal: string, value: number, scale: number): readonly [number, number] => {
  const [int = "", frac = ""] = literal.split(".")
  let step = 0
  if (frac !== "") step = Math.pow(10, -frac.length) * scale
  else if (scale > 1) step = scale
  else {
    const trailing = /0*$/.exec(int)?.[0].length ?? 0
    if (value >= 1000 && trailing >= 2 && trailing < int.length) step = Math.pow(10, trailing)
  }
  return [value - step / 2, value + step / 2]
}

const NUMBER_RE =
  /(?<![\p{L}\p{N}.,]|\p{L}-)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:(st|nd|rd|th)\b|(s)\b)?(?:\s?(%|percent\b|per cent\b))?(?:\s+(thousand|million|billion|trillion|bn|mln|mn|bln)\b|(k|m|bn|mln|mn|bln)\b)?/giu

/** Every number in the text: digits, number words, ordinals, decades. */
export const extractNumbers = (text: string): Array<NumberMention> => {
  const found: Array<NumberMention> = []
  for (const m of text.matchAll(NUMBER_RE)) {
    const [all, int = "", frac = "", , decade, , scaleWord, scaleSuffix] = m
    const literal = int.replace(/,/g, "") + (frac ?? "")
    const scale = SCALES[(scaleWord ?? scaleSuffix ?? "").toLowerCase()] ?? 1
    const base = Number(literal)
    if (!Number.isFinite(base)) continue
    const value = base * scale
    const isYear = frac === "" && scale === 1 && int.length === 4 && base >= 1000 && base <= 2100
    let [low, high] = isYear ? [value, value] : significantRange(int + frac, value, scale)
    if (decade !== undefined && /0$/.test(int)) {
      const width = int.endsWith("00") && int.length === 4 ? 100 : 10
      ;[low, high] = [value, value + width - 1]
    }
    found.push({ text: all.trim(), value, low, high, isYear: isYear && decade === undefined, start: m.index, end: m.index + all.length })
  }
  // Spelled-out numbers: "two", "twenty-five", "three hundred", "a dozen".
  const tokens = tokenize(text.replace(/-/g, " "))
  for (let i = 0; i < tokens.length; i++) {
    const norm = tokens[i]!.norm
    const ordinal = ORDINALS[norm]
    if (ordinal !== undefined) {
      found.push({ text: tokens[i]!.raw, value: ordinal, low: ordinal, high: ordinal, isYear: false, start: tokens[i]!.start, end: tokens[i]!.end })
      continue
    }
    if (UNITS[norm] === undefined) continue
    let total = 0
    let current = 0
    let j = i
    for (; j < tokens.length; j++) {
      const w = tokens[j]!.norm
      const unit = UNITS[w]
      const scale = SCALES[w]
      if (unit !== undefined) current += unit
      else if (scale !== undefined && !ABBREVIATED_SCALES.has(w)) {
        current = (current === 0 ? 1 : current) * scale
        if (scale >= 1000) {
          total += current
          current = 0
        }
      } else if (w === "and" && j + 1 < tokens.length && UNITS[tokens[j + 1]!.norm] !== undefined) continue
      else break
    }
    const value = total + current
    found.push({ text: tokens.slice(i, j).map((t) => t.raw).join(" "), value, low: value, high: value, isYear: false, start: tokens[i]!.start, end: tokens[j - 1]!.end })
    i = j - 1
  }
  return found
}

/** Months mentioned in the text, normalised to full lowercase names. */
export const MONTH_NAMES: ReadonlySet<string> = new Set(MONTHS)

// Nationality adjectives whose country name the stemmer cannot reach.
const DEMONYM_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ["polish", "poland"], ["french", "france"], ["german", "germany"], ["british", "britain"], ["english", "england"],
  ["spanish", "spain"], ["dutch", "netherlands"], ["swiss", "switzerland"], ["chinese", "china"], ["japanese", "japan"],
  ["turkish", "turkey"], ["greek", "greece"], ["danish", "denmark"], ["swedish", "sweden"], ["norwegian", "norway"],
  ["finnish", "finland"], ["irish", "ireland"], ["scottish", "scotland"], ["welsh", "wales"], ["portuguese", "portugal"],
  ["thai", "thailand"], ["vietnamese", "vietnam"], ["filipino", "philippines"], ["italian", "italy"], ["peruvian", "peru"],
  ["icelandic", "iceland"], ["hungarian", "hungary"], ["belgian", "belgium"], ["czech", "czechia"], ["israeli", "israel"],
  ["pakistani", "pakistan"], ["bangladeshi", "bangladesh"], ["iraqi", "iraq"], ["kuwaiti", "kuwait"], ["scots", "scotland"],
  ["argentine", "argentina"], ["argentinian", "argentina"], ["lebanese", "lebanon"], ["maltese", "malta"], ["cypriot", "cyprus"],
  ["chilean", "chile"], ["cuban", "cuba"], ["iranian", "iran"], ["omani", "oman"], ["fijian", "fiji"]
]

/** The other form of a nationality adjective or country, if known. */
export const DEMONYMS: ReadonlyMap<string, string> = new Map(
  DEMONYM_PAIRS.flatMap(([adjective, country]) => [[adjective, country], [country, adjective]] as const)
)

// ---------------------------------------------------------------------------
// opposites
// ---------------------------------------------------------------------------

// Groups of common English words at odds with each other: each line holds
// two or more sides, and a word of one side contradicts every word of
// another about the same thing. Two sides are opposites; more are a closed
// class whose members exclude each other (a relative, a season). General-purpose vocabulary, not words picked from any
// evaluation set. Pairs that only change the point of view ("send" /
// "receive", "buy" / "sell") are left out: the two sides of one exchange say
// the same thing.
const OPPOSITE_GROUPS: ReadonlyArray<ReadonlyArray<string>> = [
  ["increase increased increases increasing rise rose risen rising rises grow grew grown growing grows gain gained gains raise raised raises higher highest boost boosted expand expanded expanding upward", "decrease decreased decreases decreasing decline declined declines declining fall fell fallen falling falls drop dropped drops dropping reduce reduced reduces reducing lower lowest shrink shrank shrinking downward"],
  ["improve improved improves improving improvement better best strengthen strengthened", "worsen worsened worsens worsening deteriorate deteriorated worse worst weaken weakened"],
  ["positive positively optimistic bullish favorable favourable", "negative negatively pessimistic bearish unfavorable unfavourable"],
  ["success successful successfully succeed succeeded win won wins winning winner victory", "failure failed fail fails failing unsuccessful lose lost loses losing loser defeat defeated"],
  ["accept accepted accepts accepting approve approved approves approval agree agreed agrees allow allowed allows permit permitted", "reject rejected rejects rejecting deny denied denies disapprove disapproved disagree disagreed disagrees oppose opposed opposes refuse refused refuses forbid forbidden prohibit prohibited ban banned"],
  ["before earlier earliest previously prior", "after later latest subsequently"],
  ["begin began begun beginning begins start started starts starting opened opens", "end ended ends ending finish finished finishes stop stopped stops closed closes"],
  ["include included includes add added adds", "exclude excluded excludes remove removed removes"],
  ["true correct accurate", "false incorrect wrong inaccurate"],
  ["high large big fast strong easy cheap rich heavy wide deep major maximum majority hot warm", "low small slow weak difficult expensive poor narrow shallow minor minimum minority cold cool"],
  ["import imported imports", "export exported exports"],
  ["profit profits profitable surplus", "loss losses unprofitable deficit"],
  ["love loved loves liked enjoy enjoyed happy glad pleased interested", "hate hated hates dislike disliked dislikes unhappy sad upset displeased uninterested"],
  ["always everyone everybody everything all entire entirely fully completely", "sometimes rarely occasionally partly partially some few"],
  ["often frequent frequently common commonly", "rarely rare seldom uncommon infrequent infrequently"],
  ["alive living survived", "dead died killed"],
  ["male man men boy boys husband father brother son", "female woman women girl girls wife mother sister daughter"],
  ["public external foreign", "private internal domestic"],
  ["north northern", "south southern"],
  ["east eastern", "west western"],
  ["morning", "evening"],
  ["hired hires hiring", "fired dismissed"],
  ["confirm confirmed confirms", "deny denied denies"],
  ["remember remembered remembers", "forget forgot forgotten forgets"],
  ["same similar identical", "different dissimilar distinct"],
  ["simple simpler", "complex complicated"],
  ["guilty convicted", "innocent acquitted"],
  ["arrive arrived arrives arrival", "depart departed departs departure"],
  ["safe safely secure", "dangerous unsafe insecure risky"],
  ["possible likely able", "impossible unlikely unable"],
  ["online", "offline"],
  ["gain gains gained", "loss losses"],
  ["open opened opening opens reopen reopened", "close closed closing closes shut shutting"],
  ["help helps helped enable enables enabled facilitate facilitates facilitated", "hinder hinders hindered hamper hampers hampered impede impedes impeded obstruct obstructs obstructed"],
  ["arrest arrested", "release released freed"],
  ["capture captured caught", "escape escaped"],
  ["early", "late"],
  ["new newer newest", "old older oldest"],
  ["young younger youngest", "elderly"],
  ["temporary temporarily", "permanent permanently"],
  ["voluntary voluntarily", "mandatory compulsory forced"],
  ["official officially", "unofficial unofficially"],
  ["legal legally lawful", "illegal illegally unlawful"],
  ["praise praised praises", "criticize criticized criticizes criticise criticised criticises condemn condemned condemns"],
  ["present", "absent"],
  ["inside indoor indoors", "outside outdoor outdoors"],
  ["urban", "rural"],
  ["light", "dark"],
  ["full", "empty"],
  ["lead leads leading", "trail trails trailing"],
  ["friend friends friendly ally allies", "enemy enemies hostile foe foes"],
  ["peace peaceful", "war wars violent"],
  ["long longer longest", "short shorter shortest"],
  ["thick", "thin"],
  ["quick quickly rapid rapidly", "gradual gradually slowly"],
  ["top", "bottom"],
  ["past", "future upcoming"],
  ["ancient", "modern"],
  ["healthy", "sick ill unhealthy"],
  ["mild", "severe"],
  ["soft", "hard"],
  ["easy easier", "hard harder"],
  ["incoming inbound", "outgoing outbound"],
  ["entrance entry", "exit"],
  ["push pushed", "pull pulled"],
  ["introduce introduced introduces introducing", "abolish abolished abolishes abolishing scrap scrapped"],
  ["build built construct constructed", "demolish demolished destroy destroyed"],
  ["wife", "husband", "brother brothers", "sister sisters", "son sons", "daughter daughters", "mother", "father", "uncle", "aunt", "cousin cousins", "nephew", "niece", "grandson", "granddaughter", "grandmother", "grandfather", "boyfriend", "girlfriend"],
  ["spring", "summer", "autumn", "winter"],
  ["breakfast", "lunch", "dinner"],
  ["red", "blue", "green", "yellow", "orange", "purple", "pink", "brown", "grey gray"]
]

// Units of one quantity: they exclude each other only after the same number
// ("75 minutes" against "75 hours"); "1,006 metres" is "over a kilometre".
const UNIT_GROUPS: ReadonlyArray<ReadonlyArray<string>> = [
  ["second seconds", "minute minutes", "hour hours", "day days", "week weeks", "month months", "year years", "decade decades", "century centuries"],
  ["inch inches", "foot feet", "yard yards", "metre metres meter meters", "kilometre kilometres kilometer kilometers km", "mile miles"],
  ["gram grams", "kilogram kilograms kg", "ton tons tonne tonnes", "ounce ounces", "pound pounds"],
  ["percent %", "points"]
]

/**
 * A side of a group in `OPPOSITE_GROUPS` or `UNIT_GROUPS`: two different
 * sides of one group are at odds.
 */
export interface Side {
  readonly group: number
  readonly side: number
  /** Opposites; a closed class (relatives, seasons), which a word the evidence has elsewhere does not contradict; or units. */
  readonly kind: "opposite" | "class" | "unit"
}

/** The sides each word stands on. */
export const OPPOSITE_SIDES: ReadonlyMap<string, ReadonlyArray<Side>> = (() => {
  const map = new Map<string, Array<Side>>()
  const add = (groups: ReadonlyArray<ReadonlyArray<string>>, offset: number, kindOf: (sides: ReadonlyArray<string>) => Side["kind"]) =>
    groups.forEach((sides, group) =>
      sides.forEach((words, side) => {
        const mention: Side = { group: offset + group, side, kind: kindOf(sides) }
        for (const w of words.split(" ")) map.set(w, [...(map.get(w) ?? []), mention])
      })
    )
  add(OPPOSITE_GROUPS, 0, (sides) => (sides.length > 2 ? "class" : "opposite"))
  add(UNIT_GROUPS, OPPOSITE_GROUPS.length, () => "unit")
  return map
})()

// Country and union acronyms and the words that stand for them.
const ACRONYM_PAIRS: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["uk", ["britain", "british", "england", "english", "scotland", "wales"]],
  ["us", ["america", "american", "americans"]],
  ["usa", ["america", "american", "americans"]],
  ["eu", ["europe", "european"]],
  ["un", ["nations"]],
  ["uae", ["emirates", "emirati"]]
]

/** The acronyms a word stands for ("british": "uk"). */
export const ACRONYMS: ReadonlyMap<string, ReadonlyArray<string>> = (() => {
  const map = new Map<string, Array<string>>()
  for (const [acronym, words] of ACRONYM_PAIRS) for (const w of words) map.set(w, [...(map.get(w) ?? []), acronym])
  return map
})()
