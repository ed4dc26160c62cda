/**
 * The path a request's target names, as an upstream will read it, for rules to match: however the
 * client wrote it, `/admin` is `/admin`. From the raw `req.url`:
 *
 * - absolute-form (`http://x/admin`) is taken in origin-form (`/admin`), as the balancer sends it;
 * - the query (`?…`) and a fragment (`#…`) are cut off (the query is matched on its own);
 * - percent-escapes are decoded (twice: `%252e` is `.`), an invalid escape kept as it is, and
 *   bytes read as UTF-8, as nginx decodes a URI before it matches `location`s;
 * - backslashes count as slashes (some servers read `\` as `/`), and `;` parameters are cut from
 *   each segment (`/..;/admin`: servlet containers drop them);
 * - dot-segments are resolved (RFC 3986 5.2.4: `/static/../admin`, `/./admin`), never above the
 *   root, and runs of slashes merged (nginx `merge_slashes`: `//admin`).
 *
 * A deny rule over this form cannot be walked around by spelling the path another way. It errs
 * toward matching: a path some server would read differently still matches as the strictest
 * reading does.
 */
export function requestPath(url: string): string {
  let path = url
  if (path.charCodeAt(0) !== 47 /* / */) path = originPath(path)
  const end = firstOf(path, '?', '#')
  if (end !== -1) path = path.slice(0, end)
  if (path.indexOf('%') !== -1) path = percentDecode(path)
  if (path.indexOf('%') !== -1) path = percentDecode(path)
  return normalizeSegments(path)
}

/** The query string of a raw target (without the `?`), or `''`. */
export function requestQuery(url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return ''
  const hash = url.indexOf('#', q)
  return hash === -1 ? url.slice(q + 1) : url.slice(q + 1, hash)
}

/** The path of an absolute-form target (`http://host/a?b` → `/a?b`); other forms as a path from the root. */
function originPath(target: string): string {
  const scheme = target.indexOf('://')
  if (scheme === -1) return `/${target}`
  const start = scheme + 3
  const slash = firstOf(target.slice(start), '/', '?', '#')
  if (slash === -1) return '/'
  const rest = target.slice(start + slash)
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`
}

function firstOf(text: string, ...chars: string[]): number {
  let at = -1
  for (const c of chars) {
    const i = text.indexOf(c)
    if (i !== -1 && (at === -1 || i < at)) at = i
  }
  return at
}

const HEX = /^[0-9A-Fa-f]{2}$/

/** Decodes `%XX` escapes to bytes, read as UTF-8 (invalid sequences as U+FFFD); an invalid escape stays as written. */
export function percentDecode(text: string): string {
  const bytes: number[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 37 /* % */ && HEX.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16))
      i += 2
    } else if (c < 0x80) bytes.push(c)
    else for (const b of Buffer.from(text[i]!, 'utf8')) bytes.push(b)
  }
  return Buffer.from(bytes).toString('utf8')
}

/** Resolves `.` and `..`, merges slashes (backslashes too), drops `;` parameters; keeps a trailing slash. */
function normalizeSegments(path: string): string {
  const out: string[] = []
  const parts = path.split(/[/\\]+/)
  for (let i = 0; i < parts.length; i++) {
    let segment = parts[i]!
    const semi = segment.indexOf(';')
    if (semi !== -1) segment = segment.slice(0, semi)
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  const last = parts[parts.length - 1]
  const trailing = out.length !== 0 && (last === '' || last === '.' || last === '..')
  return `/${out.join('/')}${trailing ? '/' : ''}`
}
