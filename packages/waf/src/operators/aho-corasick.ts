/**
 * Aho-Corasick (1975): every phrase of a list found in one pass over the input, however long the
 * list. Built once per list; case-insensitive for ASCII, as `@pm` is. `find` returns the first
 * phrase that ends earliest in the input.
 */
export class PhraseMatcher {
  readonly #next: Map<number, number>[] = [new Map()]
  readonly #fail: number[] = [0]
  readonly #out: (string | undefined)[] = [undefined]

  constructor(phrases: readonly string[]) {
    for (const phrase of phrases) {
      if (phrase === '') continue
      let state = 0
      for (let i = 0; i < phrase.length; i++) {
        const c = lower(phrase.charCodeAt(i))
        let to = this.#next[state]!.get(c)
        if (to === undefined) {
          to = this.#next.length
          this.#next.push(new Map())
          this.#fail.push(0)
          this.#out.push(undefined)
          this.#next[state]!.set(c, to)
        }
        state = to
      }
      this.#out[state] ??= phrase
    }
    // Breadth first: each state's failure link is the longest proper suffix that is also a prefix.
    const queue: number[] = []
    for (const to of this.#next[0]!.values()) queue.push(to)
    for (let q = 0; q < queue.length; q++) {
      const state = queue[q]!
      for (const [c, to] of this.#next[state]!) {
        let f = this.#fail[state]!
        while (f !== 0 && !this.#next[f]!.has(c)) f = this.#fail[f]!
        const link = this.#next[f]!.get(c)
        this.#fail[to] = link !== undefined && link !== to ? link : 0
        this.#out[to] ??= this.#out[this.#fail[to]!]
        queue.push(to)
      }
    }
  }

  find(input: string): string | undefined {
    let state = 0
    for (let i = 0; i < input.length; i++) {
      const c = lower(input.charCodeAt(i))
      while (state !== 0 && !this.#next[state]!.has(c)) state = this.#fail[state]!
      state = this.#next[state]!.get(c) ?? 0
      const hit = this.#out[state]
      if (hit !== undefined) return hit
    }
    return undefined
  }
}

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c
}
