import type { Entry } from './entry.js'
import { PLAIN_CHARS } from './plain.js'

/** The plain chars, lower case, as symbols 0..39 (upper case maps to lower); -1 for any other char. */
const SYMBOL = new Int8Array(256).fill(-1)
let symbols = 0
for (const c of PLAIN_CHARS) if (c < 65 || c > 90) SYMBOL[c] = symbols++
for (let c = 65; c <= 90; c++) SYMBOL[c] = SYMBOL[c + 32]!
const SPACE = 32

/**
 * Every rule's required factors (engine/factors.ts) in one Aho-Corasick automaton (1975), as a
 * full transition table over the plain chars: a plain value is read once, char by char, and the
 * rules one of whose factors it holds are marked. Most plain values hold none: one read answers
 * for every prefiltered rule.
 */
export class Prefilter {
  /** @param enabled false: no rule is skipped on plain values (tests compare the two) */
  constructor(readonly enabled = true) {}

  readonly #byFactor = new Map<string, number[]>()
  #count = 0
  #delta = new Int32Array(0)
  /** Per state: the factor ending there (its index in `#ids`), or -1. */
  #out = new Int32Array(0)
  /** Per state: the nearest state along the failure links with a factor ending there, or -1. */
  #link = new Int32Array(0)
  #ids: number[][] = []

  /** Registers one rule's factors; its prefilter number. */
  add(factors: readonly string[]): number {
    const id = this.#count++
    for (const f of factors) {
      let list = this.#byFactor.get(f)
      if (list === undefined) this.#byFactor.set(f, (list = []))
      list.push(id)
    }
    return id
  }

  get size(): number {
    return this.#count
  }

  /** Every factor, for tests. */
  factors(): string[] {
    return [...this.#byFactor.keys()]
  }

  /** Builds the automaton, once every rule is added. */
  build(): void {
    const next: Int32Array[] = [new Int32Array(symbols).fill(-1)]
    const out: number[] = [-1]
    this.#ids = []
    for (const [factor, ids] of this.#byFactor) {
      let s = 0
      for (let i = 0; i < factor.length; i++) {
        const a = SYMBOL[factor.charCodeAt(i)]!
        let to = next[s]![a]!
        if (to === -1) {
          to = next.length
          next.push(new Int32Array(symbols).fill(-1))
          out.push(-1)
          next[s]![a] = to
        }
        s = to
      }
      out[s] = this.#ids.length
      this.#ids.push(ids)
    }
    const n = next.length
    const delta = new Int32Array(n * symbols)
    const fail = new Int32Array(n)
    const link = new Int32Array(n).fill(-1)
    // Breadth first: a state's failure is the longest proper suffix that is a prefix of a factor.
    const queue: number[] = []
    for (let a = 0; a < symbols; a++) {
      const to = next[0]![a]!
      delta[a] = to === -1 ? 0 : to
      if (to !== -1) queue.push(to)
    }
    for (let q = 0; q < queue.length; q++) {
      const s = queue[q]!
      const f = fail[s]!
      link[s] = out[f]! !== -1 ? f : link[f]!
      for (let a = 0; a < symbols; a++) {
        const to = next[s]![a]!
        if (to === -1) delta[s * symbols + a] = delta[f * symbols + a]!
        else {
          delta[s * symbols + a] = to
          fail[to] = delta[f * symbols + a]!
          queue.push(to)
        }
      }
    }
    this.#delta = delta
    this.#out = Int32Array.from(out)
    this.#link = link
  }

  /** Whether plain `entry` holds one of rule `id`'s factors (its value read once, then kept on it). */
  passes(entry: Entry, id: number): boolean {
    const hits = this.#hits(entry)
    return hits !== null && hits[id] === 1
  }

  /** Whether plain `entry` holds a factor of any rule. */
  any(entry: Entry): boolean {
    return this.#hits(entry) !== null
  }

  #hits(entry: Entry): Uint8Array | null {
    let hits = entry.hits
    if (hits === undefined) hits = entry.hits = this.scan(entry.value)
    return hits
  }

  /** The rules a plain value holds a factor of, or null for none. Read lower case, runs of spaces as one. */
  scan(value: string): Uint8Array | null {
    const delta = this.#delta
    if (delta.length === 0) return null
    const out = this.#out
    let hits: Uint8Array | null = null
    let s = 0
    let space = false
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i)
      if (c === SPACE) {
        if (space) continue
        space = true
      } else space = false
      s = delta[s * symbols + SYMBOL[c]!]!
      for (let t = out[s] !== -1 ? s : this.#link[s]!; t !== -1; t = this.#link[t]!) {
        hits ??= new Uint8Array(this.#count)
        for (const id of this.#ids[out[t]!]!) hits[id] = 1
      }
    }
    return hits
  }
}
