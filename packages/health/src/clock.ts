import type { Clock } from '@switchyard/strategies'

/** The real clock: `performance.now()` and unref'd timers (a balancer never holds a process open). */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return timer
  },
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout)
  },
})
