import { urlDecode } from '../transformations/url-decode.js'

/**
 * `a=1&b=2` into name/value pairs, as ModSecurity reads a query string and an
 * `application/x-www-form-urlencoded` body: split on `&`, `+` as a space, `%XX` decoded (a bad
 * escape kept as written), a name without `=` has an empty value. Byte strings in and out.
 */
export function parseUrlencoded(text: string): [string, string][] {
  const out: [string, string][] = []
  if (text === '') return out
  for (const part of text.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = eq === -1 ? part : part.slice(0, eq)
    const value = eq === -1 ? '' : part.slice(eq + 1)
    out.push([urlDecode(name), urlDecode(value)])
  }
  return out
}
