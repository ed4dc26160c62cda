/**
 * The request target (RFC 9112 3.2) as the proxy sends it upstream: always origin-form.
 *
 * - origin-form `/a/b?q` is kept byte for byte;
 * - absolute-form with an `http` or `https` scheme, in any letter case (`GET HTTP://x/a?q`), becomes
 *   `/a?q` (RFC 9112 3.2.2: a server must accept it; the upstream is ours to choose, not the client's);
 * - anything else is refused: another scheme (`ws://`, `ftp://`), authority-form, and `*` (only
 *   `OPTIONS *` has a meaning, and the balancer answers it itself);
 * - a path whose `..` segments climb above the root is refused (nginx answers these with 400).
 */

/** What {@link originForm} returns for `*`. */
export const ASTERISK = '*'

/**
 * The origin-form of `target`, {@link ASTERISK} for `*`, or `undefined` when the target cannot be
 * proxied.
 */
export function originForm(target: string): string | undefined {
  if (target.charCodeAt(0) === 47 /* / */) return climbsAboveRoot(target) ? undefined : target
  if (target === '*') return ASTERISK
  const colon = target.indexOf('://')
  if (colon !== 4 && colon !== 5) return undefined
  const scheme = target.slice(0, colon).toLowerCase()
  if (scheme !== 'http' && scheme !== 'https') return undefined
  let end = colon + 3
  while (end < target.length) {
    const c = target.charCodeAt(end)
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break
    end++
  }
  if (end === colon + 3) return undefined // no authority
  let rest = target.slice(end)
  const hash = rest.indexOf('#')
  if (hash !== -1) rest = rest.slice(0, hash)
  const path = rest === '' ? '/' : rest.charCodeAt(0) === 63 ? `/${rest}` : rest
  return climbsAboveRoot(path) ? undefined : path
}

/**
 * Whether the path's dot-segments (`..`, also written `%2e%2e`) climb above the root, as in
 * `/../etc/passwd` or `/a/../../b`. Only paths with a dot or a `%` are walked.
 */
export function climbsAboveRoot(target: string): boolean {
  const q = target.indexOf('?')
  const path = q === -1 ? target : target.slice(0, q)
  if (path.indexOf('.') === -1 && path.indexOf('%') === -1) return false
  let depth = 0
  let start = 1
  for (let i = 1; i <= path.length; i++) {
    if (i !== path.length && path.charCodeAt(i) !== 47) continue
    const segment = path.slice(start, i)
    start = i + 1
    if (segment === '' || isDot(segment, 1)) continue
    if (isDot(segment, 2)) {
      if (--depth < 0) return true
    } else depth++
  }
  return false
}

/** Whether `segment` is `n` dots, each written `.` or `%2e`. */
function isDot(segment: string, n: number): boolean {
  let dots = 0
  let i = 0
  while (i < segment.length) {
    if (segment.charCodeAt(i) === 46) i++
    else if (segment.length - i >= 3 && segment[i] === '%' && segment[i + 1] === '2' && (segment[i + 2] === 'e' || segment[i + 2] === 'E')) i += 3
    else return false
    dots++
  }
  return dots === n
}

/**
 * `Host` as RFC 9110 7.2 allows it and DNS names use it: a name (letters, digits, `-._~`,
 * percent-escapes), an IPv4 address or a bracketed IPv6 literal, and an optional port. Refusing
 * the rest (quotes, `;`, `,`, `/`, `@`, spaces, empty) keeps every value the proxy copies into
 * `Forwarded` and `X-Forwarded-Host` a single, well-formed element.
 */
const HOST = /^(?:\[[0-9A-Za-z:.%]+\]|[A-Za-z0-9._~%-]+)(?::[0-9]{0,5})?$/

export function isValidHost(host: string): boolean {
  return HOST.test(host)
}
