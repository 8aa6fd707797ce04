import { assert, describe, it } from "@effect/vitest"
import { Monitor } from "@patinox/core"
import { Effect, Exit, Metric, Scope } from "effect"
import * as Metrics from "../src/Metrics.js"
import * as SystemMetrics from "../src/SystemMetrics.js"

describe("SystemMetrics", () => {
  it.effect("takes a sane sample of CPU, memory, disk and network", () =>
    Effect.gen(function*() {
      const service = yield* SystemMetrics.make(".")
      yield* service.sample
      // burn a little CPU so the second sample has a delta to measure
      let x = 0
      for (let i = 0; i < 2_000_000; i++) x += Math.sqrt(i)
      assert.isAbove(x, 0)
      const sample = yield* service.sample
      assert.isAtLeast(sample.cpu.hostUtilization, 0)
      assert.isAtMost(sample.cpu.hostUtilization, 1)
      assert.isAtLeast(sample.cpu.processUtilization, 0)
      assert.isAtMost(sample.cpu.processUtilization, 1)
      assert.isAtLeast(sample.cpu.cores, 1)
      assert.isAbove(sample.memory.hostTotalBytes, sample.memory.hostFreeBytes)
      assert.isAbove(sample.memory.rssBytes, 1_000_000)
      assert.isAtLeast(sample.memory.heapTotalBytes, sample.memory.heapUsedBytes)
      if (process.platform === "linux") {
        assert.isDefined(sample.disk)
        assert.isAbove(sample.disk?.totalBytes ?? 0, 0)
        assert.isAtMost(sample.disk?.freeBytes ?? 0, sample.disk?.totalBytes ?? 0)
      }
    }))

  it.effect("leaves the disk out when the data directory cannot be read", () =>
    Effect.gen(function*() {
      const service = yield* SystemMetrics.make("/nonexistent/patinox")
      const sample = yield* service.sample
      assert.isUndefined(sample.disk)
    }))

  it("parses /proc/net/dev without loopback, and nothing from anything else", () => {
    const text = [
      "Inter-|   Receive                                                |  Transmit",
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
      "    lo: 1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0",
      "  eth0: 5000      50    0    0    0     0          0         0     7000      70    0    0    0     0       0          0",
      "  eth1: 1        1    0    0    0     0          0         0     2      1    0    0    0     0       0          0"
    ].join("\n")
    assert.deepStrictEqual(SystemMetrics.parseNetDev(text), { receivedBytes: 5001, transmittedBytes: 7002 })
    assert.isUndefined(SystemMetrics.parseNetDev("not the file"))
  })

  it.live("samples on a schedule into events and gauges, and stops with its scope", () =>
    Effect.gen(function*() {
      const memory = yield* Monitor.MemoryMonitor
      const service = yield* SystemMetrics.make(".")
      const scope = yield* Scope.make()
      yield* Scope.extend(SystemMetrics.sampler(service, 20), scope)
      yield* Effect.sleep("150 millis")
      yield* Scope.close(scope, Exit.void)
      const count = (yield* memory.events).filter((e) => e.type === "system.sample").length
      assert.isAtLeast(count, 2)
      const first = (yield* memory.events)[0]
      assert.isAbove(Number(first?.context["rssBytes"]), 0)
      assert.isAtLeast(Number(first?.context["cpuPercent"]), 0)
      assert.isAbove((yield* Metric.value(Metrics.processMemoryUsage)).value, 0)
      assert.isAbove((yield* Metric.value(Metrics.systemMemoryLimit)).value, 0)
      yield* Effect.sleep("100 millis")
      assert.strictEqual((yield* memory.events).filter((e) => e.type === "system.sample").length, count)
    }).pipe(Effect.provide(Monitor.layerMemory())))
})
