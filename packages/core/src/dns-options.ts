import { checkNumber, checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'

/** The balancer's `dns` options. */
export interface DnsOptions {
  /** DNS servers to ask (`'10.0.0.2'`, `'127.0.0.1:5353'`). @default the system's (`/etc/resolv.conf`) */
  servers?: string[]
  /** Shortest wait before asking again, ms, whatever the records' TTL. @default 1_000 */
  minTtl?: number
  /** Longest wait before asking again, ms, however long the TTL. @default 300_000 */
  maxTtl?: number
  /** How often SRV records are asked again, ms (Node reports no TTL for them). @default 30_000 */
  srvInterval?: number
  /** Wait before asking again after a lookup failed (the upstreams found last stay), ms. @default 5_000 */
  retryInterval?: number
}

export interface ResolvedDns {
  readonly servers: readonly string[] | undefined
  readonly minTtl: number
  readonly maxTtl: number
  readonly srvInterval: number
  readonly retryInterval: number
}

/** Validates `dns`. Defaults: TTLs clamped to [1 s, 5 min]; SRV every 30 s; 5 s after a failure. */
export function normalizeDns(input: unknown): ResolvedDns {
  const o = checkObject(input, 'dns')
  rejectUnknownKeys(o, ['servers', 'minTtl', 'maxTtl', 'srvInterval', 'retryInterval'], 'dns')
  if (o.servers !== undefined && (!Array.isArray(o.servers) || o.servers.some((s) => typeof s !== 'string'))) {
    throw new InvalidOptionError(`dns.servers must be a list of addresses, got ${describeValue(o.servers)}`, { field: 'dns.servers' })
  }
  const minTtl = checkNumber(o.minTtl, 'dns.minTtl', 1_000, { exclusiveMin: true })
  return {
    servers: o.servers as string[] | undefined,
    minTtl,
    maxTtl: checkNumber(o.maxTtl, 'dns.maxTtl', Math.max(minTtl, 300_000), { min: minTtl }),
    srvInterval: checkNumber(o.srvInterval, 'dns.srvInterval', 30_000, { exclusiveMin: true }),
    retryInterval: checkNumber(o.retryInterval, 'dns.retryInterval', 5_000, { exclusiveMin: true }),
  }
}

