import { checkFunction, checkObject, rejectUnknownKeys } from './options-check.js'
import type { Candidate, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link leastConnections}. */
export interface LeastConnectionsOptions extends StrategyDeps {}

/**
 * Least connections, as nginx `least_conn`: the upstream with the fewest in-flight requests
 * relative to its weight (in-flight / weight) wins; ties go by smooth weighted round robin among
 * the tied upstreams, so equal ones share and weights hold even when nothing is in flight.
 *
 * Cost: pick O(n) over the eligible upstreams (one scan, then one over the tied, as nginx does);
 * rebuild O(n). No allocation per pick.
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
  /** Positions in the eligible list of the upstreams tied for least load (reused, never reallocated per pick). */
  let tied = new Int32Array(8)
  return {
    name: 'least-connections',
    rebuild(all: readonly Candidate[]) {
      let max = 0
      for (const c of all) if (c.index > max) max = c.index
      current = new Float64Array(Math.max(8, max + 1))
      tied = new Int32Array(Math.max(8, all.length))
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      const tried = ctx.tried
      const n = eligible.length
      if (tied.length < n) tied = new Int32Array(n) // only when picking without a rebuild
      // Pass 1: the least in-flight per weight, remembering who ties for it.
      let least = Number.POSITIVE_INFINITY
      let ties = 0
      for (let i = 0; i < n; i++) {
        const c = eligible[i]!
        if (tried.size !== 0 && tried.has(c.id)) continue
        const load = c.inFlight / c.weight
        if (load < least) {
          least = load
          ties = 0
          tied[ties++] = i
        } else if (load === least) tied[ties++] = i
      }
      if (ties === 0) return undefined
      if (ties === 1) return eligible[tied[0]!] // nginx too skips the round robin when one peer is least
      // Pass 2, over the tied only: smooth weighted round robin, as ngx_http_upstream_get_least_conn_peer.
      let best: Candidate | undefined
      let total = 0
      for (let k = 0; k < ties; k++) {
        const c = eligible[tied[k]!]!
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
