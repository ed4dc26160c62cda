import { checkBoolean, checkNumber, checkObject, checkOneOf, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import { DEFAULTS } from './defaults.js'
import type { ResolvedUpstream } from './resolved.js'
import { basePathOf } from './transforms.js'
import type { Dispatcher } from 'undici'

const UPSTREAM_KNOWN = ['url', 'id', 'weight', 'backup', 'priority', 'proxyProtocol', 'zone', 'down', 'maxConnections', 'slowStart', 'tls', 'dispatcher', 'http2', 'resolve'] as const
const TLS_KNOWN = ['ca', 'cert', 'key', 'servername', 'rejectUnauthorized'] as const

/** Validates one upstream entry. `path` names it in errors: `upstreams[1]`. */
export function normalizeUpstream(input: unknown, path: string): ResolvedUpstream {
  const o: Record<string, unknown> =
    typeof input === 'string' ? { url: input } : checkObject(input ?? null, path)
  rejectUnknownKeys(o, UPSTREAM_KNOWN, path)
  const dispatcher = o.dispatcher
  if (dispatcher !== undefined && (dispatcher === null || typeof (dispatcher as { dispatch?: unknown }).dispatch !== 'function')) {
    throw new InvalidOptionError(`${path}.dispatcher must be an undici Dispatcher, got ${describeValue(dispatcher)}`, {
      field: `${path}.dispatcher`,
    })
  }
  if (dispatcher !== undefined && (typeof o.id !== 'string' || o.id.length === 0)) {
    throw new InvalidOptionError(`${path}.id must be a non-empty string for a dispatcher upstream, got ${describeValue(o.id)}`, {
      field: `${path}.id`,
    })
  }
  if (dispatcher !== undefined && o.tls !== undefined) {
    throw new InvalidOptionError(`${path}.tls does not apply to a dispatcher upstream (set TLS on the dispatcher)`, { field: `${path}.tls` })
  }
  // A dispatcher upstream without a URL gets a placeholder origin (RFC 6761 reserves .invalid).
  const url = o.url ?? (dispatcher !== undefined ? `http://${encodeURIComponent(o.id as string)}.invalid` : undefined)
  if (typeof url !== 'string') {
    throw new InvalidOptionError(`${path}.url must be a string URL, got ${describeValue(url)}`, {
      field: `${path}.url`,
    })
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (cause) {
    throw new InvalidOptionError(`${path}.url is not a valid URL, got ${describeValue(url)}`, {
      field: `${path}.url`,
      cause,
    })
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new InvalidOptionError(`${path}.url must not have a query or fragment, got ${describeValue(url)}`, { field: `${path}.url` })
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidOptionError(`${path}.url must use http: or https:, got ${describeValue(url)}`, {
      field: `${path}.url`,
    })
  }
  const id = o.id ?? parsed.origin
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidOptionError(`${path}.id must be a non-empty string, got ${describeValue(id)}`, {
      field: `${path}.id`,
    })
  }
  const maxConnections = checkNumber(o.maxConnections, `${path}.maxConnections`, Number.POSITIVE_INFINITY, {
    min: 1,
    integer: true,
  })
  return {
    id,
    url,
    origin: parsed.origin,
    basePath: basePathOf(parsed),
    http2: o.http2 === undefined ? undefined : checkBoolean(o.http2, `${path}.http2`, false),
    weight: checkNumber(o.weight, `${path}.weight`, DEFAULTS.weight, { min: 1, integer: true }),
    backup: checkBoolean(o.backup, `${path}.backup`, false),
    priority: checkNumber(o.priority, `${path}.priority`, 0, { integer: true }),
    zone: o.zone === undefined ? undefined : zoneName(o.zone, `${path}.zone`),
    proxyProtocol: o.proxyProtocol === undefined ? undefined : checkOneOf(o.proxyProtocol, `${path}.proxyProtocol`, ['v1', 'v2'] as const, 'v1'),
    down: checkBoolean(o.down, `${path}.down`, false),
    maxConnections,
    slowStart: o.slowStart === undefined ? undefined : checkNumber(o.slowStart, `${path}.slowStart`, 0),
    ...(dispatcher === undefined ? normalizeTls(o.tls, parsed, `${path}.tls`) : { tls: undefined, servername: undefined }),
    dispatcher: dispatcher as Dispatcher | undefined,
  }
}

/** Validates an upstream's `tls`; works out the server name every request to it will carry. */
function normalizeTls(input: unknown, url: URL, path: string): Pick<ResolvedUpstream, 'tls' | 'servername'> {
  if (url.protocol !== 'https:') {
    if (input !== undefined) throw new InvalidOptionError(`${path} needs an https: url`, { field: path })
    return { tls: undefined, servername: undefined }
  }
  const o = checkObject(input, path)
  rejectUnknownKeys(o, TLS_KNOWN, path)
  for (const key of ['ca', 'cert', 'key'] as const) {
    const v = o[key]
    const ok = (x: unknown) => typeof x === 'string' || Buffer.isBuffer(x)
    if (v !== undefined && !(ok(v) || (Array.isArray(v) && v.every(ok)))) {
      throw new InvalidOptionError(`${path}.${key} must be PEM text, a Buffer, or an array of them, got ${describeValue(v)}`, {
        field: `${path}.${key}`,
      })
    }
  }
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new InvalidOptionError(`${path}.cert and ${path}.key go together`, { field: `${path}.${o.cert === undefined ? 'cert' : 'key'}` })
  }
  if (o.servername !== undefined && (typeof o.servername !== 'string' || o.servername === '')) {
    throw new InvalidOptionError(`${path}.servername must be a non-empty string, got ${describeValue(o.servername)}`, {
      field: `${path}.servername`,
    })
  }
  checkBoolean(o.rejectUnauthorized, `${path}.rejectUnauthorized`, true)
  const { servername, ...tls } = o
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  return { tls, servername: (servername as string | undefined) ?? host }
}

/** A zone name: a non-empty string. */
export function zoneName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new InvalidOptionError(`${field} must be a non-empty string, got ${describeValue(value)}`, { field })
  return value
}
