import { MEMO_VALUE_BYTES } from './memo.js'

/** A rule has not run on the value yet; it did not match; it matched. */
export const UNKNOWN = 0
export const NO_MATCH = 1
export const MATCH = 2

/**
 * Values kept at most: two generations of 2048 values of up to 256 bytes, two bytes per rule and
 * per target set each (about 600 rules and 150 sets: 6 MB at most). When the young generation is full it
 * becomes the old one; a value found in the old one moves back, so values that keep coming
 * (headers, cookies, argument names) stay, and a stream of values seen once (ids, timestamps)
 * cannot flush them.
 */
const GENERATION = 2048
/**
 * Values seen in one request only, remembered without verdicts: a value is given verdicts when a
 * second request brings it, so values that never come back (order ids, timestamps, search words)
 * cost no allocation and push nothing out — also when one request holds them twice (`ARGS:q` and
 * the query string's copy of it). Kept as a 32-bit hash of the value with the request it came in,
 * in one of the {@link SEEN_WAYS} slots of the bucket its hash picks; a new value takes the slot
 * of the one seen longest ago (a value pushed out is seen once again: no more than a map that
 * starts over when full), so values every request brings never push each other out. Two values
 * with one hash only give the second its verdicts a request early. A map of values here cost two
 * lookups per new value in a table too large for the cache (the JSON order's 26 new values: a
 * tenth of its inspection).
 */
const SEEN_SLOTS = 8192
const SEEN_WAYS = 4

/** A rule reading a target set, as {@link Verdicts.open} counts it (compile.ts: gatesOf). */
export interface Gate {
  readonly set: number
  /** The list of the set it reads (compile.ts: READS_ALL, READS_NOT_PLAIN, READS_FACTORED). */
  readonly reads: number
  /** Its slot, or -1. */
  readonly slot: number
  /** It runs its operator and has no slot: once reached, its set's values are never left out. */
  readonly slotless: boolean
}

/**
 * What every rule concluded about a value, across requests: a header, a cookie, an argument name
 * seen again (the same browser, the same form) is answered by one lookup for all rules, instead of
 * one transformation and one match per rule. A rule's outcome on a value is memoized only when it
 * depends on the value alone (a slot, engine/compile.ts): its transformations and an operator whose
 * parameter has no macro. A match is not memoized beyond the fact: the rule runs again to give its
 * matched data and captures, which only attacks pay.
 *
 * Past the rules' slots, each value has a flag per target set: set once every rule reading that
 * set that has run at all found nothing in the value, so the set's list leaves the value out and
 * no rule visits it. Rules a request skips (a higher paranoia level, a chain whose head did not
 * match) have not run and do not keep a value in; the first time such a rule is reached, the
 * epoch moves on and every flag set before is void, so it sees every value. In the same way, a
 * rule without a slot that reads a set (its parameter has a macro: `@gt %{tx.arg_length}`) keeps
 * every value in that set's lists only from the first time it is reached ({@link open}).
 */
export class Verdicts {
  #young = new Map<string, Uint16Array>()
  #old = new Map<string, Uint16Array>()
  /** Per slot, the hash of the value seen there ({@link hashOf}), and the request ({@link begin}) it came in. */
  readonly #seenHash = new Int32Array(SEEN_SLOTS)
  readonly #seenIn = new Int32Array(SEEN_SLOTS).fill(-1)
  #request = 0
  readonly #size: number
  /** Which slots' rules have been reached (by any request). */
  readonly #reached: Uint8Array
  /** Which gates have been opened (by any request). */
  readonly #opened: Uint8Array
  /** Per target set, 1 once a rule reading it without a slot was reached: no value is left out of it. */
  readonly #unslotted: Uint8Array
  /** Moves on each time a rule is reached for the first time: at most twice per rule. */
  epoch = 1

  /**
   * @param slots rules with a slot
   * @param setSlots per target set, the slots of every rule reading it; null when a rule reading it
   *   has no slot (it must see every value)
   * @param plainSetSlots the same, less the rules that cannot match a plain value (engine/plain.ts)
   * @param collectionSets per request collection (engine/request-vars.ts), the target sets reading
   *   it: the sets {@link cleanFor} answers for at once
   * @param gates the rules reading target sets ({@link open})
   * @param setReads per target set, which of its lists the rules reached so far read: written here
   *   as rules are reached (the rule set's `setReads`, engine/set-lists.ts)
   */
  constructor(
    readonly slots: number,
    readonly setSlots: readonly (readonly number[] | null)[] = [],
    readonly plainSetSlots: readonly (readonly number[] | null)[] = setSlots,
    readonly collectionSets: readonly (readonly number[])[] = [],
    readonly gates: readonly Gate[] = [],
    readonly setReads: Uint8Array = new Uint8Array(setSlots.length),
  ) {
    this.#size = slots + setSlots.length + collectionSets.length
    this.#reached = new Uint8Array(slots)
    this.#opened = new Uint8Array(gates.length)
    this.#unslotted = new Uint8Array(setSlots.length)
  }

  /** A request begins: a value it brings twice is still a value seen once. */
  begin(): void {
    this.#request = (this.#request + 1) & 0x3fffffff // never -1, an empty slot's mark
  }

  /** A rule with this slot is about to run: the first time, every target-set flag is void. */
  reach(slot: number): void {
    if (this.#reached[slot] === 1) return
    this.#reached[slot] = 1
    this.epoch++
  }

  /**
   * A rule reading a target set (its gate) is about to run: the first time, its set's lists hold
   * what it reads from then on, and a rule without a slot keeps every value in them. Every list
   * made before is void (the epoch moves on).
   */
  open(gate: number): void {
    if (this.#opened[gate] === 1) return
    this.#opened[gate] = 1
    const g = this.gates[gate]!
    this.setReads[g.set]! |= g.reads
    if (g.slotless) this.#unslotted[g.set] = 1
    this.epoch++
  }

  /**
   * The verdicts for `value` (shared, written as rules run), or undefined for a value too long to
   * keep or seen for the first time.
   */
  of(value: string): Uint16Array | undefined {
    if (value.length > MEMO_VALUE_BYTES || this.slots === 0) return undefined
    let v = this.#young.get(value)
    if (v !== undefined) return v
    v = this.#old.get(value)
    if (v === undefined) {
      const hash = hashOf(value)
      const slot = this.#seenSlot(hash)
      if (this.#seenHash[slot] !== hash || this.#seenIn[slot] === -1) {
        this.#seenHash[slot] = hash
        this.#seenIn[slot] = this.#request
        return undefined
      }
      if (this.#seenIn[slot] === this.#request) return undefined
      this.#seenIn[slot] = -1
      v = new Uint16Array(this.#size)
    }
    if (this.#young.size >= GENERATION) {
      this.#old = this.#young
      this.#young = new Map()
    }
    this.#young.set(value, v)
    return v
  }

  /** The slot holding `hash` in its bucket, else the one to put it in: empty, or seen longest ago (requests count up). */
  #seenSlot(hash: number): number {
    const first = hash & (SEEN_SLOTS - SEEN_WAYS)
    let oldest = first
    for (let i = first; i < first + SEEN_WAYS; i++) {
      if (this.#seenHash[i] === hash && this.#seenIn[i] !== -1) return i
      if (this.#seenIn[i]! < this.#seenIn[oldest]!) oldest = i
    }
    return oldest
  }

  /** Whether no rule reading target set `set` can match the value these verdicts are for (`plain`: a plain value). */
  clean(v: Uint16Array, set: number, plain: boolean): boolean {
    const at = this.slots + set
    const epoch = this.epoch
    if (v[at] === epoch) return true
    const list = (plain ? this.plainSetSlots : this.setSlots)[set]
    if (list === null || list === undefined || epoch > 0xffff || this.#unslotted[set] === 1) return false
    for (let i = 0; i < list.length; i++) {
      const slot = list[i]!
      if (this.#reached[slot] === 1 && v[slot] !== NO_MATCH) return false
    }
    v[at] = epoch
    return true
  }

  /**
   * Whether the value is clean ({@link clean}) for every set of `collectionSets[collection]`: then
   * none of them needs to visit it, and a collection's list for them leaves it out. One flag per
   * value and collection, set the first time it holds (per epoch).
   */
  cleanFor(v: Uint16Array, collection: number, plain: boolean): boolean {
    const at = this.slots + this.setSlots.length + collection
    const epoch = this.epoch
    if (v[at] === epoch) return true
    const sets = this.collectionSets[collection]
    if (sets === undefined || sets.length === 0 || epoch > 0xffff) return false
    // A set whose values are never left out reads all of them, not this list: it is not asked.
    for (let i = 0; i < sets.length; i++) if (this.#unslotted[sets[i]!] === 0 && !this.clean(v, sets[i]!, plain)) return false
    v[at] = epoch
    return true
  }

  /** Whether every rule reached so far that reads target set `set` has a slot (so its values can be clean for it). */
  slotted(set: number): boolean {
    return this.setSlots[set] != null && this.#unslotted[set] === 0
  }
}

/** FNV-1a over the value's chars (bytes): 32 bits, as a signed int. */
export function hashOf(value: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193)
  return h | 0
}
