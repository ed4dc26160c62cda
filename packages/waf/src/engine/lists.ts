import type { Entry } from './entry.js'

/** The empty list every rule with nothing to read gets: frozen, so a write would throw rather than reach other rules. */
export const NO_ENTRIES: readonly Entry[] = Object.freeze([])

/**
 * A list of entries made again and again without new memory: filled from the start each time,
 * and what it holds copied out at its exact length. An array emptied (`length = 0`) or made anew
 * gets a new backing store of 17 or more slots at its first push; a request made about a hundred
 * such lists (the rules' target lists), about half of everything the engine allocated per request.
 * One builder serves one list at a time: the engine fills it and takes it before it fills another,
 * and clears it before it begins (so a fill cut short by a throw leaves nothing in the next list).
 */
export class ListBuilder {
  readonly #items: Entry[] = []
  #n = 0

  get length(): number {
    return this.#n
  }

  add(e: Entry): void {
    this.#items[this.#n++] = e
  }

  /** What it holds, as a new list of that length ({@link NO_ENTRIES} for none); empty after. */
  take(): readonly Entry[] {
    const n = this.#n
    this.#n = 0
    return n === 0 ? NO_ENTRIES : this.#items.slice(0, n)
  }

  /** Empties it (what it held is dropped at the next fill). */
  clear(): void {
    this.#n = 0
  }
}
