/**
 * Argument names kept across requests: the same API gets the same names (`json.items.3.sku`)
 * request after request, and the same string each time is hashed once (the verdicts' lookups,
 * engine/verdicts.ts), where a name joined anew is a fresh string to hash. Bounded
 * (names come from the client): started over past {@link NAMES_KEPT}.
 */
const NAMES_KEPT = 4096
let names = new Map<string, Children>()
let namesKept = 0

/** The names kept under one parent (`json.items`): by member name, by item index, and by place. */
export class Children {
  readonly #byKey = new Map<string, string>()
  readonly #items: string[] = []
  /** The members of the object last read under this parent, in order, and their names (body/json-scan.ts). */
  readonly members: string[] = []
  readonly memberNames: string[] = []

  constructor(readonly parent: string) {}

  /** The name of member `key` (its UTF-8 bytes unless `ascii`). */
  member(key: string, ascii: boolean): string {
    let name = this.#byKey.get(key)
    if (name === undefined) {
      name = `${this.parent}.${ascii ? key : bytesOf(key)}`
      if (namesKept++ < NAMES_KEPT) this.#byKey.set(key, name)
    }
    return name
  }

  /** The name of item `i` of an array. */
  item(i: number): string {
    let name = this.#items[i]
    if (name === undefined) {
      name = `${this.parent}.${i}`
      if (namesKept++ < NAMES_KEPT && i === this.#items.length) this.#items.push(name)
    }
    return name
  }

  /** Member `j` of the object being read is `key`, named `name`: the next object here is expected to have it there too. */
  place(j: number, key: string, name: string): void {
    if (j > this.members.length || namesKept++ >= NAMES_KEPT) return
    this.members[j] = key
    this.memberNames[j] = name
  }
}

/** The names kept under `parent` (looked up once per object or array, not once per member). */
export function childrenOf(parent: string): Children {
  let children = names.get(parent)
  if (children === undefined) {
    if (namesKept >= NAMES_KEPT) {
      names = new Map()
      namesKept = 0
    }
    names.set(parent, (children = new Children(parent)))
  }
  return children
}

export function bytesOf(s: string): string {
  // ASCII is its own byte string; anything else is given back as its UTF-8 bytes.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'utf8').toString('latin1')
  return s
}
