import { checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import { CallbackError, callbackFailed } from './errors.js'
import type { HeaderRule, PathRule } from './resolved.js'
import type { HeaderMap } from './types.js'

/*
 * The checks of the request and response transforms (`rewritePath`, `requestHeaders`,
 * `responseHeaders`, `cookieDomain`, `cookiePath`), and the rules they resolve to. Each is off
 * unless configured and costs nothing per request then.
 */

export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** What a header value may not hold (RFC 9110 5.5; undici refuses it too). */
const BAD_VALUE = /[\r\n\0]/
/** What a request path may not hold: undici's own check (lib/core/request.js, invalidPathRegex). */
const BAD_PATH = /[^\u0021-\u00ff]/

/** Validates `rewritePath`. */
export function normalizeRewritePath(input: unknown): PathRule | undefined {
  if (input === undefined) return undefined
  if (typeof input === 'function') {
    const fn = input as (path: string) => string
    return {
      // The function is the application's: what it throws, or a path undici cannot send, fails
      // this request alone as SWY_ERR_CALLBACK (500), never as the client's or the upstream's.
      apply: (path) => {
        let out: string
        try {
          out = String(fn(path))
        } catch (err) {
          throw callbackFailed(err, 'rewritePath')
        }
        if (BAD_PATH.test(out)) throw new CallbackError(`rewritePath returned a path that cannot be sent: ${JSON.stringify(out.slice(0, 200))}`)
        return out.charCodeAt(0) === 47 ? out : `/${out}` // undici refuses anything else in a path (a 400)
      },
      invert: undefined,
    }
  }
  const o = checkObject(input, 'rewritePath')
  rejectUnknownKeys(o, ['stripPrefix', 'addPrefix'], 'rewritePath')
  const prefix = (key: 'stripPrefix' | 'addPrefix'): string => {
    const v = o[key]
    if (v === undefined) return ''
    if (typeof v !== 'string' || v.charCodeAt(0) !== 47 || /[?#\s]/.test(v)) {
      throw new InvalidOptionError(`rewritePath.${key} must be a path starting with '/', got ${describeValue(v)}`, { field: `rewritePath.${key}` })
    }
    return v.endsWith('/') ? v.slice(0, -1) : v
  }
  const strip = prefix('stripPrefix')
  const add = prefix('addPrefix')
  return {
    apply: (path) => add + ((strip === '' ? path : stripPrefix(path, strip)) ?? path),
    invert: (path) => {
      const without = add === '' ? path : stripPrefix(path, add)
      return without === undefined ? undefined : strip + without
    },
  }
}

/** `path` without `prefix` when it starts with it at a segment boundary (`/api` in `/api/x`, `/api?q`, `/api`); the result starts with `/`. */
export function stripPrefix(path: string, prefix: string): string | undefined {
  if (!path.startsWith(prefix)) return undefined
  const rest = path.slice(prefix.length)
  if (rest === '') return '/'
  const c = rest.charCodeAt(0)
  if (c === 47) return rest
  if (c === 63) return `/${rest}` // '?'
  return undefined
}

/** Joins an upstream URL's own path (`/v1`) and the request's (`/users?x`): `/v1/users?x`. */
export function joinBasePath(base: string, path: string): string {
  return base === '' ? path : base + path
}

/** The base path of an upstream URL: `''` for none (`/`), else without its trailing slash. */
export function basePathOf(url: URL): string {
  const p = url.pathname
  return p === '/' ? '' : p.endsWith('/') ? p.slice(0, -1) : p
}

/** Validates `requestHeaders` / `responseHeaders`. */
export function normalizeHeaderTransform(input: unknown, field: string): HeaderRule | undefined {
  if (input === undefined) return undefined
  if (typeof input === 'function') {
    const fn = input as (headers: HeaderMap) => void
    return function headerCallback(flat) {
      const map: HeaderMap = {}
      for (let i = 0; i < flat.length; i += 2) {
        const name = flat[i]!.toLowerCase()
        const prev = map[name]
        map[name] = prev === undefined ? flat[i + 1]! : Array.isArray(prev) ? [...prev, flat[i + 1]!] : [prev, flat[i + 1]!]
      }
      // The function is the application's: what it throws, or a header it sets that cannot be
      // sent, fails this request alone as SWY_ERR_CALLBACK (500).
      try {
        fn(map)
      } catch (err) {
        throw callbackFailed(err, field)
      }
      const out: string[] = []
      for (const [name, value] of Object.entries(map)) {
        if (!HEADER_NAME.test(name)) throw new CallbackError(`${field} set an invalid header name ${JSON.stringify(name)}`, { field })
        if (Array.isArray(value)) for (const v of value) out.push(name, checkedValue(String(v), name, field))
        else if (value !== undefined) out.push(name, checkedValue(String(value), name, field))
      }
      return out
    }
  }
  const o = checkObject(input, field)
  rejectUnknownKeys(o, ['set', 'remove'], field)
  const set = o.set === undefined ? {} : checkObject(o.set, `${field}.set`)
  const setNames: string[] = []
  const setValues: string[] = []
  for (const [name, value] of Object.entries(set)) {
    if (!HEADER_NAME.test(name)) throw new InvalidOptionError(`${field}.set has an invalid header name ${JSON.stringify(name)}`, { field: `${field}.set` })
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw new InvalidOptionError(`${field}.set.${name} must be a string without line breaks, got ${describeValue(value)}`, { field: `${field}.set.${name}` })
    }
    setNames.push(name.toLowerCase())
    setValues.push(value)
  }
  const remove = o.remove ?? []
  if (!Array.isArray(remove) || remove.some((n) => typeof n !== 'string' || !HEADER_NAME.test(n))) {
    throw new InvalidOptionError(`${field}.remove must be a list of header names, got ${describeValue(remove)}`, { field: `${field}.remove` })
  }
  const drop = new Set([...(remove as string[]).map((n) => n.toLowerCase()), ...setNames])
  return function headerTable(flat) {
    const out: string[] = []
    for (let i = 0; i < flat.length; i += 2) if (!drop.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!)
    for (let i = 0; i < setNames.length; i++) out.push(setNames[i]!, setValues[i]!)
    return out
  }
}

function checkedValue(value: string, name: string, field: string): string {
  if (BAD_VALUE.test(value)) throw new CallbackError(`${field} set ${name} to a value with a line break or NUL`, { field })
  return value
}

/** Validates a `cookieDomain` / `cookiePath` map (upstream value → client value). */
export function normalizeCookieMap(input: unknown, field: string): ReadonlyMap<string, string> | undefined {
  if (input === undefined) return undefined
  const o = checkObject(input, field)
  const map = new Map<string, string>()
  for (const [from, to] of Object.entries(o)) {
    if (typeof to !== 'string' || /[;\r\n]/.test(to) || /[;\r\n]/.test(from)) {
      throw new InvalidOptionError(`${field}.${from} must be a string without ';' or line breaks, got ${describeValue(to)}`, { field: `${field}.${from}` })
    }
    map.set(field === 'cookieDomain' ? from.toLowerCase().replace(/^\./, '') : from, to)
  }
  return map
}
