import { Readable } from 'node:stream'
import { type Dispatcher, interceptors } from 'undici'
import type { CacheStore, ResolvedCache } from '../config/cache.js'

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
  return pool.compose(noteReach, interceptors.cache({ store: streamedBodies(cache.store), methods: ['GET', 'HEAD'], type: 'shared' }))
}

type Stored = ReturnType<CacheStore['get']>
type Found = NonNullable<Awaited<Stored>>

/**
 * The store as undici's interceptor reads it, with each stored body handed over as a stream that
 * already holds it. Given the body as stored (an array of buffers), the interceptor makes the
 * stream itself with `Readable.from`, whose async iteration costs several promises a hit (its own
 * "TODO (perf)" says so): measured in the bench's cache-hit row, a hit cost more than proxying.
 * The store is undici's (or the user's) as it is: entries, freshness and eviction are its own.
 */
function streamedBodies(store: CacheStore): CacheStore {
  const withStream = (found: Found | undefined): Found | undefined => {
    if (found === undefined || found === null) return found
    const body = found.body as unknown
    if (body === undefined || body === null || typeof (body as { pipe?: unknown }).pipe === 'function') return found
    const stream = new Readable({ read() {} })
    if (Array.isArray(body)) for (const chunk of body) stream.push(chunk)
    else stream.push(body as Buffer)
    stream.push(null)
    return { ...found, body: stream as unknown as Found['body'] }
  }
  return {
    get(key) {
      const found = store.get(key) as Stored
      return found instanceof Promise ? found.then(withStream) : withStream(found as Found | undefined)
    },
    createWriteStream: (key, value) => store.createWriteStream(key, value),
    delete: (key) => store.delete(key),
  } as CacheStore
}

/**
 * What the cache needs of a request's headers, in one pass: its origin (from `Host`, so virtual
 * hosts on one balancer never share an entry) and whether it carries a validator of its own.
 */
export function cacheRequest(headers: Dispatcher.DispatchOptions['headers']): { origin: string; conditional: boolean } {
  let host = 'switchyard'
  let conditional = false
  const see = (name: string, value: unknown) => {
    const n = name.toLowerCase()
    if (n === 'host') host = String(value).toLowerCase()
    else if (n === 'if-none-match' || n === 'if-modified-since') conditional = true
  }
  if (Array.isArray(headers)) for (let i = 0; i < headers.length; i += 2) see(String(headers[i]), headers[i + 1])
  else if (headers !== null && typeof headers === 'object') for (const [k, v] of Object.entries(headers)) see(k, v)
  return { origin: `http://${host}`, conditional }
}
