import { checkFunction, checkObject, rejectUnknownKeys } from './options-check.js'
import { TournamentTree } from './internal/tournament.js'
import type { Candidate, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link leastConnections}. */
export interface LeastConnectionsOptions extends StrategyDeps {}

/**
 * Least connections, as nginx `least_conn`: the upstream with the fewest in-flight requests
 * relative to its weight (in-flight / weight) wins; with the balancer's `cost` option, the least
 * work in flight (`load` / weight). Ties go by weighted round robin among the
 * tied upstreams (stride scheduling: each pick moves the winner back by 1 / weight, as HAProxy's
 * `leastconn` re-queues a server behind its equals), so equal ones share and weights hold even
 * when nothing is in flight.
 *
 * Cost: pick O(log n) — a tournament tree over the eligible list, updated when an upstream's load
 * changes (`onStart` / `onEnd`, which the core calls after it has counted the request) and rebuilt
 * in O(n) only when the core hands over a different eligible list (a health or set change). No
 * allocation per pick.
 *
 * @example
 * createBalancer({ upstreams, strategy: leastConnections() })
 */
export function leastConnections(options: LeastConnectionsOptions = {}): Strategy {
  const o = checkObject(options, 'leastConnections()')
  rejectUnknownKeys(o, ['random', 'now'], 'leastConnections()')
  const rng = checkFunction<() => number>(o.random, 'leastConnections().random', Math.random)

  /** Per upstream slot (`Candidate.index`): its stride pass; the lowest wins among equal loads. */
  let pass = new Float64Array(8)
  /** The pass of the last winner: a member joining (or coming back) starts there, not ahead. */
  let virtualTime = 0
  const tree: TournamentTree = new TournamentTree((a, b) => {
    const ca = tree.list[a]!
    const cb = tree.list[b]!
    // load / weight compared without dividing (exact for integer costs)
    const la = (ca.load ?? ca.inFlight) * cb.weight
    const lb = (cb.load ?? cb.inFlight) * ca.weight
    return la < lb || (la === lb && pass[ca.index]! < pass[cb.index]!)
  })
  const join = (c: Candidate): void => {
    if (c.index >= pass.length) {
      const next = new Float64Array(Math.max(c.index + 1, pass.length * 2))
      next.set(pass)
      pass = next
    }
    if (pass[c.index]! < virtualTime) pass[c.index] = virtualTime
  }

  return {
    name: 'least-connections',
    rebuild(all: readonly Candidate[]) {
      // Slots may be reused by new upstreams: everyone restarts level, each at a random point of
      // its first turn, so that many balancers (one per process) do not break their ties in the
      // same order, in lock step (Envoy seeds round robin the same way). The simulator's herd
      // scenario showed it: 50 instances in lock step tripled mean latency.
      pass.fill(virtualTime)
      for (const c of all) {
        join(c)
        pass[c.index] = virtualTime + rng() / c.weight
      }
      tree.invalidate() // weights may have changed: the next pick rebuilds the tree
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      tree.sync(eligible, join)
      const p = tree.best(ctx.accept)
      if (p < 0) return undefined
      const winner = eligible[p]!
      virtualTime = pass[winner.index]!
      pass[winner.index] = virtualTime + 1 / winner.weight
      tree.update(winner)
      return winner
    },
    onStart: (c) => tree.update(c),
    onEnd: (c) => tree.update(c),
  }
}
