/**
 * The balancer's `clock` option, moved by hand: `createBalancer({ clock })`, then `advance(30_000)`
 * sees fail timeouts expire, outlier ejections end, slow start ramp and breakers half-open, in no
 * time and the same way on every run. Sockets keep real time.
 */
export interface VirtualClock {
  /** The virtual time, ms. */
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  /** Moves time forward by `ms`, running each timer that falls due at its own time, in order. */
  advance(ms: number): void
  /** Timers waiting. */
  readonly pending: number
  /** Timers due exactly `ms` from now (to see that a periodic task has rescheduled itself). */
  dueIn(ms: number): number
}

interface Timer {
  at: number
  seq: number
  fn: () => void
}

/**
 * A virtual clock starting at `start` ms. Timers run synchronously inside `advance()`, ties in
 * the order they were set; a timer set by a timer that falls due within the same `advance()` runs
 * in it too. Promise continuations run after `advance()` returns: `await` between steps when the
 * code under test reacts asynchronously.
 */
export function virtualClock(start = 1_000): VirtualClock {
  let t = start
  let seq = 0
  const timers = new Map<number, Timer>()
  return {
    now: () => t,
    setTimeout(fn, ms) {
      const id = ++seq
      timers.set(id, { at: t + Math.max(0, ms), seq: id, fn })
      return id
    },
    clearTimeout(handle) {
      timers.delete(handle as number)
    },
    advance(ms) {
      const end = t + ms
      for (;;) {
        let next: [number, Timer] | undefined
        for (const entry of timers) {
          const timer = entry[1]
          if (timer.at > end) continue
          if (next === undefined || timer.at < next[1].at || (timer.at === next[1].at && timer.seq < next[1].seq)) next = entry
        }
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
