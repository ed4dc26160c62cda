import type { VariableRef } from '../seclang/parser.js'
import type { Target } from './rule.js'

/**
 * TX variables read by a name pattern (`TX:/^header_name_/`, CRS rule 920450, on every request):
 * most such patterns ask only for a literal, at the start or anywhere. TX names are lower case
 * (setvar lowers them; captures are digits) and key patterns are case-insensitive, so the name
 * is tested with `startsWith` or `includes` on the lower-case literal, not with the regex.
 */

/**
 * The literal a TX key regex asks for (letters, digits, `_`, `-`), and whether at the start; undefined
 * for any other regex. A last `x*` or `.*` asks for nothing more (it also matches nothing), so
 * it is dropped: `MULTIPART_HEADERS_CONTENT_TYPES_` then `*` is that name less its last `_`, anywhere.
 */
export function txLiteralOf(v: VariableRef): Target['txLiteral'] {
  if (v.collection !== 'TX' || !(v.key instanceof RegExp) || !v.key.ignoreCase) return undefined
  let text = v.key.source
  const anchored = text.startsWith('^')
  if (anchored) text = text.slice(1)
  if (/^[A-Za-z0-9_-]+[A-Za-z0-9_.-]\*$/.test(text)) text = text.slice(0, -2)
  return /^[A-Za-z0-9_-]+$/.test(text) ? { text: text.toLowerCase(), anchored } : undefined
}

/** Whether TX variable `name` is one `ref`'s pattern `key` selects. */
export function txNameMatches(ref: Target, key: RegExp, name: string): boolean {
  const literal = ref.txLiteral
  if (literal === undefined) return key.test(name)
  return literal.anchored ? name.startsWith(literal.text) : name.includes(literal.text)
}
