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
