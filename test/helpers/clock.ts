import type { Clock } from '@switchyard/core'

/** A clock that moves only when told: `advance(ms)` runs the timers that fall due, in order. */
export interface VirtualClock extends Clock {
  /** Moves time forward by `ms`, running each timer that falls due at its own time. */
  advance(ms: number): void
  /** Timers waiting. */
  readonly pending: number
  /** Timers due exactly `ms` from now (a check that a periodic task has rescheduled itself). */
  dueIn(ms: number): number
}

/**
 * A virtual clock for the balancer's `clock` option (the test kit's `virtualClock()` will take
 * this shape). Timers run synchronously inside `advance()`; sockets keep real time.
 */
export function virtualClock(start = 1_000): VirtualClock {
  let t = start
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  return {
    now: () => t,
    setTimeout(fn, ms) {
      const id = ++seq
      timers.set(id, { at: t + Math.max(0, ms), fn })
      return id
    },
    clearTimeout(handle) {
      timers.delete(handle as number)
    },
    advance(ms) {
      const end = t + ms
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined
        for (const entry of timers) if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry
        if (next === undefined) break
        timers.delete(next[0])
        t = next[1].at
        next[1].fn()
      }
      t = end
    },
    get pending() {
      return timers.size
    },
    dueIn(ms) {
      let n = 0
      for (const timer of timers.values()) if (timer.at === t + ms) n++
      return n
    },
  }
}
