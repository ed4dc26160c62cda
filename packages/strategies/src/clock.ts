/**
 * Where time comes from: every timestamp and timer of the balancer and its health checks. The
 * default is the real one (`performance.now`, `setTimeout`); tests and the simulator pass a
 * virtual clock they advance by hand, so time-dependent behaviour runs in no time and the same
 * way every run. Only the type lives here (this package does no I/O and keeps no timers).
 */
export interface Clock {
  /** A monotonic time in ms. */
  now(): number
  /** Calls `fn` once after `ms`; the handle goes to `clearTimeout`. Must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): unknown
  /** Cancels a `setTimeout`; a handle already fired or cleared is ignored. */
  clearTimeout(handle: unknown): void
}
