import { checkObject, rejectUnknownKeys } from './options-check.js'
import { TournamentTree } from './internal/tournament.js'
import type { Candidate, PickContext, Strategy } from './strategy.js'

/**
 * HAProxy's `first`: the first upstream, in the order given, with spare capacity (in-flight below
 * its `maxConnections`) takes the request, so traffic packs onto as few upstreams as possible and
 * the rest can be scaled down. When none has room, the first one is picked and the request waits
 * in its queue. Without `maxConnections` every request goes to the first eligible upstream.
 * Weights are ignored, as in HAProxy.
 *
 * Cost: pick O(log n) — a tournament tree over the eligible list (the first with room beats the
 * rest), updated by `onStart` / `onEnd` (O(log n)) and rebuilt (O(n)) only when the core hands over
 * a new eligible list. No allocation per pick.
 *
 * @example
 * createBalancer({ upstreams: [{ url: a, maxConnections: 100 }, { url: b, maxConnections: 100 }], strategy: first() })
 */
export function first(options: Record<string, never> = {}): Strategy {
  const o = checkObject(options, 'first()')
  rejectUnknownKeys(o, [], 'first()')
  const hasRoom = (c: Candidate): boolean => c.inFlight < c.maxConnections
  // The first with room wins; with nobody (or everybody) room, the lower position: the first left.
  const tree: TournamentTree = new TournamentTree((a, b) => hasRoom(tree.list[a]!) && !hasRoom(tree.list[b]!))
  return {
    name: 'first',
    rebuild() {
      tree.invalidate()
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      tree.sync(eligible)
      const p = tree.best(ctx.accept)
      return p < 0 ? undefined : eligible[p]
    },
    onStart: (c) => tree.update(c),
    onEnd: (c) => tree.update(c),
  }
}
