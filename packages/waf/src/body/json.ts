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
 * its UTF-8 bytes). Walked without recursion, to {@link JSON_DEPTH_LIMIT} levels.
 */
export function parseJson(bytes: string): JsonArguments {
  let root: unknown
  try {
    root = JSON.parse(Buffer.from(bytes, 'latin1').toString('utf8'))
  } catch (err) {
    return { args: [], error: `the JSON body does not parse: ${(err as Error).message}` }
  }
  const args: [string, string][] = []
  const stack: [string, unknown, number][] = [['json', root, 0]]
  while (stack.length > 0) {
    const [name, value, depth] = stack.pop()!
    if (value !== null && typeof value === 'object') {
      if (depth >= JSON_DEPTH_LIMIT) return { args, error: `the JSON body nests deeper than ${JSON_DEPTH_LIMIT} levels` }
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value)
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, v] = entries[i]!
        stack.push([`${name}.${bytesOf(k)}`, v, depth + 1])
      }
      continue
    }
    args.push([name, value === null ? '' : bytesOf(String(value))])
  }
  return { args, error: undefined }
}

function bytesOf(s: string): string {
  // ASCII is its own byte string; anything else is given back as its UTF-8 bytes.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'utf8').toString('latin1')
  return s
}
