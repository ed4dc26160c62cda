import { checkFunction, checkObject, rejectUnknownKeys } from './options-check.js'
import type { Candidate, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link leastConnections}. */
export interface LeastConnectionsOptions extends StrategyDeps {}

/**
 * Least connections, as nginx `least_conn`: the upstream with the fewest in-flight requests
 * relative to its weight (in-flight / weight) wins. Ties go by weighted round robin among the
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
  checkFunction<() => number>(o.random, 'leastConnections().random', Math.random)

  /** The eligible list the tree is built over (the core keeps one array per health state). */
  let list: readonly Candidate[] = []
  /** Leaves in the tree: a power of two ≥ list.length. */
  let size = 1
  /** tree[node] = list position of the best leaf below `node` (-1: none); leaves at size + p. */
  let tree = new Int32Array(2).fill(-1)
  /** Per list position: in-flight / weight as last told, or Infinity while excluded (tried). */
  let load = new Float64Array(1)
  /** Per upstream slot (`Candidate.index`): its stride pass; the lowest wins among equal loads. */
  let pass = new Float64Array(8)
  /** Per upstream slot: its position in `list`, when `list[pos] === candidate`. */
  let posOf = new Int32Array(8).fill(-1)
  /** Id → list position, for skipping `ctx.tried` on retries. */
  let positionOfId = new Map<string, number>()
  /** The pass of the last winner: a member joining (or coming back) starts there, not ahead. */
  let virtualTime = 0

  const better = (a: number, b: number): number => {
    if (a < 0) return b
    if (b < 0) return a
    const la = load[a]!
    const lb = load[b]!
    if (la !== lb) return la < lb ? a : b
    const pa = pass[list[a]!.index]!
    const pb = pass[list[b]!.index]!
    return pb < pa ? b : a
  }

  const climb = (p: number): void => {
    for (let node = (p + size) >> 1; node >= 1; node >>= 1) tree[node] = better(tree[2 * node]!, tree[2 * node + 1]!)
  }

  const ensureSlots = (index: number): void => {
    if (index < pass.length) return
    const next = new Float64Array(Math.max(index + 1, pass.length * 2))
    next.set(pass)
    pass = next
    const pos = new Int32Array(next.length).fill(-1)
    pos.set(posOf)
    posOf = pos
  }

  const build = (eligible: readonly Candidate[]): void => {
    for (const c of list) if (c.index < posOf.length) posOf[c.index] = -1
    list = eligible
    const n = eligible.length
    size = 1
    while (size < n) size *= 2
    tree = new Int32Array(2 * size).fill(-1)
    load = new Float64Array(size)
    positionOfId = new Map()
    for (let p = 0; p < n; p++) {
      const c = eligible[p]!
      ensureSlots(c.index)
      if (pass[c.index]! < virtualTime) pass[c.index] = virtualTime
      posOf[c.index] = p
      positionOfId.set(c.id, p)
      load[p] = c.inFlight / c.weight
      tree[size + p] = p
    }
    for (let node = size - 1; node >= 1; node--) tree[node] = better(tree[2 * node]!, tree[2 * node + 1]!)
  }

  /** Re-reads `c`'s load into the tree, when `c` is in the current list. O(log n). */
  const refresh = (c: Candidate): void => {
    if (c.index >= posOf.length) return
    const p = posOf[c.index]!
    if (p < 0 || list[p] !== c) return
    load[p] = c.inFlight / c.weight
    climb(p)
  }

  const exclude = (tried: ReadonlySet<string>, on: boolean): void => {
    for (const id of tried) {
      const p = positionOfId.get(id)
      if (p === undefined) continue
      const c = list[p]!
      load[p] = on ? Number.POSITIVE_INFINITY : c.inFlight / c.weight
      climb(p)
    }
  }

  return {
    name: 'least-connections',
    rebuild(all: readonly Candidate[]) {
      let max = 0
      for (const c of all) if (c.index > max) max = c.index
      ensureSlots(max)
      pass.fill(virtualTime) // slots may be reused by new upstreams: everyone restarts level
      list = [] // weights may have changed: the next pick rebuilds the tree
      size = 1
      tree = new Int32Array(2).fill(-1)
      posOf.fill(-1)
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      if (eligible !== list) build(eligible)
      if (eligible.length === 0) return undefined
      const tried = ctx.tried
      if (tried.size !== 0) exclude(tried, true)
      const p = tree[1]!
      const winner = p >= 0 && load[p] !== Number.POSITIVE_INFINITY ? list[p] : undefined
      if (tried.size !== 0) exclude(tried, false)
      if (winner === undefined) return undefined
      virtualTime = pass[winner.index]!
      pass[winner.index] = virtualTime + 1 / winner.weight
      climb(p)
      return winner
    },
    onStart: refresh,
    onEnd: refresh,
  }
}
