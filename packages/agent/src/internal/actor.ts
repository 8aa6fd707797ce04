/**
 * The actor engine under `Agent.start` and `AgentRuntime`: a bounded mailbox,
 * `concurrency` worker slots taking from it, per-conversation history kept
 * inside the actor, and restarts of a crashed slot on a schedule. Whoever
 * runs `main` owns the actor: it is meant to run in a scope-owned fiber.
 */
import { Errors, Ids, Message, type Monitor } from "@patinox/core"
import {
  Cause,
  Chunk,
  Clock,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  FiberId,
  FiberRef,
  Mailbox,
  Option,
  Schedule,
  type Tracer
} from "effect"
import { globalValue } from "effect/GlobalValue"
import type { RunResult } from "../RunResult.js"
import type { LoopHooks } from "./loop.js"

/** `Supervisor.defaultPolicy`'s schedule: 100 ms, 200 ms, 400 ms, then give up. */
export const defaultRestart: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.intersect(Schedule.recurs(3))
)

/** A slot that ran this long since its last crash gets its restart budget back. */
export const defaultResetAfter: Duration.Duration = Duration.minutes(1)

/** What a full mailbox does to a sender: wait for room, or fail at once with `MailboxFull`. */
export type Overflow = "wait" | "fail"

/** Where the current fiber stands in a chain of agents asking agents. */
export interface Delegation {
  readonly depth: number
  readonly runId: Ids.RunId | undefined
  readonly agent: Ids.AgentId | undefined
  readonly conversationId: string | undefined
  /** The end user of the run, passed on to the runs it delegates to (per-user rate limits). */
  readonly userId: string | undefined
  /** When the run's deadline passes (epoch ms, `Clock`): a delegated run ends by then too. */
  readonly deadlineAt: number | undefined
}

/** Set by an actor around each run, read by tools that ask other agents. */
export const currentDelegation: FiberRef.FiberRef<Delegation> = globalValue(
  Symbol.for("@patinox/agent/currentDelegation"),
  () =>
    FiberRef.unsafeMake<Delegation>({
      depth: 0,
      runId: undefined,
      agent: undefined,
      conversationId: undefined,
      userId: undefined,
      deadlineAt: undefined
    })
)

/** What an `ask` can be answered with, besides the result. */
export type ReplyError = Errors.RunError | Errors.AgentStopped | Errors.AgentCrashed

/** One message in a mailbox. */
export interface Envelope {
  readonly input: string
  readonly conversationId: string | undefined
  readonly reply: Deferred.Deferred<RunResult, ReplyError> | undefined
  /** 0 for a message from outside any agent; n + 1 for one sent by a run at depth n. */
  readonly depth: number
  readonly parentRunId: Ids.RunId | undefined
  readonly parentSpan: Option.Option<Tracer.AnySpan>
  /** The sender's end user and deadline (see `Delegation`). */
  readonly userId: string | undefined
  readonly deadlineAt: number | undefined
}

/**
 * Counts the messages accepted and not yet finished across many actors, so a
 * shutdown can wait until nothing is in flight anywhere (delegations included).
 */
export class Tracker {
  private count = 0
  private closing = false
  private readonly idle = Deferred.unsafeMake<void>(FiberId.none)
  inc(): void {
    this.count++
  }
  dec(): void {
    this.count--
    if (this.count <= 0 && this.closing) Deferred.unsafeDone(this.idle, Exit.void)
  }
  get pending(): number {
    return this.count
  }
  /** Completes once nothing is pending; from then on every decrement re-checks. */
  readonly awaitIdle: Effect.Effect<void> = Effect.suspend(() => {
    this.closing = true
    return this.count <= 0 ? Effect.void : Deferred.await(this.idle)
  })
}

/** @internal */
export interface Stats {
  readonly processed: number
  readonly failed: number
  readonly queued: number
}

/** Everything the engine needs; the run is already provided with its services. */
export interface Spec {
  readonly name: string
  readonly id: Ids.AgentId
  readonly capacity: number
  readonly overflow: Overflow
  readonly concurrency: number
  readonly maxConversations: number
  readonly maxHistory: number
  readonly run: (input: string, runId: Ids.RunId, hooks: LoopHooks) => Effect.Effect<RunResult, Errors.RunError>
  readonly report: (event: Monitor.EventInput) => Effect.Effect<void>
  readonly restart: Schedule.Schedule<unknown, unknown>
  readonly resetAfter: Duration.Duration
  readonly supervisor: string
  readonly tracker: Tracker | undefined
  /** Called once, after the queued messages were answered with `AgentStopped`. */
  readonly onEscalate: (error: Errors.AgentEscalated) => Effect.Effect<void>
}

/** A running actor. */
export interface Actor {
  readonly offer: (envelope: Envelope) => Effect.Effect<void, Errors.AgentStopped | Errors.MailboxFull>
  /** The actor's life: run it once, in a fiber its owner's scope holds. */
  readonly main: Effect.Effect<void>
  /** Refuse messages from outside any agent; delegated ones are still taken (for a drain). */
  readonly refuseExternal: Effect.Effect<void>
  /** Refuse everything; what is queued is still processed, then `main` ends. */
  readonly close: Effect.Effect<void>
  /** Answer everything queued with `AgentStopped` and release waiting senders. */
  readonly abandon: Effect.Effect<void>
  readonly isOpen: Effect.Effect<boolean>
  readonly stats: Effect.Effect<Stats>
  readonly restarts: Effect.Effect<number>
  readonly takeConversation: (conversationId: string) => Effect.Effect<ReadonlyArray<Message.Message>>
  readonly putConversation: (conversationId: string, messages: ReadonlyArray<Message.Message>) => Effect.Effect<void>
}

const firstLine = (cause: Cause.Cause<unknown>): string => {
  const squashed = Cause.squash(cause)
  const text = squashed instanceof Error ? squashed.message : String(squashed)
  return text.split("\n")[0] ?? "defect"
}

/** Builds an actor; nothing runs until its `main` does. */
export const make = (spec: Spec): Effect.Effect<Actor> =>
  Effect.gen(function*() {
    const mailbox = yield* Mailbox.make<Envelope>({
      capacity: spec.capacity,
      strategy: spec.overflow === "fail" ? "dropping" : "suspend"
    })
    // Made when needed: an error captures a stack trace, which an idle actor need not hold.
    const stopped = () => new Errors.AgentStopped({ agent: spec.name })
    let open = true
    let external = true
    let processed = 0
    let failed = 0
    let restarts = 0
    // Insertion-ordered: the first key is the least recently used conversation.
    const conversations = new Map<string, ReadonlyArray<Message.Message>>()
    const tracker = spec.tracker
    const settle = () => tracker?.dec()

    const remember = (conversationId: string, input: string, answer: string) => {
      const before = conversations.get(conversationId) ?? []
      conversations.delete(conversationId)
      const after = [...before, Message.user(input), new Message.AssistantMessage({ content: answer, toolCalls: [] })]
      conversations.set(conversationId, after.length > spec.maxHistory ? after.slice(after.length - spec.maxHistory) : after)
      while (conversations.size > spec.maxConversations) {
        const oldest = conversations.keys().next()
        if (oldest.done === true) break
        conversations.delete(oldest.value)
      }
    }

    const replyExit = (exit: Exit.Exit<RunResult, Errors.RunError>): Exit.Exit<RunResult, ReplyError> => {
      if (Exit.isSuccess(exit)) return exit
      if (Cause.isDie(exit.cause)) {
        return Exit.fail(new Errors.AgentCrashed({ agent: spec.name, reason: firstLine(exit.cause) }))
      }
      if (Cause.isInterruptedOnly(exit.cause)) return Exit.fail(stopped())
      return Option.match(Cause.failureOption(exit.cause), {
        onNone: () => Exit.fail(new Errors.AgentCrashed({ agent: spec.name, reason: firstLine(exit.cause) })),
        onSome: (error) => Exit.fail(error)
      })
    }

    // One message. A defect answers the asker with `AgentCrashed` and then
    // fails the slot, so that its supervisor restarts it.
    const process = (envelope: Envelope): Effect.Effect<void, Errors.RunError> =>
      Effect.gen(function*() {
        const runId = yield* Ids.makeRunId
        const history = envelope.conversationId === undefined ? undefined : conversations.get(envelope.conversationId)
        const parent = envelope.parentRunId
        const now = yield* Clock.currentTimeMillis
        let program = spec.run(envelope.input, runId, {
          history,
          startContext: parent === undefined ? undefined : { "patinox.parent.run.id": parent, delegationDepth: envelope.depth },
          userId: envelope.userId,
          deadline: envelope.deadlineAt === undefined ? undefined : Duration.millis(Math.max(0, envelope.deadlineAt - now))
        }).pipe(
          Effect.locally(currentDelegation, {
            depth: envelope.depth,
            runId,
            agent: spec.id,
            conversationId: envelope.conversationId,
            userId: envelope.userId,
            deadlineAt: envelope.deadlineAt
          })
        )
        if (parent !== undefined) program = Effect.annotateSpans(program, "patinox.parent.run.id", parent)
        if (Option.isSome(envelope.parentSpan)) program = Effect.withParentSpan(program, envelope.parentSpan.value)
        const exit = yield* Effect.exit(program)
        processed++
        if (Exit.isFailure(exit)) failed++
        else if (envelope.conversationId !== undefined) remember(envelope.conversationId, envelope.input, exit.value.answer)
        if (envelope.reply !== undefined) yield* Deferred.done(envelope.reply, replyExit(exit))
        else if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
          yield* Effect.logWarning(`agent ${spec.name}: message failed`, Cause.squash(exit.cause))
        }
        if (Exit.isFailure(exit) && Cause.isDie(exit.cause)) return yield* Effect.failCause(exit.cause)
      }).pipe(
        // Interrupted mid-run (a shutdown past its deadline): the asker still gets a typed answer.
        Effect.ensuring(
          Effect.suspend(() => {
            settle()
            return envelope.reply === undefined ? Effect.void : Deferred.fail(envelope.reply, stopped())
          })
        )
      )

    // The idle path (waiting on the mailbox) is written without generators: an idle actor
    // should hold as little as possible, and a suspended generator holds its whole frame.
    const work: Effect.Effect<void, Errors.RunError> = Effect.flatMap(
      Effect.option(mailbox.take),
      (next) => Option.isNone(next) ? Effect.void : Effect.zipRight(process(next.value), work)
    )

    const resetAfterMs = Duration.toMillis(spec.resetAfter)

    // Made at the first crash: most actors never crash.
    let restartDriver: Schedule.ScheduleDriver<unknown, unknown> | undefined

    // After a crash: wait out the schedule's delay (and report the restart), or give up.
    const afterCrash = (cause: Cause.Cause<unknown>, startedAt: number): Effect.Effect<void, Errors.AgentEscalated> =>
      Effect.gen(function*() {
        const driver = restartDriver ?? (yield* Schedule.driver(spec.restart))
        restartDriver = driver
        // A slot that ran long enough since its last crash starts a fresh restart budget (the window).
        if ((yield* Clock.currentTimeMillis) - startedAt >= resetAfterMs) yield* driver.reset
        const reason = firstLine(cause)
        const next = yield* Effect.either(driver.next(cause))
        if (Either.isLeft(next)) {
          return yield* new Errors.AgentEscalated({ agent: spec.name, supervisor: spec.supervisor, restarts, reason })
        }
        restarts++
        // State the crash may have corrupted does not survive it; queued messages do.
        conversations.clear()
        yield* spec.report({
          type: "agent.restart",
          agentId: spec.id,
          context: { supervisor: spec.supervisor, restart: restarts, reason }
        })
      })

    const supervised: Effect.Effect<void, Errors.AgentEscalated> = Effect.flatMap(
      Clock.currentTimeMillis,
      (startedAt) =>
        Effect.flatMap(Effect.exit(work), (exit) =>
          Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)
            ? Effect.void
            : Effect.zipRight(afterCrash(exit.cause, startedAt), supervised))
    )

    const abandon: Effect.Effect<void> = Effect.suspend(() => {
      open = false
      return Effect.flatMap(mailbox.clear, (left) =>
        Effect.zipRight(
          Effect.forEach(left, (envelope) => {
            settle()
            return envelope.reply === undefined ? Effect.void : Deferred.fail(envelope.reply, stopped())
          }, { discard: true }),
          mailbox.shutdown
        ))
    })

    const escalate = (error: Errors.AgentEscalated) =>
      Effect.zipRight(
        Effect.zipRight(
          abandon,
          spec.report({
            type: "agent.escalation",
            agentId: spec.id,
            context: { supervisor: spec.supervisor, restarts: error.restarts, reason: error.reason }
          })
        ),
        spec.onEscalate(error)
      )

    const slots = spec.concurrency === 1
      ? supervised
      : Effect.forEach(Chunk.range(1, spec.concurrency), () => supervised, { concurrency: "unbounded", discard: true })

    const main: Effect.Effect<void> = spec.report({ type: "agent.start", agentId: spec.id, context: { supervisor: spec.supervisor } })
      .pipe(
        Effect.zipRight(Effect.catchAll(slots, escalate)),
        Effect.ensuring(
          Effect.zipRight(
            abandon,
            Effect.suspend(() =>
              spec.report({ type: "agent.stop", agentId: spec.id, context: { supervisor: spec.supervisor, processed, failed } })
            )
          )
        )
      )

    const offer = (envelope: Envelope): Effect.Effect<void, Errors.AgentStopped | Errors.MailboxFull> =>
      Effect.suspend(() => {
        if (!open || (!external && envelope.depth === 0)) return Effect.fail(stopped())
        tracker?.inc()
        return mailbox.offer(envelope).pipe(
          Effect.onInterrupt(() => Effect.sync(settle)),
          Effect.flatMap((accepted): Effect.Effect<void, Errors.AgentStopped | Errors.MailboxFull> => {
            if (accepted) return Effect.void
            settle()
            return open && spec.overflow === "fail"
              ? Effect.fail(new Errors.MailboxFull({ agent: spec.name, capacity: spec.capacity }))
              : Effect.fail(stopped())
          })
        )
      })

    const actor: Actor = {
      offer,
      main,
      refuseExternal: Effect.sync(() => {
        external = false
      }),
      close: Effect.suspend(() => {
        open = false
        return Effect.asVoid(mailbox.end)
      }),
      abandon,
      isOpen: Effect.sync(() => open),
      stats: Effect.sync(() => ({ processed, failed, queued: Option.getOrElse(mailbox.unsafeSize(), () => 0) })),
      restarts: Effect.sync(() => restarts),
      takeConversation: (conversationId) =>
        Effect.sync(() => {
          const messages = conversations.get(conversationId) ?? []
          conversations.delete(conversationId)
          return messages
        }),
      putConversation: (conversationId, messages) =>
        Effect.sync(() => {
          conversations.delete(conversationId)
          conversations.set(conversationId, messages.slice(Math.max(0, messages.length - spec.maxHistory)))
          while (conversations.size > spec.maxConversations) {
            const oldest = conversations.keys().next()
            if (oldest.done === true) break
            conversations.delete(oldest.value)
          }
        })
    }
    return actor
  })
