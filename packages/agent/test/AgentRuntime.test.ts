import { assert, describe, it } from "@effect/vitest"
import { Agent, AgentRuntime, Supervisor } from "@patinox/agent"
import { type LanguageModel, Monitor, ValidationPipeline } from "@patinox/core"
import { ScriptedModel } from "@patinox/testing"
import { Duration, Effect, Exit, Fiber, Layer, Scope, TestClock } from "effect"

const services = (script: ScriptedModel.Script) =>
  Layer.mergeAll(ScriptedModel.layer(script), ValidationPipeline.passThrough, Monitor.layerMemory())

const lastUser = (request: LanguageModel.ChatRequest) => {
  const user = [...request.messages].reverse().find((m) => m._tag === "user")
  return user?._tag === "user" ? user.content : ""
}
const system = (request: LanguageModel.ChatRequest) => {
  const first = request.messages[0]
  return first?._tag === "system" ? first.content : ""
}

/** Answers "answer to <input>" after `<n>s` when the input says "slow <n>", dies on "boom". */
const echo: ScriptedModel.Responder = (request) => {
  const input = lastUser(request)
  if (input.startsWith("boom")) throw new Error(`the model blew up on ${input}`)
  const slow = /slow (\d+)/.exec(input)?.[1]
  const reply = ScriptedModel.text(`answer to ${input}`)
  return slow === undefined ? reply : ScriptedModel.delay(reply, Duration.seconds(Number(slow)))
}

const agent = (name: string) => Agent.make(name).model("scripted").instructions(`You are ${name}.`).build()

const events = Effect.flatMap(Monitor.MemoryMonitor, (m) => m.events)

describe("AgentRuntime: addressing and mailboxes", () => {
  it.scoped("asks a spawned agent by id and says which ids exist when one does not", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const echoer = agent("echoer")
      yield* runtime.spawn(echoer)
      const result = yield* runtime.ask(echoer.id, "hello")
      assert.strictEqual(result.answer, "answer to hello")
      const missing = yield* Effect.flip(runtime.ask(agent("nobody").id, "hello"))
      assert.strictEqual(missing._tag, "AgentNotFound")
      if (missing._tag === "AgentNotFound") assert.deepStrictEqual(missing.available, ["echoer"])
      const twice = yield* Effect.flip(runtime.spawn(echoer))
      assert.strictEqual(twice._tag, "ConfigurationInvalid")
    }).pipe(Effect.provide(services(echo))))

  it.scoped("refuses a message with MailboxFull when the mailbox is full and its policy is fail", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const strict = Agent.make("strict").model("scripted").instructions("i").mailbox({ capacity: 1, overflow: "fail" })
        .build()
      const running = yield* runtime.spawn(strict)
      const inFlight = yield* Effect.fork(running.ask("slow 5"))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second") // the first message is taken: in flight
      const queued = yield* Effect.fork(running.ask("queued"))
      yield* Effect.yieldNow()
      const refused = yield* Effect.flip(running.send("one too many"))
      assert.strictEqual(refused._tag, "MailboxFull")
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Fiber.join(inFlight)).answer, "answer to slow 5")
      assert.strictEqual((yield* Fiber.join(queued)).answer, "answer to queued")
    }).pipe(Effect.provide(services(echo))))

  it.scoped("makes the sender wait while the mailbox is full and its policy is wait", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const patient = Agent.make("patient").model("scripted").instructions("i").mailbox({ capacity: 1 }).build()
      const running = yield* runtime.spawn(patient)
      yield* running.send("slow 5")
      yield* TestClock.adjust("1 second")
      yield* running.send("fills the mailbox")
      const waiting = yield* Effect.fork(running.send("waits"))
      yield* TestClock.adjust("1 second")
      assert.isNull(waiting.unsafePoll())
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(waiting)
      const stopped = yield* running.stop
      assert.deepStrictEqual(stopped.stats, { processed: 3, failed: 0, queued: 0 })
    }).pipe(Effect.provide(services(echo))))

  it.scoped("keeps a conversation's turns inside the actor and gives them to the model", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const running = yield* runtime.spawn(agent("chatty"))
      yield* running.ask("first", { conversationId: "c1" })
      yield* running.ask("second", { conversationId: "c1" })
      yield* running.ask("elsewhere", { conversationId: "c2" })
      const requests = yield* Effect.flatMap(ScriptedModel.Recorder, (r) => r.requests)
      assert.deepStrictEqual(requests[1]?.messages.map((m) => m._tag), ["system", "user", "assistant", "user"])
      assert.deepStrictEqual(requests[2]?.messages.map((m) => m._tag), ["system", "user"])
    }).pipe(Effect.provide(services(echo))))

  it.scoped("bounds the history it keeps per conversation", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const short = Agent.make("short").model("scripted").instructions("i").conversations({ max: 2, maxMessages: 2 })
        .build()
      const running = yield* runtime.spawn(short)
      for (const turn of ["a", "b", "c"]) yield* running.ask(turn, { conversationId: "c" })
      const requests = yield* Effect.flatMap(ScriptedModel.Recorder, (r) => r.requests)
      assert.strictEqual(requests[2]?.messages.length, 4) // system + one remembered turn + input
    }).pipe(Effect.provide(services(echo))))

  it.scoped("times an ask out on the clock with AskTimeout", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const running = yield* runtime.spawn(agent("slowpoke"))
      const fiber = yield* Effect.fork(Effect.flip(running.ask("slow 30", { timeout: "2 seconds" })))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "AskTimeout")
      yield* TestClock.adjust("30 seconds") // the run itself still finishes before the scope closes
    }).pipe(Effect.provide(services(echo))))
})

describe("AgentRuntime: supervision", () => {
  it.scoped("answers a crashing message with AgentCrashed, restarts after the backoff, and keeps the mailbox", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make({ policy: Supervisor.backoff({ maxRestarts: 3, within: "1 minute" }) })
      const running = yield* runtime.spawn(agent("fragile"))
      const crashing = yield* Effect.fork(Effect.flip(running.ask("boom")))
      const behind = yield* Effect.fork(running.ask("still here"))
      const crashed = yield* Fiber.join(crashing)
      assert.strictEqual(crashed._tag, "AgentCrashed")
      assert.include(crashed.message, "the model blew up on boom")
      yield* TestClock.adjust("50 millis")
      assert.isNull(behind.unsafePoll()) // waiting out the 100 ms backoff
      yield* TestClock.adjust("50 millis")
      assert.strictEqual((yield* Fiber.join(behind)).answer, "answer to still here")
      const restart = (yield* events).find((e) => e.type === "agent.restart")
      assert.strictEqual(restart?.agentId, "fragile")
      assert.strictEqual(restart?.context.supervisor, "runtime")
      assert.strictEqual(restart?.context.restart, 1)
    }).pipe(Effect.provide(services(echo))))

  it.scoped("a typed run error is an answer, not a crash", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const running = yield* runtime.spawn(agent("typed"))
      const error = yield* Effect.flip(running.ask("   "))
      assert.strictEqual(error._tag, "InvalidInput")
      assert.isFalse((yield* events).some((e) => e.type === "agent.restart"))
    }).pipe(Effect.provide(services(echo))))

  it.effect("escalates through nested supervisors to the root, which fails with AgentEscalated and shuts down", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const runtime = yield* AgentRuntime.make({ policy: Supervisor.backoff({ maxRestarts: 2, within: "1 minute" }) })
        .pipe(Scope.extend(scope))
      const team = yield* runtime.supervisor("team")
      const running = yield* team.spawn(agent("doomed"))
      const escalation = yield* Effect.fork(Effect.flip(runtime.awaitEscalation))
      for (const delay of [0, 100, 200]) {
        yield* TestClock.adjust(Duration.millis(delay))
        const error = yield* Effect.flip(running.ask("boom again"))
        assert.strictEqual(error._tag, "AgentCrashed")
      }
      yield* TestClock.adjust("1 second")
      const escalated = yield* Fiber.join(escalation)
      assert.strictEqual(escalated._tag, "AgentEscalated")
      assert.strictEqual(escalated.supervisor, "runtime/team")
      assert.strictEqual(escalated.restarts, 2)
      const seen = (yield* events).filter((e) => e.type === "agent.escalation").map((e) => e.context.supervisor)
      assert.deepStrictEqual(seen, ["runtime/team", "runtime"])
      assert.deepStrictEqual(yield* runtime.agents, [])
      assert.strictEqual((yield* Effect.flip(running.send("late")))._tag, "AgentStopped")
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(services(echo))))

  it.scoped("a supervisor whose policy is stop gives up on the agent alone", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const team = yield* runtime.supervisor("team", Supervisor.backoff({ maxRestarts: 0, within: "1 minute", onExhausted: "stop" }))
      yield* team.spawn(agent("doomed"))
      yield* runtime.spawn(agent("survivor"))
      const error = yield* Effect.flip(runtime.ask(agent("doomed").id, "boom"))
      assert.strictEqual(error._tag, "AgentCrashed")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual((yield* runtime.agents).map(String), ["survivor"])
      assert.strictEqual((yield* runtime.ask(agent("survivor").id, "ok")).answer, "answer to ok")
    }).pipe(Effect.provide(services(echo))))
})

describe("AgentRuntime: graceful shutdown", () => {
  it.effect("drains work in flight within the deadline and refuses new messages", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const runtime = yield* AgentRuntime.make({ shutdownDeadline: "10 seconds" }).pipe(Scope.extend(scope))
      const running = yield* runtime.spawn(agent("worker")).pipe(Scope.extend(scope))
      const inFlight = yield* Effect.fork(running.ask("slow 3"))
      const queued = yield* Effect.fork(running.ask("queued"))
      yield* Effect.yieldNow()
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Effect.flip(running.send("too late")))._tag, "AgentStopped")
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(closing)
      assert.strictEqual((yield* Fiber.join(inFlight)).answer, "answer to slow 3")
      assert.strictEqual((yield* Fiber.join(queued)).answer, "answer to queued")
    }).pipe(Effect.provide(services(echo))))

  it.effect("interrupts what is still running at the deadline and answers it with AgentStopped", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const summaries: Array<AgentRuntime.ShutdownSummary> = []
      const runtime = yield* AgentRuntime.make({
        shutdownDeadline: "2 seconds",
        onShutdown: (summary) => Effect.sync(() => summaries.push(summary))
      }).pipe(Scope.extend(scope))
      const running = yield* runtime.spawn(agent("stuck"))
      const inFlight = yield* Effect.fork(Effect.flip(running.ask("slow 50")))
      yield* Effect.yieldNow()
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("100 millis")
      yield* Fiber.join(closing)
      assert.strictEqual((yield* Fiber.join(inFlight))._tag, "AgentStopped")
      assert.deepStrictEqual(summaries.map((s) => [s.drained, s.durationMs, s.agents]), [[false, 2000, 1]])
    }).pipe(Effect.provide(services(echo))))
})

describe("AgentRuntime: multi-agent", () => {
  // The "router" model calls ask_calculator once, then answers with what came back.
  const routerAndCalculator: ScriptedModel.Responder = (request) => {
    if (system(request).includes("router")) {
      const last = request.messages.at(-1)
      return last?._tag === "tool"
        ? ScriptedModel.text(`router: ${last.content}`)
        : ScriptedModel.toolCall("ask_calculator", { input: lastUser(request) })
    }
    return ScriptedModel.text(`calculated ${lastUser(request)}`)
  }

  it.scoped("asks another agent through a tool, by id, and links the child run to the parent", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const calculator = agent("calculator")
      const router = Agent.make("router").model("scripted").instructions("You are the router.")
        .tools(AgentRuntime.asTool(calculator.id, { description: "Asks the calculator" }))
        .build()
      yield* runtime.spawn(calculator)
      yield* runtime.spawn(router)
      const result = yield* runtime.ask(router.id, "2 + 2")
      assert.strictEqual(result.answer, "router: \"calculated 2 + 2\"")
      const starts = (yield* events).filter((e) => e.type === "run.start")
      const child = starts.find((e) => e.agentId === "calculator")
      assert.strictEqual(child?.context["patinox.parent.run.id"], result.runId)
      assert.strictEqual(child?.context.delegationDepth, 1)
      // the child's run is traced under the parent's tool span
      const toolStart = (yield* events).find((e) => e.type === "tool.start" && e.agentId === "router")
      assert.strictEqual(child?.traceId, toolStart?.traceId)
    }).pipe(Effect.provide(services(routerAndCalculator))))

  // Issue 23: a delegated run went on past the asking run's deadline, and its rate limits fell
  // into the shared bucket because it did not know the user.
  it.scoped("passes the asking run's user and deadline on to the run it delegates to", () => {
    const users: Array<string> = []
    const recording = Layer.succeed(ValidationPipeline.ValidationPipeline, {
      ...ValidationPipeline.passThroughService,
      check: (action, context) => {
        if (context.agentId === "calculator") users.push(context.userId ?? "(none)")
        return ValidationPipeline.passThroughService.check(action, context)
      }
    })
    return Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make({ askTimeout: "10 minutes" })
      const calculator = agent("calculator")
      const router = Agent.make("router").model("scripted").instructions("You are the router.")
        .tools(AgentRuntime.asTool(calculator.id, { description: "Asks the calculator" }))
        .build()
      yield* runtime.spawn(calculator)
      const run = yield* Effect.fork(
        Agent.run(router, "slow 60", { userId: "ada", deadline: "10 seconds" }).pipe(
          Effect.provideService(AgentRuntime.AgentRuntime, runtime)
        )
      )
      yield* TestClock.adjust("10 seconds")
      // Both runs end at the deadline, not when the calculator's 60 s model call would.
      yield* Fiber.await(run)
      const ended = (yield* events).find((e) => e.agentId === "calculator" && e.type === "run.error")
      assert.include(JSON.stringify(ended?.result), "RunDeadlineExceeded")
      assert.isAbove(users.length, 0)
      assert.deepStrictEqual([...new Set(users)], ["ada"])
    }).pipe(Effect.provide(Layer.mergeAll(recording, Monitor.layerMemory(), ScriptedModel.layer((request) =>
      system(request) === "You are calculator."
        ? ScriptedModel.delay(ScriptedModel.text("60"), Duration.seconds(60))
        : request.messages.at(-1)?._tag === "tool"
        ? ScriptedModel.text("the calculator did not answer")
        : ScriptedModel.toolCall("ask_calculator", { input: lastUser(request) })
    ))))
  })

  it.scoped("stops a delegation cycle at the maximum depth with DelegationDepthExceeded as a tool error", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make({ maxDelegationDepth: 2 })
      const narcissus = Agent.make("narcissus").model("scripted").instructions("i")
        .tools(AgentRuntime.asTool(agent("narcissus").id, {
          description: "Asks itself"
        }))
        .mailbox({ capacity: 8 })
        .concurrency(4)
        .build()
      yield* runtime.spawn(narcissus)
      const result = yield* runtime.ask(narcissus.id, "loop")
      // depth 0 → 1 → 2 are allowed; the call from depth 2 is refused and shown to the model.
      const requests = yield* Effect.flatMap(ScriptedModel.Recorder, (r) => r.requests)
      const refused = requests.flatMap((r) => r.messages).find((m) => m._tag === "tool" && m.isError)
      assert.include(refused?._tag === "tool" ? refused.content : "", "DelegationDepthExceeded")
      assert.include(result.answer, "done")
    }).pipe(Effect.provide(services((request) => {
      const last = request.messages.at(-1)
      return last?._tag === "tool" ? ScriptedModel.text(`done: ${last.content}`) : ScriptedModel.toolCall("ask_narcissus", { input: "again" })
    }))))

  it.scoped("hands a conversation over to another agent", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.make()
      const front = agent("front")
      const back = agent("back")
      yield* runtime.spawn(front)
      yield* runtime.spawn(back)
      yield* runtime.ask(front.id, "my name is Ada", { conversationId: "c" })
      yield* runtime.handoff("c", front.id, back.id)
      yield* runtime.ask(back.id, "what is my name?", { conversationId: "c" })
      const requests = yield* Effect.flatMap(ScriptedModel.Recorder, (r) => r.requests)
      const last = requests.at(-1)
      assert.strictEqual(last === undefined ? "" : system(last), "You are back.")
      assert.deepStrictEqual(last?.messages.map((m) => m._tag), ["system", "user", "assistant", "user"])
    }).pipe(Effect.provide(services(echo))))
})
