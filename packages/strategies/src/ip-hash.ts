import { Ring } from './consistent-hash.js'
import { addressKey } from './keys.js'
import { checkFunction, checkObject, rejectUnknownKeys } from './options-check.js'
import type { Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link ipHash}. */
export interface IpHashOptions extends StrategyDeps {}

/**
 * Client-address affinity (nginx `ip_hash`): the client's address, IPv4 or IPv6, is the key of a
 * ketama ring (see `consistentHash`). Unlike nginx, which hashes the first three octets of an
 * IPv4 address with a modulo, the whole address is hashed on a ring, so adding or removing an
 * upstream moves about 1/n of the clients. On the dispatcher path there is no client address, so
 * requests go round robin.
 *
 * Cost: as `consistentHash`: pick O(log p), rebuild O(p log p).
 *
 * @example
 * createBalancer({ upstreams, strategy: ipHash() })
 */
export function ipHash(options: IpHashOptions = {}): Strategy {
  const o = checkObject(options, 'ipHash()')
  rejectUnknownKeys(o, ['random', 'now'], 'ipHash()')
  return new Ring('ip-hash', addressKey, {
    points: 160,
    random: checkFunction<() => number>(o.random, 'ipHash().random', Math.random),
  })
}
