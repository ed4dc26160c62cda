import { checkFunction, checkNumber, checkObject, describeValue, InvalidOptionError, rejectUnknownKeys, type RequestInfo } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import { DEFAULTS } from './defaults.js'

/** `mirror`, checked: where copies go and which requests are copied. */
export interface ResolvedMirror {
  /** URL targets (origin and path prefix), taken in turn; empty when `dispatcher` is given. */
  readonly targets: readonly { readonly origin: string; readonly basePath: string }[]
  /** Another balancer's dispatcher, when `to` is one. */
  readonly dispatcher: Dispatcher | undefined
  readonly share: number
  readonly when: ((req: RequestInfo) => boolean) | undefined
  readonly maxBody: number
  readonly maxConcurrent: number
}

/** Checks `mirror`; undefined when it is off. */
export function normalizeMirror(input: unknown): ResolvedMirror | undefined {
  if (input === undefined || input === false) return undefined
  const o = checkObject(input, 'mirror')
  rejectUnknownKeys(o, ['to', 'share', 'when', 'maxBody', 'maxConcurrent'], 'mirror')
  const to = o.to
  let dispatcher: Dispatcher | undefined
  const targets: { origin: string; basePath: string }[] = []
  if (to !== null && typeof to === 'object' && !Array.isArray(to) && typeof (to as { dispatcher?: { dispatch?: unknown } }).dispatcher?.dispatch === 'function') {
    dispatcher = (to as { dispatcher: Dispatcher }).dispatcher
  } else {
    const list = typeof to === 'string' ? [to] : Array.isArray(to) ? (to as unknown[]) : []
    if (list.length === 0) {
      throw new InvalidOptionError(`mirror.to must be an upstream URL, a list of them, or a balancer, got ${describeValue(to)}`, { field: 'mirror.to' })
    }
    for (const [i, url] of list.entries()) targets.push(target(url, typeof to === 'string' ? 'mirror.to' : `mirror.to[${i}]`))
  }
  return {
    targets,
    dispatcher,
    share: checkNumber(o.share, 'mirror.share', 1, { max: 1 }),
    when: checkFunction<((req: RequestInfo) => boolean) | undefined>(o.when, 'mirror.when', undefined),
    maxBody: checkNumber(o.maxBody, 'mirror.maxBody', DEFAULTS.mirrorMaxBody, { integer: true }),
    maxConcurrent: checkNumber(o.maxConcurrent, 'mirror.maxConcurrent', DEFAULTS.mirrorMaxConcurrent, { min: 1, integer: true }),
  }
}

function target(url: unknown, field: string): { origin: string; basePath: string } {
  const u = typeof url === 'string' ? URL.parse(url) : null
  if (u === null || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.search !== '' || u.hash !== '') {
    throw new InvalidOptionError(`${field} must be an http: or https: URL without a query, got ${describeValue(url)}`, { field })
  }
  return { origin: u.origin, basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '') }
}
