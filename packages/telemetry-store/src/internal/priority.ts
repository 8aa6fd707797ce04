import { constants, setPriority } from "node:os"

/**
 * Lowers the scheduling priority of the calling thread, so that on a busy
 * machine the telemetry threads give way to the agents' thread. Linux only:
 * there `setpriority(PRIO_PROCESS, 0)` applies to the calling thread, while
 * elsewhere it would lower the whole process. Best effort: a refusal is
 * ignored (the thread then runs at normal priority).
 */
export const yieldToAgents = (): void => {
  if (process.platform !== "linux") return
  try {
    setPriority(0, constants.priority.PRIORITY_LOW)
  } catch {
    // not permitted here: normal priority
  }
}
