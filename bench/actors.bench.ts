/**
 * The actor runtime under load.
 *
 * 1. Mailbox throughput: messages/s through one running agent and spread over
 *    1,000, with a trivial agent on an instant model (one model call per
 *    message, pass-through pipeline, a no-op monitor), against a bare
 *    `Queue.offer` / `Queue.take` loop in the same run. The ratio is the cost
 *    of everything an actor does per message (an agent run included), not of
 *    the queue alone.
 * 2. Memory per idle running agent, 10,000 of them: heapUsed delta after a
 *    full GC (`gc` is exposed at run time through `v8.setFlagsFromString`).
 * 3. Saturation: senders offer 10× what the agents can take for
 *    `PATINOX_BENCH_SATURATION_S` seconds (default 30) against "fail"
 *    mailboxes; heap max sampled, and every message counted as processed or
 *    refused with a typed error (sent = processed + refused).
 */
import { Agent, AgentRuntime } from "@patinox/agent"
import { LanguageModel, Message, Monitor, Usage, ValidationPipeline } from "@patinox/core"
import { Duration, Effect, Fiber, Layer, ManagedRuntime, Queue } from "effect"
import type { Benchmark, BenchRow } from "./harness.js"
import { heapAfterGc, round } from "./harness.js"

const ONE_ACTOR_MESSAGES = 20_000
const MANY_ACTORS = 1_000
const PER_ACTOR = 20
const IDLE_AGENTS = 10_000
const SATURATION_AGENTS = 20
const SATURATION_WORK = Duration.millis(10) // per message: each agent takes ~100 messages/s
const saturationSeconds = Number(process.env.PATINOX_BENCH_SATURATION_S ?? "30")

const answer = new LanguageModel.ChatResponse({
  model: "instant",
  message: new Message.AssistantMessage({ content: "ok", toolCalls: [] }),
  finishReason: "stop",
  usage: Usage.zero
})

const model = (work: Duration.Duration | undefined): LanguageModel.Service => ({
  provider: "bench",
  model: "instant",
  chat: () => work === undefined ? Effect.succeed(answer) : Effect.as(Effect.sleep(work), answer),
  stream: () => LanguageModel.toDeltas(answer)
})

const services = (work: Duration.Duration | undefined) =>
  Layer.mergeAll(
    Layer.succeed(LanguageModel.LanguageModel, model(work)),
    ValidationPipeline.passThrough,
    Layer.succeed(Monitor.Monitor, { record: () => Effect.void })
  )

const runtimeWith = (work: Duration.Duration | undefined) =>
  ManagedRuntime.make(AgentRuntime.layer({ shutdownDeadline: "60 seconds" }).pipe(Layer.provideMerge(services(work))))

const trivial = (name: string, capacity = 256) =>
  Agent.make(name).model("instant").instructions("ok").mailbox({ capacity }).build()

/** Messages/s through `actors` agents, `perActor` each, sent concurrently per agent. */
const throughput = (actors: number, perActor: number) =>
  Effect.gen(function*() {
    const runtime = yield* AgentRuntime.AgentRuntime
    const running = yield* Effect.forEach(
      Array.from({ length: actors }, (_, i) => trivial(`t${actors}-${i}`)),
      (agent) => runtime.spawn(agent)
    )
    const start = performance.now()
    yield* Effect.forEach(running, (agent) =>
      Effect.gen(function*() {
        for (let i = 0; i < perActor; i++) yield* agent.send("go")
        yield* agent.stop
      }), { concurrency: "unbounded", discard: true })
    const seconds = (performance.now() - start) / 1000
    return (actors * perActor) / seconds
  })

const bareQueue = (messages: number) =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<string>(256)
    const start = performance.now()
    const consumer = yield* Effect.fork(Effect.forEach(Array.from({ length: messages }), () => Queue.take(queue), { discard: true }))
    for (let i = 0; i < messages; i++) yield* Queue.offer(queue, "go")
    yield* Fiber.join(consumer)
    return messages / ((performance.now() - start) / 1000)
  })

const benchmark: Benchmark = {
  name: "actors",
  description: `mailbox throughput (1 and ${MANY_ACTORS} agents vs a bare Queue), memory per idle agent, saturation`,
  run: async (progress) => {
    const rows: Array<BenchRow> = []

    // Each phase in its own function, so that nothing of one is still reachable in the next.
    // -- 1. throughput -------------------------------------------------------
    await (async () => {
      const runtime = runtimeWith(undefined)
      await runtime.runPromise(throughput(1, 2_000)) // warm-up
      const bare = await runtime.runPromise(bareQueue(ONE_ACTOR_MESSAGES * 10))
      const one = await runtime.runPromise(throughput(1, ONE_ACTOR_MESSAGES))
      progress(`1 actor: ${Math.round(one)} msg/s; bare queue: ${Math.round(bare)} msg/s`)
      const many = await runtime.runPromise(throughput(MANY_ACTORS, PER_ACTOR))
      progress(`${MANY_ACTORS} actors: ${Math.round(many)} msg/s`)
      await runtime.dispose()
      rows.push(
        { name: "actors/bare-queue", metric: "throughput", value: round(bare, 0), unit: "msg/s" },
        {
          name: "actors/mailbox-1-actor",
          metric: "throughput",
          value: round(one, 0),
          unit: "msg/s",
          baseline: round(bare, 0),
          ratio: round(one / bare, 4)
        },
        {
          name: `actors/mailbox-${MANY_ACTORS}-actors`,
          metric: "throughput",
          value: round(many, 0),
          unit: "msg/s",
          baseline: round(bare, 0),
          ratio: round(many / bare, 4)
        }
      )
    })()

    // -- 2. memory per idle agent -------------------------------------------
    await (async () => {
      const runtime = runtimeWith(undefined)
      await runtime.runPromise(Effect.void)
      const before = heapAfterGc()
      await runtime.runPromise(
        Effect.flatMap(AgentRuntime.AgentRuntime, (r) =>
          Effect.forEach(Array.from({ length: IDLE_AGENTS }, (_, i) => trivial(`idle-${i}`, 64)), (a) => r.spawn(a), {
            discard: true
          }))
      )
      const after = heapAfterGc()
      const perAgent = (after - before) / IDLE_AGENTS
      progress(`${IDLE_AGENTS} idle agents: ${round(perAgent / 1024, 2)} KB each (target < 20 KB)`)
      await runtime.dispose()
      rows.push({ name: `actors/idle-agent-at-${IDLE_AGENTS}`, metric: "heap per agent", value: round(perAgent / 1024, 2), unit: "KB" })
    })()

    // -- 3. saturation ---------------------------------------------------------
    await (async () => {
      const runtime = runtimeWith(SATURATION_WORK)
      const heapBefore = heapAfterGc()
      let heapMax = heapBefore
      const sampler = setInterval(() => {
        heapMax = Math.max(heapMax, process.memoryUsage().heapUsed)
      }, 250)
      const counts = await runtime.runPromise(
        Effect.gen(function*() {
          const r = yield* AgentRuntime.AgentRuntime
          const agents = yield* Effect.forEach(
            Array.from({ length: SATURATION_AGENTS }, (_, i) =>
              Agent.make(`busy-${i}`).model("instant").instructions("ok").mailbox({ capacity: 64, overflow: "fail" }).build()),
            (a) => r.spawn(a)
          )
          let sent = 0
          let refused = 0
          const deadline = performance.now() + saturationSeconds * 1000
          // 10× the agents' capacity: each takes ~1 message per 10 ms; offer 10 per 10 ms.
          const perTick = 10 * SATURATION_AGENTS
          while (performance.now() < deadline) {
            for (let i = 0; i < perTick; i++) {
              const agent = agents[i % SATURATION_AGENTS]
              if (agent === undefined) continue
              sent++
              const outcome = yield* Effect.either(agent.send("work"))
              if (outcome._tag === "Left") refused++
            }
            yield* Effect.sleep(SATURATION_WORK)
          }
          const stopped = yield* Effect.forEach(agents, (a) => a.stop)
          const processed = stopped.reduce((n, s) => n + s.stats.processed, 0)
          return { sent, refused, processed }
        })
      )
      clearInterval(sampler)
      await runtime.dispose()
      const lost = counts.sent - counts.processed - counts.refused
      progress(
        `saturation ${saturationSeconds}s: sent ${counts.sent}, processed ${counts.processed}, refused ${counts.refused}, ` +
          `unaccounted ${lost}, heap max ${round(heapMax / 1024 / 1024, 1)} MB (${round(heapBefore / 1024 / 1024, 1)} MB before)`
      )
      rows.push(
        { name: "actors/saturation", metric: "sent", value: counts.sent, unit: "messages" },
        { name: "actors/saturation", metric: "processed", value: counts.processed, unit: "messages" },
        { name: "actors/saturation", metric: "refused (MailboxFull)", value: counts.refused, unit: "messages" },
        { name: "actors/saturation", metric: "unaccounted", value: lost, unit: "messages" },
        { name: "actors/saturation", metric: "heap before", value: round(heapBefore / 1024 / 1024, 1), unit: "MB" },
        { name: "actors/saturation", metric: "heap max", value: round(heapMax / 1024 / 1024, 1), unit: "MB" }
      )
    })()
    return rows
  }
}

export default benchmark
