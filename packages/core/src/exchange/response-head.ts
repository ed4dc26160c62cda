import type { PassiveHealth } from '@switchyard/health/internal'
import type { Strategy } from '@switchyard/strategies'
import { callbackFailed } from '../config/errors.js'
import type { ResolvedOptions } from '../config/resolved.js'
import type { Upstream } from '../fleet/upstream.js'
import { dropConnectionListed, equalsLower, isHopByHop } from './hop-by-hop.js'
import { rewriteSelfReferences } from './response-rewrite.js'

/**
 * The strategy's cookie for a response from `u` (sticky sessions): a learning strategy
 * (`affinity.learn`) is told the upstream's own `Set-Cookie` values first. What the strategy's
 * code throws is the application's (`SWY_ERR_CALLBACK`).
 */
export function affinityCookie(strategy: Strategy, u: Upstream, key: string | undefined, raw: readonly Buffer[]): string | undefined {
  const affinity = strategy.affinity
  if (affinity === undefined) return undefined
  try {
    if (affinity.learn !== undefined) {
      const cookies: string[] = []
      for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.length === 10 && equalsLower(raw[i]!.toString('latin1'), 'set-cookie')) cookies.push(raw[i + 1]!.toString('latin1'))
      affinity.learn(u, cookies, key)
    }
    return affinity.setCookie?.(u, key)
  } catch (err) {
    throw callbackFailed(err, `the ${strategy.name} strategy's cookie`)
  }
}

/**
 * Trailers as undici hands them, as name/value pairs: raw `[name, value, …]` arrays over HTTP/1.1,
 * a header object over HTTP/2 (undici's h2 client passes the stream's trailers object as it is).
 */
export function trailerPairs(trailers: unknown): [string, string][] {
  const pairs: [string, string][] = []
  if (trailers === null || trailers === undefined) return pairs
  if (Array.isArray(trailers)) {
    for (let i = 0; i + 1 < trailers.length; i += 2) pairs.push([String(trailers[i]), String(trailers[i + 1])])
    return pairs
  }
  if (typeof trailers === 'object') {
    for (const [name, value] of Object.entries(trailers as Record<string, unknown>)) {
      if (name.charCodeAt(0) === 58 || value === undefined) continue // HTTP/2 pseudo-headers are not trailers
      if (Array.isArray(value)) for (const v of value) pairs.push([name, String(v)])
      else pairs.push([name, String(value)])
    }
  }
  return pairs
}

/**
 * Converts undici's raw response headers to a flat string array for `res.writeHead()`, dropping
 * hop-by-hop headers. Multi-valued headers (`set-cookie`) stay as separate entries.
 */
export function responseHead(raw: readonly Buffer[], hidden: ReadonlySet<string> | undefined): string[] {
  const headers: string[] = []
  let connection: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1')
    if (isHopByHop(name)) {
      if (equalsLower(name, 'connection')) connection = raw[i + 1]!.toString('latin1')
      continue
    }
    if (hidden?.has(name.toLowerCase())) continue // hideHeaders (nginx proxy_hide_header); nothing when off
    headers.push(name, raw[i + 1]!.toString('latin1'))
  }
  dropConnectionListed(headers, connection)
  return headers
}

/**
 * The upstream's response head as a client gets it, as a flat array: hop-by-hop and hidden
 * headers out, `responseHeaders` applied, self-references (`Location`, cookies) rewritten, and
 * the strategy's `Set-Cookie` added.
 */
export function clientResponseHead(raw: readonly Buffer[], u: Upstream, options: ResolvedOptions, cookie: string | undefined): string[] {
  let headers = responseHead(raw, options.hideHeaders)
  if (options.responseHeaders !== undefined) headers = options.responseHeaders(headers)
  if (options.rewriteLocation || options.cookieDomain !== undefined || options.cookiePath !== undefined) {
    rewriteSelfReferences(headers, u.origin, u.basePath, options)
  }
  if (cookie !== undefined) headers.push('set-cookie', cookie)
  return headers
}

/** Whether the answer's `grpc-status` (a trailer, or a header of a trailers-only answer) is one `failOnGrpcStatus` lists. */
export function grpcFailed(trailers: Buffer[] | string[] | null, rawHeaders: Buffer[] | null, passive: PassiveHealth): boolean {
  const status = grpcStatus(trailerPairs(trailers)) ?? grpcStatus(trailerPairs(rawHeaders))
  return status !== undefined && passive.isFailureGrpcStatus(status)
}

/** The `grpc-status` among header pairs, if any. */
function grpcStatus(pairs: readonly [string, string][]): number | undefined {
  for (const [name, value] of pairs) if (name.length === 11 && name.toLowerCase() === 'grpc-status') return Number(value)
  return undefined
}

/** Whether a response's body ends when the connection closes: no length, not chunked (RFC 9112 6.3). */
export function isCloseDelimited(raw: Buffer[] | null, method: string): boolean {
  if (raw === null || method === 'HEAD') return false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === 14 && name.toString('latin1').toLowerCase() === 'content-length') return false
    if (name.length === 17 && name.toString('latin1').toLowerCase() === 'transfer-encoding') return false
  }
  return true
}
