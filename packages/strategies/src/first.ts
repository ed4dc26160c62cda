import { checkObject, rejectUnknownKeys } from './options-check.js'
import type { Candidate, PickContext, Strategy } from './strategy.js'

/**
 * HAProxy's `first`: the first upstream, in the order given, with spare capacity (in-flight below
 * its `maxConnections`) takes the request, so traffic packs onto as few upstreams as possible and
 * the rest can be scaled down. When none has room, the first one is picked and the request waits
 * in its queue. Without `maxConnections` every request goes to the first eligible upstream.
 * Weights are ignored, as in HAProxy.
 *
 * Cost: pick O(n) in the worst case (a scan from the front); no allocation, no state.
 *
 * @example
 * createBalancer({ upstreams: [{ url: a, maxConnections: 100 }, { url: b, maxConnections: 100 }], strategy: first() })
 */
export function first(options: Record<string, never> = {}): Strategy {
  const o = checkObject(options, 'first()')
  rejectUnknownKeys(o, [], 'first()')
  return {
    name: 'first',
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      const tried = ctx.tried
      let fallback: Candidate | undefined
      for (let i = 0; i < eligible.length; i++) {
        const c = eligible[i]!
        if (tried.size !== 0 && tried.has(c.id)) continue
        if (c.inFlight < c.maxConnections) return c
        fallback ??= c
      }
      return fallback
    },
  }
}
