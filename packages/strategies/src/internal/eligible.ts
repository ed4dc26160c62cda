import type { Candidate, PickContext } from '../strategy.js'

/**
 * Marks which candidate slots are in an eligible list, so table strategies (ring, Maglev) can
 * check a table entry in O(1). The core hands `pick` the same array object until health changes,
 * so the marks are rebuilt only then (four lists are remembered: the primaries, or the priority
 * levels sharing traffic, and the backups).
 */
export class EligibleMarks {
  #lists: (readonly Candidate[] | undefined)[] = [undefined, undefined, undefined, undefined]
  #marks: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)]
  #next = 0

  /** Returns marks for `list`: `marks[c.index] === 1` when `c` is in it. */
  of(list: readonly Candidate[]): Uint8Array {
    const lists = this.#lists
    for (let i = 0; i < lists.length; i++) if (lists[i] === list) return this.#marks[i]!
    let max = 0
    for (const c of list) if (c.index > max) max = c.index
    const marks = new Uint8Array(max + 1)
    for (const c of list) marks[c.index] = 1
    const slot = this.#next
    this.#next = (slot + 1) % lists.length
    lists[slot] = list
    this.#marks[slot] = marks
    return marks
  }

  clear(): void {
    this.#lists.fill(undefined)
  }
}

/** Whether `c` may be picked: in the eligible list and approved by the core. */
export function isPickable(c: Candidate, marks: Uint8Array, ctx: PickContext): boolean {
  return marks[c.index] === 1 && ctx.accept(c)
}
