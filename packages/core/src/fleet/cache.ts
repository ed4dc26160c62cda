import { type Dispatcher, interceptors } from 'undici'
import type { ResolvedCache } from '../config/cache.js'

/** How the cache answered one attempt: from the store, by asking the upstream, or after revalidating with it. */
export type CacheStatus = 'hit' | 'miss' | 'revalidated'

/** Where an attempt's dispatch options carry the object its cache status is written on. */
export const CACHE_MARK = Symbol('switchyard.cache')

/** What an attempt through the cache carries: its status, and whether its own request was conditional. */
export interface CacheMark {
  cacheStatus: CacheStatus | undefined
}

/**
 * An upstream's dispatcher behind undici's cache interceptor (RFC 9111: freshness, validators and
 * revalidation, `Vary`, `no-store` and `private` respected, requests with `Authorization` not
 * served from the shared cache), with one store for every upstream of the balancer. What reaches
 * the upstream is noted on the attempt: a revalidation when the cache added a validator the
 * request did not have, a miss otherwise; an attempt that never reaches it was a hit.
 */
export function cachedDispatcher(pool: Dispatcher, cache: ResolvedCache): Dispatcher {
  const noteReach: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
    const mark = (opts as { [CACHE_MARK]?: CacheMark & { conditional: boolean } })[CACHE_MARK]
    if (mark !== undefined) {
      const h = opts.headers as Record<string, unknown> | undefined
      const validating = !mark.conditional && h !== undefined && (h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined)
      mark.cacheStatus = validating ? 'revalidated' : 'miss'
    }
    return dispatch(opts, handler)
  }
  return pool.compose(noteReach, interceptors.cache({ store: cache.store, methods: ['GET', 'HEAD'], type: 'shared' }))
}

/** The cache's origin for a request: its `Host` (so virtual hosts on one balancer never share an entry). */
export function cacheOrigin(headers: Dispatcher.DispatchOptions['headers']): string {
  let host = 'switchyard'
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === 'host') host = String(headers[i + 1]).toLowerCase()
  } else if (headers !== null && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === 'host') host = String(v).toLowerCase()
  }
  return `http://${host}`
}

/** Whether the request already carries a validator of its own. */
export function isConditional(headers: Dispatcher.DispatchOptions['headers']): boolean {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const name = String(headers[i]).toLowerCase()
      if (name === 'if-none-match' || name === 'if-modified-since') return true
    }
    return false
  }
  if (headers === null || typeof headers !== 'object') return false
  return Object.keys(headers).some((k) => k.toLowerCase() === 'if-none-match' || k.toLowerCase() === 'if-modified-since')
}
