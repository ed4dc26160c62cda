import type { PathRule } from '../config/resolved.js'
import { stripPrefix } from '../config/transforms.js'

/*
 * What the upstream's answer says about its own address, rewritten to the client's view (nginx
 * `proxy_redirect`, `proxy_cookie_domain`, `proxy_cookie_path`).
 */

/**
 * Applies `rewriteLocation`, `cookieDomain` and `cookiePath` to a flat response header array in
 * place. One pass; names are compared by length first, so other headers cost a length check.
 */
export function rewriteSelfReferences(
  headers: string[],
  origin: string,
  basePath: string,
  options: {
    readonly rewriteLocation: boolean
    readonly rewritePath: PathRule | undefined
    readonly cookieDomain: ReadonlyMap<string, string> | undefined
    readonly cookiePath: ReadonlyMap<string, string> | undefined
  },
): void {
  const cookies = options.cookieDomain !== undefined || options.cookiePath !== undefined
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!
    if (options.rewriteLocation && (name.length === 8 || name.length === 16)) {
      const lower = name.toLowerCase()
      if (lower === 'location' || lower === 'content-location') headers[i + 1] = rewriteLocation(headers[i + 1]!, origin, basePath, options.rewritePath)
    } else if (cookies && name.length === 10 && name.toLowerCase() === 'set-cookie') {
      headers[i + 1] = rewriteCookie(headers[i + 1]!, options.cookieDomain, options.cookiePath)
    }
  }
}

/**
 * Rewrites one `Set-Cookie` value's `Domain` and `Path` attributes by the maps (nginx
 * `proxy_cookie_domain`, `proxy_cookie_path`); a `Path` is matched by prefix.
 */
export function rewriteCookie(value: string, domains: ReadonlyMap<string, string> | undefined, paths: ReadonlyMap<string, string> | undefined): string {
  return value.replace(/;\s*(domain|path)=([^;]*)/gi, (whole, attr: string, v: string) => {
    if (attr.toLowerCase() === 'domain') {
      const to = domains?.get(v.trim().toLowerCase().replace(/^\./, ''))
      return to === undefined ? whole : `; Domain=${to}`
    }
    if (paths === undefined) return whole
    const p = v.trim()
    for (const [from, to] of paths) if (p.startsWith(from)) return `; Path=${to}${p.slice(from.length)}`
    return whole
  })
}

/**
 * Rewrites a `Location` or `Content-Location` that points at the upstream itself (its origin, or
 * a path) to the path the client would use (nginx `proxy_redirect default`): the origin goes,
 * the upstream URL's base path goes, the prefix transform is undone. Anything else (another
 * host) is left alone.
 */
export function rewriteLocation(value: string, origin: string, basePath: string, path: PathRule | undefined): string {
  let rest: string
  if (value.charCodeAt(0) === 47 && value.charCodeAt(1) !== 47) rest = value // a path: the upstream's own
  else if (value.length >= origin.length && value.slice(0, origin.length).toLowerCase() === origin.toLowerCase()) {
    rest = value.slice(origin.length)
    if (rest === '') rest = '/'
    if (rest.charCodeAt(0) !== 47) return value // `http://host:5000evil.example`: not this origin
  } else return value
  if (basePath !== '') {
    const without = stripPrefix(rest, basePath)
    if (without === undefined) return value
    rest = without
  }
  if (path !== undefined) {
    if (path.invert === undefined) return rest
    return path.invert(rest) ?? rest
  }
  return rest
}
