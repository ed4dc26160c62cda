import type { Clock } from '@switchyard/strategies'
import type { ResolvedOptions } from '../config/resolved.js'
import type { Fleet } from '../fleet/fleet.js'
import type { Counters } from './counters.js'
import type { Mirror } from './mirror.js'

/**
 * What an exchange needs of the balancer that runs it: the fleet to pick from and report to, the
 * options, the clock, the request counters, and the open tunnels. The public `Balancer` makes
 * one and hands it to every entry.
 */
export interface ExchangeHost {
  readonly fleet: Fleet
  readonly options: ResolvedOptions
  readonly clock: Clock
  readonly counters: Counters
  /** Open upgrade tunnels (WebSocket): `close()` tears down those still open after its grace period. */
  readonly tunnels: Set<{ destroy(): void }>
  /** The balancer is closing or closed: no new request is taken. */
  readonly isClosed: boolean
  /** The memory every response buffer holds together (`buffering`). */
  readonly bufferBudget: { used: number; readonly max: number }
  /** Request mirroring, when the `mirror` option is set. */
  readonly mirror: Mirror | undefined
}
