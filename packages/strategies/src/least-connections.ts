import { checkFunction, checkObject, rejectUnknownKeys } from './options-check.js'
import type { Candidate, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link leastConnections}. */
export interface LeastConnectionsOptions extends StrategyDeps {}

/**
 * Least connections, as nginx `least_conn`: the upstream with the fewest in-flight requests
 * relative to its weight (in-flight / weight) wins; ties go by smooth weighted round robin among
 * the tied upstreams, so equal ones share and weights hold even when nothing is in flight.
 *
 * Cost: pick O(n) over the eligible upstreams (two scans, as nginx does); rebuild O(n). No
 * allocation.
 *
 * @example
 * createBalancer({ upstreams, strategy: leastConnections() })
 */
export function leastConnections(options: LeastConnectionsOptions = {}): Strategy {
  const o = checkObject(options, 'leastConnections()')
  rejectUnknownKeys(o, ['random', 'now'], 'leastConnections()')
  checkFunction<() => number>(o.random, 'leastConnections().random', Math.random)
  /** Smooth weighted round robin state among tied upstreams (nginx keeps `current_weight` too). */
  let current = new Float64Array(8)
  return {
    name: 'least-connections',
    rebuild(all: readonly Candidate[]) {
      let max = 0
      for (const c of all) if (c.index > max) max = c.index
      current = new Float64Array(Math.max(8, max + 1))
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      const tried = ctx.tried
      // Pass 1: the least in-flight per weight (nginx compares conns/weight by cross-multiplying).
      let least = Number.POSITIVE_INFINITY
      let single: Candidate | undefined
      let ties = 0
      for (let i = 0; i < eligible.length; i++) {
        const c = eligible[i]!
        if (tried.size !== 0 && tried.has(c.id)) continue
        const load = c.inFlight / c.weight
        if (load < least) {
          least = load
          single = c
          ties = 1
        } else if (load === least) ties++
      }
      if (single === undefined) return undefined
      if (ties === 1) return single // nginx too skips the round robin when one peer is least
      // Pass 2: smooth weighted round robin among the tied ones, as ngx_http_upstream_get_least_conn_peer.
      let best: Candidate | undefined
      let total = 0
      for (let i = 0; i < eligible.length; i++) {
        const c = eligible[i]!
        if (c.inFlight / c.weight !== least || (tried.size !== 0 && tried.has(c.id))) continue
        if (c.index >= current.length) {
          const next = new Float64Array(Math.max(c.index + 1, current.length * 2))
          next.set(current)
          current = next
        }
        current[c.index]! += c.weight
        total += c.weight
        if (best === undefined || current[c.index]! > current[best.index]!) best = c
      }
      current[best!.index]! -= total
      return best
    },
  }
}
