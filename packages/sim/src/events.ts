import type { SimEvent } from './simulate.js'

/**
 * Drift: upstream `upstream`'s latency multiplier moves from `from` to `to` between `at` and
 * `at + overMs`, in `steps` equal steps (a service slowly degrading, or warming up after a
 * restart: a cold cache, a JIT still compiling).
 */
export function drift(upstream: number, o: { at: number; overMs: number; from: number; to: number; steps?: number }): SimEvent[] {
  const steps = o.steps ?? 20
  return Array.from({ length: steps + 1 }, (_, k) => ({
    at: o.at + (o.overMs * k) / steps,
    upstream,
    slowFactor: o.from + ((o.to - o.from) * k) / steps,
  }))
}

/**
 * Flapping: upstream `upstream` refuses connections for `downMs`, then serves for `upMs`, again
 * and again from `at` until `until` (a process in a crash loop, a link that comes and goes).
 */
export function flapping(upstream: number, o: { at: number; until: number; downMs: number; upMs: number }): SimEvent[] {
  const events: SimEvent[] = []
  for (let t = o.at; t < o.until; t += o.downMs + o.upMs) {
    events.push({ at: t, upstream, crashed: true }, { at: Math.min(o.until, t + o.downMs), upstream, crashed: false })
  }
  return events
}

/** An error burst: upstream `upstream` answers `errorRate` of its requests with a 500 from `at` for `forMs`. */
export function errorBurst(upstream: number, o: { at: number; forMs: number; errorRate: number }): SimEvent[] {
  return [
    { at: o.at, upstream, errorRate: o.errorRate },
    { at: o.at + o.forMs, upstream, errorRate: 0 },
  ]
}
