import { checkNumber, checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import { DEFAULTS } from './defaults.js'
import type { ResolvedDns } from './resolved.js'

/** Validates `dns`. Defaults: TTLs clamped to [1 s, 5 min]; SRV every 30 s; 5 s after a failure. */
export function normalizeDns(input: unknown): ResolvedDns {
  const o = checkObject(input, 'dns')
  rejectUnknownKeys(o, ['servers', 'minTtl', 'maxTtl', 'srvInterval', 'retryInterval'], 'dns')
  if (o.servers !== undefined && (!Array.isArray(o.servers) || o.servers.some((s) => typeof s !== 'string'))) {
    throw new InvalidOptionError(`dns.servers must be a list of addresses, got ${describeValue(o.servers)}`, { field: 'dns.servers' })
  }
  const minTtl = checkNumber(o.minTtl, 'dns.minTtl', DEFAULTS.dnsMinTtl, { exclusiveMin: true })
  return {
    servers: o.servers as string[] | undefined,
    minTtl,
    maxTtl: checkNumber(o.maxTtl, 'dns.maxTtl', Math.max(minTtl, DEFAULTS.dnsMaxTtl), { min: minTtl }),
    srvInterval: checkNumber(o.srvInterval, 'dns.srvInterval', DEFAULTS.dnsSrvInterval, { exclusiveMin: true }),
    retryInterval: checkNumber(o.retryInterval, 'dns.retryInterval', DEFAULTS.dnsRetryInterval, { exclusiveMin: true }),
  }
}
