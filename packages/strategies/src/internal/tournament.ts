import type { Candidate } from '../strategy.js'

/**
 * A tournament tree over the eligible list a strategy is handed: the root holds the position of
 * the best candidate by `prefers`, and a change to one candidate costs O(log n). For strategies
 * whose choice follows live loads (`leastConnections`, `first`): the core changes `inFlight` only
 * together with `onStart` / `onEnd`, which call {@link update}. The core hands `pick` the same
 * array until health or the set changes, so the tree is rebuilt (O(n)) only then.
 */
export class TournamentTree {
  /** The eligible list the tree is built over. */
  list: readonly Candidate[] = []
  #size = 1
  /** tree[node] = list position of the best leaf below `node`, -1 for none; leaves at size + p. */
  #tree = new Int32Array(2).fill(-1)
  #positionOfId = new Map<string, number>()
  /** Positions left out during one {@link best} call. */
  #out: Int32Array = new Int32Array(8)
  /** True when the candidate at position `a` beats the one at `b`; on a tie the lower position wins. */
  readonly #prefers: (a: number, b: number) => boolean

  constructor(prefers: (a: number, b: number) => boolean) {
    this.#prefers = prefers
  }

  /** Rebuilds over `eligible` unless it is already the list; `onJoin` sees each candidate first. */
  sync(eligible: readonly Candidate[], onJoin?: (c: Candidate) => void): void {
    if (eligible === this.list) return
    this.list = eligible
    const n = eligible.length
    let size = 1
    while (size < n) size *= 2
    this.#size = size
    this.#tree = new Int32Array(2 * size).fill(-1)
    this.#positionOfId = new Map()
    for (let p = 0; p < n; p++) {
      const c = eligible[p]!
      onJoin?.(c)
      this.#positionOfId.set(c.id, p)
      this.#tree[size + p] = p
    }
    for (let node = size - 1; node >= 1; node--) this.#match(node)
  }

  /** Forgets the list (the set or weights changed): the next {@link sync} rebuilds. */
  invalidate(): void {
    this.list = []
  }

  /** Re-plays `c`'s matches after its load changed; nothing when `c` is not in the list. O(log n). */
  update(c: Candidate): void {
    const p = this.#positionOfId.get(c.id)
    if (p !== undefined && this.list[p] === c) this.#climb(p)
  }

  /**
   * The best position whose candidate `accept` approves; -1 when none is. Each refused leader is
   * left out and the matches above it re-played, then all are put back: O(k log n) for k refused.
   */
  best(accept: (c: Candidate) => boolean): number {
    let p = this.#tree[1]!
    if (p < 0 || accept(this.list[p]!)) return p
    let out = 0
    do {
      if (out === this.#out.length) this.#out = growInt32(this.#out)
      this.#out[out++] = p
      this.#tree[this.#size + p] = -1
      this.#climb(p)
      p = this.#tree[1]!
    } while (p >= 0 && !accept(this.list[p]!))
    for (let i = 0; i < out; i++) {
      const q = this.#out[i]!
      this.#tree[this.#size + q] = q
      this.#climb(q)
    }
    return p
  }

  /** Re-plays the matches above position `p`. */
  #climb(p: number): void {
    for (let node = (p + this.#size) >> 1; node >= 1; node >>= 1) this.#match(node)
  }

  #match(node: number): void {
    const a = this.#tree[2 * node]!
    const b = this.#tree[2 * node + 1]!
    this.#tree[node] = a < 0 ? b : b < 0 ? a : this.#prefers(b, a) ? b : a
  }

}

function growInt32(a: Int32Array): Int32Array {
  const next = new Int32Array(Math.max(8, a.length * 2))
  next.set(a)
  return next
}
