import { InvalidOptionError } from './errors.js'
import type { KeyFunction, RequestInfo } from './strategy.js'

/**
 * Key functions for the hash strategies (`consistentHash`, `maglev`): each maps a request to a
 * string, or `undefined` when the request does not carry the key (the strategy then falls back to
 * round robin, and never throws).
 */

function requireName(name: unknown, fn: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError(`${fn}(name) needs a non-empty name, got ${String(name)}`, { field: `${fn}.name` })
  }
  return name
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** The client's address: the default key. */
export const addressKey: KeyFunction = (info) => info.remoteAddress || undefined

/** The value of a request header, e.g. `headerKey('x-user-id')`. */
export function headerKey(name: string): KeyFunction {
  const lower = requireName(name, 'headerKey').toLowerCase()
  return (info) => first(info.headers[lower])
}

/** Reads one cookie's value from a Cookie header. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header
  if (text === undefined) return undefined
  let at = 0
  while (at < text.length) {
    let end = text.indexOf(';', at)
    if (end === -1) end = text.length
    const eq = text.indexOf('=', at)
    if (eq !== -1 && eq < end && text.slice(at, eq).trim() === name) return text.slice(eq + 1, end).trim()
    at = end + 1
  }
  return undefined
}

/** The value of a cookie, e.g. `cookieKey('session')`. */
export function cookieKey(name: string): KeyFunction {
  const cookie = requireName(name, 'cookieKey')
  return (info) => readCookie(info.headers.cookie, cookie)
}

/** The value of a query parameter, e.g. `queryKey('tenant')`. */
export function queryKey(name: string): KeyFunction {
  const param = requireName(name, 'queryKey')
  return (info) => {
    const q = info.path.indexOf('?')
    if (q === -1) return undefined
    return new URLSearchParams(info.path.slice(q + 1)).get(param) ?? undefined
  }
}

/** The path without the query: requests for one resource go to one upstream (cache affinity). */
export const pathKey: KeyFunction = (info: RequestInfo) => {
  const q = info.path.indexOf('?')
  return q === -1 ? info.path : info.path.slice(0, q)
}
