import { ForbiddenError } from './errors.js'
import type { Middleware } from './middleware.js'
import { addressMatcher, checkObject, clientAddress, normalizeTrustProxy, refuse, rejectUnknownKeys, type TrustProxy } from '@switchyard/strategies'

/** Options of {@link ipFilter}. */
export interface IpFilterOptions {
  /** When given, only these addresses and CIDR ranges (IPv4 or IPv6; ipaddr.js range names) pass. */
  allow?: readonly string[]
  /** These never pass, even when `allow` matches them (nginx `deny` before `allow all`). */
  deny?: readonly string[]
  /** Who is believed about the client's address. @default false */
  trustProxy?: TrustProxy
}

/**
 * nginx `allow` / `deny` as middleware: 403 (`SWY_ERR_FORBIDDEN`) for an address in `deny`, or
 * not in `allow` when `allow` is given. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as
 * the IPv4 address they carry, on both sides.
 *
 * @example
 * compose(ipFilter({ allow: ['10.0.0.0/8', '::1'], deny: ['10.0.0.13'] }), lb.handler)
 */
export function ipFilter(options: IpFilterOptions): Middleware {
  const o = checkObject(options, 'ipFilter()')
  rejectUnknownKeys(o, ['allow', 'deny', 'trustProxy'], 'ipFilter()')
  const allow = o.allow === undefined ? undefined : addressMatcher(o.allow as string[], 'ipFilter().allow')
  const deny = o.deny === undefined ? undefined : addressMatcher(o.deny as string[], 'ipFilter().deny')
  const trust = normalizeTrustProxy(o.trustProxy, 'ipFilter().trustProxy')
  return (req, res, next) => {
    const address = clientAddress(req, trust)
    if (deny?.(address) === true || (allow !== undefined && !allow(address))) {
      refuse(res, new ForbiddenError('the client address is not allowed'))
      return
    }
    next()
  }
}
