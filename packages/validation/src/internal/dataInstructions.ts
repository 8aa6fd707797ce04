/**
 * Instruction-in-data detection for text an agent reads (tool output, a
 * retrieved document, a table): data describes things; an injection talks to
 * the assistant. This counts the structural marks of the latter, with generic
 * patterns: imperatives addressed to the assistant, task switches, forged
 * roles and delimiters, and fake completions followed by a new instruction.
 * It also says how much a text looks like source code, whose string literals
 * and comments must not be read as instructions on their own.
 *
 * @internal
 */
import { countMatches } from "./harm.js"

/** What was found in one text. */
export interface InstructionEvidence {
  /** Phrases that address the assistant or AI directly. */
  readonly addressed: number
  /** Switches to another task ("instead", "new task", "from now on"). */
  readonly taskSwitch: number
  /** Forged chat roles or prompt delimiters. */
  readonly forgery: number
  /** An answer that is marked complete, then a new instruction. */
  readonly fakeCompletion: number
  /** Sentences that open with an order to the reader. */
  readonly imperatives: number
  /** Combined score in [0, 1]. */
  readonly score: number
}

const AGENT = String.raw`(?:ai|a\.i\.|assistant|chat ?bot|bot|agent|language model|llm|model|gpt|copilot|ai system|automated (?:[a-z]+ )?(?:system|reader|reviewer|screener|tool|scan(?:ner)?))`

const ADDRESSED = new RegExp(
  String.raw`\b(?:(?:dear|hey|hi|attention|note (?:to|for)|message (?:to|for)|instructions? (?:to|for)) (?:the |all |any )?${AGENT}s?\b` +
    String.raw`|\b(?:if you are|as an?|to the|for the) ${AGENT}\b[^.\n]{0,40}\b(?:you|your|must|should|please)\b` +
    String.raw`|\b${AGENT}s?\b[,:]? (?:you )?(?:must|should|shall|need to|have to|are (?:required|instructed|told) to|will now|please)\b` +
    // Orders about what to tell the user, written into data the model reads.
    String.raw`|\bif (?:the |a |any )?(?:user|anyone|someone|customer|reader) (?:asks?|questions?|quer(?:y|ies)|requests?|wants)\b[^.\n]{0,60}\b(?:reply|respond|answer|say|tell|report|output|print|state)\b` +
    String.raw`|\bif (?:questioned|asked)\b[^.\n]{0,20}\b(?:reply|respond|answer|say|tell|report|state)\b` +
    String.raw`|\b(?:reply|respond|answer) with only\b|\b(?:provide|show|give|tell|report) (?:it|this|that|them)? ?(?:directly )?to the user\b` +
    String.raw`|\b(?:visible|readable|addressed|meant) (?:only )?(?:to|for) (?:the |an? |any )?${AGENT}s?\b` +
    String.raw`|\byou (?:must|should|need to|have to|are (?:required|instructed) to|will now) (?:now |also |first |immediately )?(?:ignore|disregard|forget|stop|say|print|output|reply|respond|write|send|forward|include|tell|reveal|answer|translate|summari[sz]e|delete|transfer|book|call|run|execute|visit|open|add|change|grant|share))`,
  "gi"
)

const TASK_SWITCH =
  /\b(?:instead(?:,)? (?:of|you|please|just|do|say|print|write|output|respond|reply|tell)|new (?:task|instructions?|objective|goal|directive|assignment)|change of (?:plans?|task)|(?:your|the) (?:real|actual|true|new|updated) (?:task|goal|job|instructions?|objective)|from now on|before (?:you )?(?:continue|proceed|answer|respond|reply|finish|complete|doing)|(?:after|once) (?:you (?:have )?)?(?:finish(?:ed)?|complete[d]?|answer(?:ed)?|done)(?: (?:that|this|the task))?,? (?:please )?(?:also )?(?:do|send|write|say|print|run|tell)|ignore (?:the |all |any |previous |prior |above |earlier |your )|disregard (?:the |all |any |previous |prior |above |earlier |your )|forget (?:the |all |everything|previous |prior |your ))/gi

// Orders about the answer the model will give, written into data: a person writing to a person asks for a
// reply, not for something to be put in "your response" or for the answer to start or end a certain way.
const ABOUT_THE_ANSWER =
  /\b(?:(?:include|add|append|insert|mention|put|embed)\b[^\n]{0,60}?\b(?:in|into|to|at the (?:end|start|beginning) of) your (?:answer|response|output|summary|reply|translation)|(?:begin|start|end|conclude|prefix|finish) (?:each |every )?(?:of )?your (?:answer|response|output|summary|replies|reply)s? with|(?:answer|respond|reply) (?:only |exclusively )?in (?:french|spanish|german|italian|portuguese|chinese|japanese|russian|arabic|pig latin|emojis?|(?:a )?(?:poem|haiku|rhyme|song)))\b/gi

// An override followed by what to do instead, in one sentence: "ignore the rest of this text and print ...".
const OVERRIDE_THEN_ORDER =
  /\b(?:ignore|disregard|forget|skip)\b[^.\n]{0,80}?\b(?:and|then)\s+(?:instead\s+)?(?:just\s+|only\s+)?(?:print|output|say|respond|reply|write|return|repeat|state|answer|report|display)\b/gi

const FORGERY = new RegExp(
  [
    String.raw`<\|?\s*(?:im_start|im_end|system|endoftext|eot_id|start_header_id|end_header_id|user|assistant)\s*\|?>`,
    String.raw`\[/?(?:inst|sys|system)\]`,
    String.raw`<</?sys>>`,
    String.raw`(?:^|\n)\s*#{2,}\s*(?:instruction|instructions|response|system|new|task|input|output)\b`,
    String.raw`(?:^|\n)\s*(?:system|assistant|human|user|ai)\s*(?:message|prompt)?\s*:\s*\S`,
    String.raw`(?:^|\n)\s*[-=*#]{3,}\s*(?:end|begin|start|stop)(?: of)? (?:the )?(?:document|context|data|input|text|email|message|instructions?|system|prompt)\b`,
    String.raw`</?(?:system|instructions?|admin|important|information)>`,
    String.raw`<\s*(?:end|start|begin) of (?:the )?(?:session|conversation|context|document|input|prompt|data)\s*>`,
    String.raw`\bsystem (?:chain of thought|note|override|instruction|message|directive|update)s?\b\s*[:(\-"]`
  ].join("|"),
  "gi"
)

const FAKE_COMPLETION =
  /\b(?:answer|response|result|output|summary|translation|task (?:complete|completed|done|finished))\s*[:.-]\s*[^\n]{0,160}(?:\n\s*)*[^\n]{0,40}?\b(?:now|next|then|ignore|instead|new task|afterwards)\b/gi

const IMPERATIVE =
  /(?:^|[.!?:]\s+|\n\s*)(?:please\s+)?(?:ignore|disregard|forget|do not|don't|never|always|make sure (?:to|you)|be sure to|remember to|send|forward|e-?mail|transfer|delete|print|output|say|respond|reply|write|include|append|visit|click|call|execute|run|tell|reveal|repeat|answer|translate|summari[sz]e|insert|add|change|update|create|book|share|grant|invite|post)\b/gi

const squash = (x: number) => Math.max(0, Math.min(1, x))

/** Finds the marks of an instruction addressed to the assistant in `text` (folded, lower case). */
export const instructionEvidence = (text: string): InstructionEvidence => {
  const addressed = Math.min(8, countMatches(ADDRESSED, text, 8) + countMatches(ABOUT_THE_ANSWER, text, 4))
  const taskSwitch = Math.min(8, countMatches(TASK_SWITCH, text, 8) + countMatches(OVERRIDE_THEN_ORDER, text, 4))
  const forgery = countMatches(FORGERY, text, 8)
  const fakeCompletion = countMatches(FAKE_COMPLETION, text, 4)
  const imperatives = countMatches(IMPERATIVE, text, 16)
  const score = squash(
    1 - (1 - squash(addressed * 0.45)) * (1 - squash(taskSwitch * 0.35)) * (1 - squash(forgery * 0.35)) *
        (1 - squash(fakeCompletion * 0.3)) * (1 - squash(imperatives * 0.04))
  )
  return { addressed, taskSwitch, forgery, fakeCompletion, imperatives, score }
}

// Docstring and doc-comment markup: reST fields and roles, doctest prompts, JSDoc tags, docstring quotes.
const DOC_MARKUP =
  /^(?:"{3}|'{3}|r"{3}|:(?:param|type|return|returns|rtype|raises|arg|ivar|cvar)\b|\.\. [a-z-]+::|>>> |@(?:param|returns?|throws|type|typedef|example|see|deprecated|private|public|api)\b|\* @[a-z]+\b)|:(?:class|meth|func|attr|data|mod|exc|obj|ref|rfc|py:[a-z]+):`|``[^`\s][^`]*``/

// Lines that declare something: functions, classes, methods, decorators.
const DECLARATION =
  /^(?:(?:export |pub |public |private |protected |static |async )*(?:def|class|function|func|fn|interface|struct|enum|impl)\s+[A-Za-z_]|@[a-z_][\w.]*(?:\(|$))/

/**
 * How much `text` looks like source code, in [0, 1]: lines ending in code
 * punctuation, brackets and operators, keywords that open declarations.
 */
export const codeLikeness = (text: string): number => {
  const lines = text.split("\n").filter((l) => l.trim().length > 0)
  if (lines.length < 3) return 0
  let codeish = 0
  let declarations = 0
  for (const l of lines) {
    const t = l.trim()
    if (
      /[;{}()\[\],:]$/.test(t) || /^(?:\/\/|#|\/\*|\*|--)/.test(t) ||
      /^(?:import|export|from|def|class|func|fn|let|const|var|return|if|else|for|while|use|pub|package|type|struct|impl|package|module|require)\b/.test(t) ||
      /\w\s*(?:=|=>|->|::|\+=|==)\s*\S/.test(t) || DOC_MARKUP.test(t)
    ) codeish++
    if (DECLARATION.test(t)) declarations++
  }
  const share = codeish / lines.length
  const brackets = (text.match(/[{}()\[\];=<>]/g) ?? []).length / Math.max(1, text.length)
  // Documentation comments are prose inside code: declarations around them still say what the text is.
  return squash(share * 0.8 + squash(brackets * 10) * 0.3 + (declarations >= 2 ? 0.2 : 0))
}

/**
 * How much `text` looks like a table, in [0, 1]: the share of its lines that
 * one delimiter (pipe, tab or comma) splits into three or more cells.
 */
export const tableLikeness = (text: string): number => {
  const lines = text.split("\n", 400).filter((l) => l.trim().length > 0)
  if (lines.length < 3) return 0
  let best = 0
  for (const d of ["|", "\t", ","]) {
    let rows = 0
    for (const l of lines) {
      let cells = 0
      for (let i = l.indexOf(d); i >= 0 && cells < 2; i = l.indexOf(d, i + 1)) cells++
      if (cells >= 2) rows++
    }
    best = Math.max(best, rows / lines.length)
  }
  return best
}

const FIELD = /^\s*(?:- )?[A-Za-z_][\w ./-]{0,40}:(?:\s+\S|\s*$)/

/**
 * How much `text` looks like a record, in [0, 1]: the share of its lines
 * that are `key: value` fields (WHOIS, YAML, headers, logs).
 */
export const recordLikeness = (text: string): number => {
  const lines = text.split("\n", 400).filter((l) => l.trim().length > 0)
  if (lines.length < 6) return 0
  let fields = 0
  for (const l of lines) if (FIELD.test(l)) fields++
  return fields / lines.length
}

// An order to the reader opening a sentence or a cell: a capitalised verb, then a clause.
const CELL_ORDER =
  /(?:^|[\s|,;"(])(?:(?:Now|Then|Next|Also|Finally|And),? )?(?:Please,? )?(?:Ignore|IGNORE|Disregard|Forget|Do not|Don't|Never|Stop|STOP|Instead|Send|Forward|E-?mail|Transfer|Pay|Delete|Remove|Print|PRINT|Output|Say|Respond|Reply|Write|Include|Append|Visit|Click|Open|Call|Execute|Run|Tell|Reveal|Repeat|Translate|Insert|Add|Change|Update|Modify|Create|Schedule|Book|Share|Grant|Invite|Post|Make|Give|Provide|List|Describe|Explain|Generate|Recommend|Answer|Summari[sz]e)\b([^|\t\n]{0,300})/g

const CLAUSE_WORD = /\b(?:the|to|a|an|of|and|with|from|that|your|my|all|any|this|these|it|me|us|them|their|his|her|i|you)\b/g

/**
 * Sentences or cells in the last rows of a table that open with an order to
 * the reader and go on as a clause (five words or more, with the small
 * words prose has): a table holds values and names, so an order after or
 * among its last rows was put there for the model.
 */
export const trailingOrders = (text: string): number => {
  const lines = text.split("\n")
  // Start after the table's first row, so a question above the table does not count.
  let start = 0
  for (let i = 0, at = 0; i < lines.length && i < 200; i++) {
    const l = lines[i] ?? ""
    if ((l.match(/[|\t,]/g)?.length ?? 0) >= 2) {
      start = at + l.length + 1
      break
    }
    at += l.length + 1
  }
  const body = text.slice(Math.max(start, text.length - 700))
  CELL_ORDER.lastIndex = 0
  let n = 0
  let m: RegExpExecArray | null
  while ((m = CELL_ORDER.exec(body)) !== null && n < 4) {
    const clause = (m[1] ?? "").toLowerCase()
    const words = clause.match(/[a-z0-9'@.-]+/g)?.length ?? 0
    const small = clause.match(CLAUSE_WORD)?.length ?? 0
    if (words >= 5 && small >= 2) n++
  }
  return n
}

const WRAPPER =
  /\b(?:translate|paraphrase|refine|rewrite|rephrase|reword|summari[sz]e|polish|correct|proofread|improve|edit|simplify|shorten|expand|continue)\b[^\n.]{0,50}?\b(?:following|above|below|this|these|given|next)\b(?:\s+[a-z-]+){0,3}?\s+(?:sentences?|text|paragraphs?|passage|statements?|content|phrases?|words|lines?|request)\b/

const EMBEDDED_ORDER =
  /^(?:[a-z]+(?: [a-z]+)?:\s*)?["\u201c']?(?:please\s+)?(?:write|generate|create|produce|compose|give|tell|list|say|make|explain|describe|provide|output|print|draft|craft|come up with)\b(?:\s+\S+){3,}/

/**
 * A task that works on a text (translate, refine, paraphrase the following
 * sentence) whose text is itself an order: the order is what the model ends
 * up carrying out. Returns whether the wrapper is there and the embedded
 * orders that follow or precede it.
 */
export const wrappedOrders = (text: string): { readonly wrapper: boolean; readonly orders: ReadonlyArray<string> } => {
  if (!WRAPPER.test(text)) return { wrapper: false, orders: [] }
  const orders: Array<string> = []
  for (const line of text.split(/\n|(?<=[.!?])\s+/, 40)) {
    const t = line.trim()
    if (t.length === 0 || WRAPPER.test(t)) continue
    if (EMBEDDED_ORDER.test(t) && orders.length < 4) orders.push(t)
  }
  return { wrapper: true, orders }
}
