import { bytesOf, childrenOf } from './json-names.js'
import { scanJson } from './json-scan.js'

/** How deep a JSON body may nest before it is refused as a body error (ModSecurity's `SecRequestBodyJsonDepthLimit` is the same idea). */
export const JSON_DEPTH_LIMIT = 256

/** The arguments of a JSON body, or why it is not one. */
export interface JsonArguments {
  readonly args: [string, string][]
  readonly error: string | undefined
}

/**
 * A JSON body as ModSecurity names its values: `json.a.b` for `{"a":{"b":1}}`, an array's items by
 * their index (`json.list.0`); strings, numbers and booleans as text, `null` as empty. Input and
 * output are byte strings (the body is read as UTF-8 by JSON.parse, each value is given back as
 * its UTF-8 bytes). Walked to {@link JSON_DEPTH_LIMIT} levels (recursion that deep is well inside
 * the stack). The common body is read in one pass instead (body/json-scan.ts), with the same result.
 */
export function parseJson(bytes: string): JsonArguments {
  // The common body (ASCII, no backslash, no member named twice) in one pass, without its objects.
  const scanned = scanJson(bytes)
  if (scanned !== undefined) return { args: scanned, error: undefined }
  let root: unknown
  // Without a byte past ASCII the byte string is the text as it is; without a `\u` escape as well,
  // so is every name and value in it (an escape can make a char past ASCII: `"\u00e9"`).
  const bytesAscii = !NON_ASCII.test(bytes)
  const ascii = bytesAscii && bytes.indexOf('\\u') === -1
  try {
    root = JSON.parse(bytesAscii ? bytes : Buffer.from(bytes, 'latin1').toString('utf8'))
  } catch (err) {
    return { args: [], error: `the JSON body does not parse: ${(err as Error).message}` }
  }
  const args: [string, string][] = []
  const deep = walk('json', root, 0, args, ascii)
  return { args, error: deep ? `the JSON body nests deeper than ${JSON_DEPTH_LIMIT} levels` : undefined }
}

const NON_ASCII = /[\u0080-\u00ff]/

/** Adds the values under `value` to `args`, in document order; true when it nests too deep (what was read stays). */
function walk(name: string, value: unknown, depth: number, args: [string, string][], ascii: boolean): boolean {
  if (value === null || typeof value !== 'object') {
    args.push([name, typeof value === 'string' ? (ascii ? value : bytesOf(value)) : value === null ? '' : String(value)])
    return false
  }
  if (depth >= JSON_DEPTH_LIMIT) return true
  const children = childrenOf(name)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (walk(children.item(i), value[i], depth + 1, args, ascii)) return true
    return false
  }
  const keys = Object.keys(value)
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    if (walk(children.member(k, ascii), (value as Record<string, unknown>)[k], depth + 1, args, ascii)) return true
  }
  return false
}
