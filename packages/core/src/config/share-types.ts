import type { DownReason, UpReason } from './events.js'

/** The mechanism behind a shared verdict: passive accounting, active probes, outlier ejection, the breaker. */
export type ShareSource = 'passive' | 'active' | 'outlier' | 'breaker'

/**
 * What one balancer tells the others that balance the same upstreams (cluster workers): plain
 * JSON, so it crosses an IPC channel as is. `from` names the balancer that decided; the channel
 * sets it on what it delivers (a verdict is kept per sender and source, so one sender's `up`
 * never clears another's `down`).
 *
 * - `down`: the sender took the upstream out; `ms` says for how long when the mechanism knows
 *   (passive `failTimeout`, an outlier ejection, a breaker's `resetTimeout`); without `ms` it
 *   lasts until the same sender says `up` (active probes).
 * - `up`: the sender's verdict is over.
 * - `failure`: a failed attempt the sender's passive accounting counted; the receivers count it
 *   too, so `passive.maxFails` holds across every balancer sharing the channel.
 */
export type ShareNews =
  | { type: 'down'; upstream: string; by: ShareSource; reason: DownReason; ms?: number; from?: string }
  | { type: 'up'; upstream: string; by: ShareSource; reason: UpReason; from?: string }
  | { type: 'failure'; upstream: string; from?: string }

/**
 * A channel between balancers over the same upstreams (the `share` option): the gateway's
 * cluster primary relays it between its workers. `send` must not throw; `subscribe` returns the
 * function that ends the subscription (called by `lb.close()`).
 */
export interface ShareChannel {
  send(news: ShareNews): void
  subscribe(receive: (news: ShareNews) => void): () => void
}
