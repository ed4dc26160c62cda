import type { VariableRef } from '../seclang/parser.js'
import { MEMO_VALUE_BYTES } from './memo.js'
import { isPlain } from './plain.js'

/**
 * One value a rule can inspect: `ARGS:id` = `5`. Values and keys are byte strings (one char a byte,
 * as ModSecurity's are bytes). `cache` holds the value's transformations, node id then result
 * (engine/transforms.ts), so each is computed once per value whatever number of rules ask.
 */
export class Entry {
  cache: (number | string)[] | undefined = undefined
  /** Every rule's verdict on this value (engine/verdicts.ts), looked up once per value and request; null when the value is not kept. */
  verdicts: Uint16Array | null | undefined = undefined
  /** The prefiltered rules whose factors this plain value holds (engine/prefilter.ts); null for none. */
  hits: Uint8Array | null | undefined = undefined
  /** The value as a rule's transformations left it when it matched, as an entry (MATCHED_VAR): the last one made. */
  tested: Entry | undefined = undefined
  #lower: string | undefined = undefined
  #plain = -1
  constructor(
    /** Upper case: `ARGS`, `REQUEST_HEADERS`. */
    readonly collection: string,
    /** The member's name as sent (`User-Agent`); `''` for a variable with one value (`REQUEST_METHOD`). */
    readonly key: string,
    readonly value: string,
  ) {}

  /** The key in lower case (keys are compared that way), made the first time it is asked for. */
  get lower(): string {
    return (this.#lower ??= this.key.toLowerCase())
  }

  /** Whether the value holds only plain chars (engine/plain.ts), found the first time it is asked. */
  get plain(): boolean {
    if (this.#plain === -1) this.#plain = isPlain(this.value) ? 1 : 0
    return this.#plain === 1
  }

  /** `ARGS:id`, `REQUEST_HEADERS:User-Agent`, `REQUEST_FILENAME`: MATCHED_VAR_NAME. */
  get name(): string {
    return this.key === '' ? this.collection : `${this.collection}:${this.key}`
  }
}

/** TX variables' entries kept at most; past that the cache starts over (TX names can come from a request: `tx.header_name_<name>`). */
const TX_ENTRIES = 1024

/**
 * TX variables' entries, shared by every request: TX holds the same values request after request
 * (the paranoia level the CRS reads a hundred times each), so each value's entry, its
 * transformations and its verdicts are made once, not once per request. An entry is replaced when
 * its variable's value changes.
 */
export class TxEntries {
  /** Per variable, its entry as a list of one: a rule reading only it is given this list. */
  readonly #map = new Map<string, readonly [Entry]>()

  get(key: string, value: string): Entry {
    return this.alone(key, value)[0]
  }

  /** The entry as the one value of a rule's targets (kept with it: no list made per rule and request). */
  alone(key: string, value: string): readonly [Entry] {
    let list = this.#map.get(key)
    if (list === undefined || list[0].value !== value) {
      if (this.#map.size >= TX_ENTRIES) this.#map.clear()
      this.#map.set(key, (list = [new Entry('TX', key, value)]))
    }
    return list
  }
}

/** Request entries kept at most; past that the cache starts over (names and values come from clients). */
const KEPT_ENTRIES = 4096

/**
 * Request entries shared by every request: a header, a cookie or an argument name a client sends
 * again is the same entry, with its verdicts, lower-case key, plainness and transformations already
 * made (engine/verdicts.ts). Only entries whose value has verdicts (one a second request brought,
 * of at most 256 bytes) are kept, so values seen once (ids, search words) never take a place. Everything an entry keeps
 * is made from its value and key alone, so sharing it across requests changes nothing.
 */
export class KeptEntries {
  #byCollection = new Map<string, Map<string, Map<string, Entry>>>()
  #count = 0
  /** Per collection, the last list made of kept entries only (see {@link again}), and the verdicts' epoch in which all of it was known clean (or -1). */
  readonly #last = new Map<string, { readonly list: readonly Entry[]; cleanIn: number }>()

  constructor(readonly verdicts: { of(value: string): Uint16Array | undefined }) {}

  get(collection: string, key: string, value: string): Entry {
    if (value.length > MEMO_VALUE_BYTES || key.length > MEMO_VALUE_BYTES) return new Entry(collection, key, value) // never remembered
    let byKey = this.#byCollection.get(collection)
    const byValue = byKey?.get(key)
    const kept = byValue?.get(value)
    if (kept !== undefined) return kept
    const e = new Entry(collection, key, value)
    const v = this.verdicts.of(value)
    e.verdicts = v ?? null
    if (v === undefined) return e
    if (this.#count >= KEPT_ENTRIES) {
      this.#byCollection = new Map()
      this.#count = 0
      byKey = undefined
    }
    if (byKey === undefined) this.#byCollection.set(collection, (byKey = new Map()))
    let values = byKey.get(key)
    if (values === undefined) byKey.set(key, (values = new Map()))
    values.set(value, e)
    this.#count++
    return e
  }

  /**
   * The list `collection` had last time, for a request that brings the same members in the same
   * order (`same` compares, member by member): the same API's argument names, the same browser's
   * headers. Its entries are the ones {@link get} would give, so handing out the list is the same
   * as making it, without a lookup per member. Only lists of kept entries are remembered ({@link remember}).
   */
  again(collection: string, same: (last: readonly Entry[]) => boolean): readonly Entry[] | undefined {
    const last = this.#last.get(collection)?.list
    return last !== undefined && same(last) ? last : undefined
  }

  remember(collection: string, list: readonly Entry[]): readonly Entry[] {
    let kept = list.length !== 0
    for (let i = 0; i < list.length && kept; i++) kept = list[i]!.verdicts != null
    if (kept) this.#last.set(collection, { list, cleanIn: -1 })
    else this.#last.delete(collection)
    return list
  }

  /**
   * Whether every entry of `list` was known clean (engine/request-vars.ts: unclean) when it was last
   * read, in this verdicts' epoch: within an epoch a value only becomes clean, never unclean again,
   * so it still is (the same API's names, the same browser's headers: the list is not read again).
   */
  allClean(collection: string, list: readonly Entry[], epoch: number): boolean {
    const last = this.#last.get(collection)
    return last !== undefined && last.list === list && last.cleanIn === epoch
  }

  /** `list` was read and every entry of it is known clean, in `epoch`. */
  clean(collection: string, list: readonly Entry[], epoch: number): void {
    const last = this.#last.get(collection)
    if (last !== undefined && last.list === list) last.cleanIn = epoch
  }
}

/**
 * Whether `e` is a member `ref` names by its key (`ARGS:id`, `ARGS:/^id/`, lower case when a
 * string); for `XML`, `xml` is the kind asked for (`/*` the text, `//@*` the attributes).
 */
export function keyMatches(ref: VariableRef, e: Entry, xml: string | undefined): boolean {
  const key = ref.key
  if (xml !== undefined) return e.key === xml
  return typeof key === 'string' ? e.lower === key : key === undefined || key.test(e.key)
}

/** Whether one of the `!` targets (or removed ones) names this entry. */
export function isExcluded(e: Entry, excluded: readonly VariableRef[]): boolean {
  for (const x of excluded) if (x.collection === e.collection && keyMatches(x, e, undefined)) return true
  return false
}

/** `&ARGS` = 3 as an entry, the same one for every request (its verdicts are looked up once). */
const COUNTS = new Map<string, Entry[]>()
const COUNTS_KEPT = 64

export function countEntry(collection: string, n: number): Entry {
  if (n >= COUNTS_KEPT) return new Entry(collection, '', String(n))
  let list = COUNTS.get(collection)
  if (list === undefined) COUNTS.set(collection, (list = []))
  return (list[n] ??= new Entry(collection, '', String(n)))
}
