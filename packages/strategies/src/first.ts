import { checkObject, rejectUnknownKeys } from './options-check.js'
import type { Candidate, PickContext, Strategy } from './strategy.js'

/**
 * HAProxy's `first`: the first upstream, in the order given, with spare capacity (in-flight below
 * its `maxConnections`) takes the request, so traffic packs onto as few upstreams as possible and
 * the rest can be scaled down. When none has room, the first one is picked and the request waits
 * in its queue. Without `maxConnections` every request goes to the first eligible upstream.
 * Weights are ignored, as in HAProxy.
 *
 * Cost: pick O(log n) — a tree over the eligible list marks which subtrees have an upstream with
 * room, updated by `onStart` / `onEnd` (O(log n)) and rebuilt (O(n)) only when the core hands over
 * a new eligible list. No allocation per pick.
 *
 * @example
 * createBalancer({ upstreams: [{ url: a, maxConnections: 100 }, { url: b, maxConnections: 100 }], strategy: first() })
 */
export function first(options: Record<string, never> = {}): Strategy {
  const o = checkObject(options, 'first()')
  rejectUnknownKeys(o, [], 'first()')
  /** The eligible list the tree is built over. */
  let list: readonly Candidate[] = []
  let size = 1
  /** room[node] = 1 when some upstream below `node` has spare capacity; leaves at size + position. */
  let room = new Uint8Array(2)
  /** Id → list position: to update an upstream's leaf and to skip `ctx.tried`. */
  let positionOfId = new Map<string, number>()

  const hasRoom = (c: Candidate): number => (c.inFlight < c.maxConnections ? 1 : 0)
  const set = (p: number, value: number): void => {
    let node = p + size
    room[node] = value
    for (node >>= 1; node >= 1; node >>= 1) room[node] = room[2 * node]! | room[2 * node + 1]!
  }
  const build = (eligible: readonly Candidate[]): void => {
    list = eligible
    size = 1
    while (size < eligible.length) size *= 2
    room = new Uint8Array(2 * size)
    positionOfId = new Map()
    for (let p = 0; p < eligible.length; p++) {
      positionOfId.set(eligible[p]!.id, p)
      room[size + p] = hasRoom(eligible[p]!)
    }
    for (let node = size - 1; node >= 1; node--) room[node] = room[2 * node]! | room[2 * node + 1]!
  }
  const refresh = (c: Candidate): void => {
    const p = positionOfId.get(c.id)
    if (p !== undefined && list[p] === c) set(p, hasRoom(c))
  }
  const exclude = (tried: ReadonlySet<string>, on: boolean): void => {
    for (const id of tried) {
      const p = positionOfId.get(id)
      if (p !== undefined) set(p, on ? 0 : hasRoom(list[p]!))
    }
  }

  return {
    name: 'first',
    rebuild() {
      list = [] // the next pick rebuilds over the eligible list it is given
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      if (eligible !== list) build(eligible)
      const tried = ctx.tried
      if (tried.size !== 0) exclude(tried, true)
      let picked: Candidate | undefined
      if (room[1] === 1) {
        let node = 1
        while (node < size) node = room[2 * node] === 1 ? 2 * node : 2 * node + 1
        picked = list[node - size]
      } else {
        // Nobody has room: the first not tried, where the request queues (at most |tried| + 1 steps).
        for (let p = 0; p < list.length && picked === undefined; p++) if (!tried.has(list[p]!.id)) picked = list[p]
      }
      if (tried.size !== 0) exclude(tried, false)
      return picked
    },
    onStart: refresh,
    onEnd: refresh,
  }
}
