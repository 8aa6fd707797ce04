/**
 * Host and process figures, sampled on a schedule by a fiber owned by the
 * layer's scope: CPU (host utilization from `os.cpus()` deltas, the 1-minute
 * load average, this process's share from `process.cpuUsage()` deltas),
 * memory (host total/free, process RSS and heap), disk (`statfs` on the data
 * directory) and network (host bytes from `/proc/net/dev`, Linux only). Each
 * sample is reported as a `system.sample` event and set into the gauges of
 * `Metrics`. What cannot be read on this platform is left out, never an error.
 *
 * @since 0.1.0
 */
import { Monitor } from "@patinox/core"
import { Clock, Context, Effect, type Fiber, Layer, Metric, Option, Schedule, type Scope } from "effect"
import { cpus, freemem, loadavg, totalmem } from "node:os"
import { readFile, statfs } from "node:fs/promises"
import * as Metrics from "./Metrics.js"
import * as MonitoringConfig from "./MonitoringConfig.js"
import { monitoringAgentId } from "./PerformanceMonitor.js"

/** @since 0.1.0 @category models */
export interface SystemSample {
  readonly timestamp: number
  readonly cpu: {
    /** Host busy share since the previous sample (since boot for the first), 0..1. */
    readonly hostUtilization: number
    readonly loadAverage1m: number
    readonly cores: number
    /** This process's CPU time over wall time across all cores since the previous sample, 0..1. */
    readonly processUtilization: number
  }
  readonly memory: {
    readonly hostTotalBytes: number
    readonly hostFreeBytes: number
    readonly rssBytes: number
    readonly heapUsedBytes: number
    readonly heapTotalBytes: number
  }
  readonly disk?: { readonly path: string; readonly totalBytes: number; readonly freeBytes: number }
  readonly network?: { readonly receivedBytes: number; readonly transmittedBytes: number }
}

/** @since 0.1.0 @category models */
export interface Service {
  /** Takes a sample now (and makes it the base of the next CPU deltas). */
  readonly sample: Effect.Effect<SystemSample>
  readonly latest: Effect.Effect<Option.Option<SystemSample>>
}

/** @since 0.1.0 @category tags */
export class SystemMetrics extends Context.Tag("@patinox/monitoring/SystemMetrics")<SystemMetrics, Service>() {}

const hostCpuTimes = () => {
  let idle = 0
  let total = 0
  const all = cpus()
  for (const cpu of all) {
    const t = cpu.times
    idle += t.idle
    total += t.user + t.nice + t.sys + t.idle + t.irq
  }
  return { idle, total, cores: Math.max(1, all.length) }
}

/**
 * Host bytes received and sent over all interfaces but loopback, from
 * `/proc/net/dev`; undefined where that file cannot be read or parsed.
 *
 * @since 0.1.0 @category parsing
 */
export const parseNetDev = (text: string): { receivedBytes: number; transmittedBytes: number } | undefined => {
  let receivedBytes = 0
  let transmittedBytes = 0
  let interfaces = 0
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":")
    if (colon < 0) continue
    const name = line.slice(0, colon).trim()
    if (name === "lo" || name === "") continue
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number)
    const rx = fields[0]
    const tx = fields[8]
    if (rx === undefined || tx === undefined || !Number.isFinite(rx) || !Number.isFinite(tx)) continue
    receivedBytes += rx
    transmittedBytes += tx
    interfaces++
  }
  return interfaces === 0 ? undefined : { receivedBytes, transmittedBytes }
}

const readDisk = (path: string) =>
  Effect.tryPromise(() => statfs(path)).pipe(
    Effect.map((stats) => ({ path, totalBytes: stats.blocks * stats.bsize, freeBytes: stats.bavail * stats.bsize })),
    Effect.option
  )

const readNetwork = Effect.tryPromise(() => readFile("/proc/net/dev", "utf8")).pipe(
  Effect.map(parseNetDev),
  Effect.map(Option.fromNullable),
  Effect.orElseSucceed(() => Option.none())
)

/**
 * A sampler of the host and this process, measuring disk usage at `dataDir`.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (dataDir: string = MonitoringConfig.defaults.dataDir): Effect.Effect<Service> =>
  Effect.sync(() => {
    let previousHost = hostCpuTimes()
    let previousProcess = process.cpuUsage()
    let previousWall = process.hrtime.bigint()
    let firstHost: { idle: number; total: number } | undefined = { idle: 0, total: 0 }
    let latest = Option.none<SystemSample>()

    const cpuNow = () => {
      const host = hostCpuTimes()
      const base = firstHost ?? previousHost
      firstHost = undefined
      const totalDelta = host.total - base.total
      const idleDelta = host.idle - base.idle
      const hostUtilization = totalDelta > 0 ? Math.min(1, Math.max(0, 1 - idleDelta / totalDelta)) : 0
      const wall = process.hrtime.bigint()
      const usage = process.cpuUsage(previousProcess)
      const wallMicros = Number(wall - previousWall) / 1_000
      const processUtilization = wallMicros > 0
        ? Math.min(1, Math.max(0, (usage.user + usage.system) / (wallMicros * host.cores)))
        : 0
      previousHost = host
      previousProcess = process.cpuUsage()
      previousWall = wall
      return { hostUtilization, loadAverage1m: loadavg()[0] ?? 0, cores: host.cores, processUtilization }
    }

    const sample = Effect.gen(function*() {
      const timestamp = yield* Clock.currentTimeMillis
      const cpu = cpuNow()
      const usage = process.memoryUsage()
      const disk = yield* readDisk(dataDir)
      const network = yield* readNetwork
      const result: SystemSample = {
        timestamp,
        cpu,
        memory: {
          hostTotalBytes: totalmem(),
          hostFreeBytes: freemem(),
          rssBytes: usage.rss,
          heapUsedBytes: usage.heapUsed,
          heapTotalBytes: usage.heapTotal
        },
        ...(Option.isSome(disk) ? { disk: disk.value } : {}),
        ...(Option.isSome(network) ? { network: network.value } : {})
      }
      latest = Option.some(result)
      return result
    }).pipe(Effect.withSpan("SystemMetrics.sample"))

    return { sample, latest: Effect.sync(() => latest) }
  })

/** Sets the system and process gauges of `Metrics` from a sample. @since 0.1.0 @category metrics */
export const setGauges = (sample: SystemSample): Effect.Effect<void> =>
  Effect.all([
    Metric.set(Metrics.systemCpuUtilization, sample.cpu.hostUtilization),
    Metric.set(Metrics.systemLoadAverage, sample.cpu.loadAverage1m),
    Metric.set(Metrics.processCpuUtilization, sample.cpu.processUtilization),
    Metric.set(Metrics.systemMemoryLimit, sample.memory.hostTotalBytes),
    Metric.set(
      Metric.tagged(Metrics.systemMemoryUsage, "system.memory.state", "used"),
      sample.memory.hostTotalBytes - sample.memory.hostFreeBytes
    ),
    Metric.set(Metric.tagged(Metrics.systemMemoryUsage, "system.memory.state", "free"), sample.memory.hostFreeBytes),
    Metric.set(Metrics.processMemoryUsage, sample.memory.rssBytes),
    Metric.set(Metric.tagged(Metrics.processHeapUsage, "type", "used"), sample.memory.heapUsedBytes),
    Metric.set(Metric.tagged(Metrics.processHeapUsage, "type", "total"), sample.memory.heapTotalBytes),
    sample.disk === undefined ? Effect.void : Effect.all([
      Metric.set(Metrics.filesystemLimit, sample.disk.totalBytes),
      Metric.set(
        Metric.tagged(Metrics.filesystemUsage, "system.filesystem.state", "used"),
        sample.disk.totalBytes - sample.disk.freeBytes
      ),
      Metric.set(Metric.tagged(Metrics.filesystemUsage, "system.filesystem.state", "free"), sample.disk.freeBytes)
    ]),
    sample.network === undefined ? Effect.void : Effect.all([
      Metric.set(Metric.tagged(Metrics.networkIo, "network.io.direction", "receive"), sample.network.receivedBytes),
      Metric.set(Metric.tagged(Metrics.networkIo, "network.io.direction", "transmit"), sample.network.transmittedBytes)
    ])
  ], { discard: true })

/**
 * The flat context of a `system.sample` event (flat so that stores can
 * query it by key): `cpuUtilization`, `cpuPercent`, `loadAverage1m`,
 * `processCpuUtilization`, `memoryTotalBytes`, `memoryFreeBytes`, `rssBytes`,
 * `heapUsedBytes`, `heapTotalBytes`, and where available `diskPath`,
 * `diskTotalBytes`, `diskFreeBytes`, `networkReceivedBytes`,
 * `networkTransmittedBytes`.
 *
 * @since 0.1.0 @category events
 */
export const eventContext = (sample: SystemSample): Record<string, unknown> => ({
  cpuUtilization: sample.cpu.hostUtilization,
  cpuPercent: sample.cpu.hostUtilization * 100,
  loadAverage1m: sample.cpu.loadAverage1m,
  processCpuUtilization: sample.cpu.processUtilization,
  memoryTotalBytes: sample.memory.hostTotalBytes,
  memoryFreeBytes: sample.memory.hostFreeBytes,
  rssBytes: sample.memory.rssBytes,
  heapUsedBytes: sample.memory.heapUsedBytes,
  heapTotalBytes: sample.memory.heapTotalBytes,
  ...(sample.disk === undefined
    ? {}
    : { diskPath: sample.disk.path, diskTotalBytes: sample.disk.totalBytes, diskFreeBytes: sample.disk.freeBytes }),
  ...(sample.network === undefined
    ? {}
    : { networkReceivedBytes: sample.network.receivedBytes, networkTransmittedBytes: sample.network.transmittedBytes })
})

/**
 * Samples now and then every `intervalMs`, setting the gauges and reporting
 * a `system.sample` event each time, from a fiber that stops with the scope.
 *
 * @since 0.1.0 @category sampling
 */
export const sampler = (
  service: Service,
  intervalMs: number
): Effect.Effect<Fiber.RuntimeFiber<number>, never, Monitor.Monitor | Scope.Scope> =>
  service.sample.pipe(
    Effect.tap(setGauges),
    Effect.flatMap((sample) =>
      Monitor.report({
        type: "system.sample",
        agentId: monitoringAgentId,
        metrics: { memoryBytes: Math.max(0, Math.round(sample.memory.rssBytes)) },
        context: eventContext(sample)
      })
    ),
    Effect.repeat(Schedule.spaced(`${intervalMs} millis`)),
    Effect.forkScoped
  )

/** The sampler at `systemSampleIntervalMs` on `dataDir`. @since 0.1.0 @category layers */
export const layer = (
  config: MonitoringConfig.MonitoringConfig = MonitoringConfig.defaults
): Layer.Layer<SystemMetrics, never, Monitor.Monitor> =>
  Layer.scoped(
    SystemMetrics,
    Effect.tap(make(config.dataDir), (service) => sampler(service, config.systemSampleIntervalMs))
  )
