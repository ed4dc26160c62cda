const MACRO_PARTS = new Map<string, string[]>()

/**
 * `a %{tx.b} c` as `['a ', 'tx.b', ' c']`: text, then a macro's name and text in turn. Split once
 * per distinct text (the texts are the rules', so the cache stays small; it stops growing at 10 000).
 */
export function macroParts(text: string): string[] {
  let parts = MACRO_PARTS.get(text)
  if (parts === undefined) {
    parts = text.split(/%\{([^}]+)\}/).map((p, i) => (i % 2 === 1 ? p.trim() : p))
    if (MACRO_PARTS.size < 10_000) MACRO_PARTS.set(text, parts)
  }
  return parts
}

/** A macro's name read once: `tx.score` as collection `TX`, key `score`. */
export interface MacroRef {
  readonly collection: string
  readonly key: string | undefined
}

const MACRO_REFS = new Map<string, MacroRef>()

/**
 * The collection (upper case) and key (lower case) a macro names, read once per distinct name:
 * a rule expands the same macros request after request, and a key that is the same string each
 * time is hashed once for the lookups that follow, where one sliced anew is hashed each time.
 */
export function macroRef(name: string): MacroRef {
  let ref = MACRO_REFS.get(name)
  if (ref === undefined) {
    const dot = name.indexOf('.')
    ref = { collection: (dot === -1 ? name : name.slice(0, dot)).toUpperCase(), key: dot === -1 ? undefined : name.slice(dot + 1).toLowerCase() }
    if (MACRO_REFS.size < 10_000) MACRO_REFS.set(name, ref)
  }
  return ref
}
