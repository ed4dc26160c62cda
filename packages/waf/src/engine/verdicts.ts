import { MEMO_VALUE_BYTES } from './memo.js'

/** A rule has not run on the value yet; it did not match; it matched. */
export const UNKNOWN = 0
export const NO_MATCH = 1
export const MATCH = 2

/**
 * Values seen at most: 4096 of up to 256 bytes, one byte per rule each (about 600 rules: 2.4 MB
 * at most). Beyond that the memo starts over.
 */
const MAX_VALUES = 4096

/**
 * What every rule concluded about a value, across requests: a header, a cookie, an argument name
 * seen again (the same browser, the same form) is answered by one lookup for all rules, instead of
 * one transformation and one match per rule. A rule's outcome on a value is memoized only when it
 * depends on the value alone (a slot, engine/compile.ts): its transformations and an operator whose
 * parameter has no macro. A match is not memoized beyond the fact: the rule runs again to give its
 * matched data and captures, which only attacks pay.
 */
export class Verdicts {
  readonly #map = new Map<string, Uint8Array>()
  constructor(readonly slots: number) {}

  /** The verdicts for `value` (shared, written as rules run), or undefined for a value too long to keep. */
  of(value: string): Uint8Array | undefined {
    if (value.length > MEMO_VALUE_BYTES || this.slots === 0) return undefined
    let v = this.#map.get(value)
    if (v === undefined) {
      if (this.#map.size >= MAX_VALUES) this.#map.clear()
      v = new Uint8Array(this.slots)
      this.#map.set(value, v)
    }
    return v
  }
}
