import type { IncomingMessage } from 'node:http'
import ipaddr from 'ipaddr.js'
import { InvalidOptionError } from './errors.js'
import { describeValue } from './options-check.js'

/**
 * Which proxies in front of this one are believed about the client's address, as Express's
 * `trust proxy`: `false` (the default: nobody — the socket's peer is the client), `true`
 * (everyone: the left-most `X-Forwarded-For` address), a hop count (the peer and the n-1 proxies
 * before it), or addresses and CIDR ranges (`'10.0.0.0/8'`, `'::1'`, `['loopback', ...]` with
 * ipaddr.js range names such as `loopback`, `private`, `uniqueLocal`).
 */
export type TrustProxy = boolean | number | string | readonly string[]

/** A resolved trust rule: is the hop at `depth` (0: the socket's peer) with this address trusted? */
export type TrustRule = (address: string, depth: number) => boolean

/** The default rule: nobody is trusted. */
export const NONE: TrustRule = () => false
const ALL: TrustRule = () => true

/** Parses an address, IPv4-mapped IPv6 (`::ffff:1.2.3.4`) read as the IPv4 address it is. */
export function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!ipaddr.isValid(address)) return undefined
  const parsed = ipaddr.parse(address)
  return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? (parsed as ipaddr.IPv6).toIPv4Address() : parsed
}

/** A matcher for a list of addresses, CIDR ranges and ipaddr.js range names. */
export function addressMatcher(list: readonly string[], field: string): (address: string) => boolean {
  const ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = []
  const names = new Set<string>()
  list.forEach((entry, i) => {
    if (typeof entry !== 'string') {
      throw new InvalidOptionError(`${field}[${i}] must be an address or CIDR range, got ${describeValue(entry)}`, { field: `${field}[${i}]` })
    }
    if (/^[a-zA-Z]+$/.test(entry)) {
      names.add(entry)
      return
    }
    try {
      if (entry.includes('/')) {
        const [addr, bits] = ipaddr.parseCIDR(entry)
        const mapped = addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
        ranges.push(mapped ? [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96] : [addr, bits])
      } else {
        const addr = parseAddress(entry)
        if (addr === undefined) throw new Error('not an address')
        ranges.push([addr, addr.kind() === 'ipv4' ? 32 : 128])
      }
    } catch (cause) {
      throw new InvalidOptionError(`${field}[${i}] is not an address or CIDR range, got ${JSON.stringify(entry)}`, { field: `${field}[${i}]`, cause })
    }
  })
  const match = (address: string): boolean => {
    const addr = parseAddress(address)
    if (addr === undefined) return false
    if (names.size !== 0 && names.has(addr.range())) return true
    for (const [range, bits] of ranges) if (addr.kind() === range.kind() && addr.match(range, bits)) return true
    return false
  }
  // Clients come back (keep-alive, the same few proxies in front): an answer is remembered, so a
  // known address costs one Map lookup instead of a parse. Bounded: past MEMO addresses the memo
  // starts over, so many distinct addresses cost what no memo would.
  const memo = new Map<string, boolean>()
  return function matches(address) {
    let known = memo.get(address)
    if (known === undefined) {
      known = match(address)
      if (memo.size >= MEMO) memo.clear()
      memo.set(address, known)
    }
    return known
  }
}

/** Addresses an {@link addressMatcher} remembers (about 1 MB at most). */
const MEMO = 10_000

/** Validates `trustProxy`; {@link NONE} for `false` or undefined. */
export function normalizeTrustProxy(input: unknown, field = 'trustProxy'): TrustRule {
  if (input === undefined || input === false) return NONE
  if (input === true) return ALL
  if (typeof input === 'number') {
    if (!Number.isInteger(input) || input < 0) {
      throw new InvalidOptionError(`${field} must be a whole number of hops, got ${describeValue(input)}`, { field })
    }
    return (_address, depth) => depth < input
  }
  const list = typeof input === 'string' ? input.split(',').map((s) => s.trim()) : input
  if (!Array.isArray(list)) {
    throw new InvalidOptionError(`${field} must be a boolean, a hop count, or addresses and CIDR ranges, got ${describeValue(input)}`, { field })
  }
  const matches = addressMatcher(list as string[], field)
  return (address) => matches(address)
}

/**
 * The client's address under `trust`: the socket's peer, unless it is trusted, then walking
 * `X-Forwarded-For` from the right (the nearest hop first) while the hop is trusted. A spoofed
 * `X-Forwarded-For` is ignored unless the proxy that passed it on is trusted.
 */
export function clientAddress(req: IncomingMessage, trust: TrustRule): string {
  return forwardedClient(stripMapped(req.socket.remoteAddress ?? ''), req.headers['x-forwarded-for'], trust)
}

/** {@link clientAddress} from its parts: the socket's peer (`::ffff:` removed) and the `X-Forwarded-For` value(s). */
export function forwardedClient(peer: string, header: string | string[] | undefined, trust: TrustRule): string {
  let address = peer
  if (trust === NONE || header === undefined) return address
  const hops = (Array.isArray(header) ? header.join(',') : header).split(',')
  for (let depth = 0, i = hops.length - 1; i >= 0 && trust(address, depth); depth++, i--) {
    const hop = canonicalAddress(hops[i]!.trim())
    if (hop === undefined) break
    address = hop
  }
  return address
}

/** Longer than any address a proxy writes (an IPv6 with an IPv4 tail and a 15-character zone is 62). */
const MAX_ADDRESS = 64

/**
 * An address as one string per address, or undefined when `text` is none: IPv4 in four decimal
 * parts (`1.2.3.4`; zero-padded, octal and hex forms are not addresses a proxy writes), IPv6 in
 * RFC 5952's form (`2001:db8::1`) without a zone id, an IPv4-mapped IPv6 as its IPv4. So a
 * forged `X-Forwarded-For` cannot make one client many keys (`001.2.3.4`, `1.2.3.4`), or a key of
 * kilobytes (`fe80::1%<8 KB>`), in a rate limit or any other table keyed by client.
 */
export function canonicalAddress(text: string): string | undefined {
  if (text.length > MAX_ADDRESS) return undefined
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return text
  if (!ipaddr.IPv6.isValid(text)) return undefined
  const v6 = ipaddr.IPv6.parse(text)
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString()
  v6.zoneId = undefined // a zone names an interface of the sender's host, not a client
  return v6.toRFC5952String()
}

/** The address without the `::ffff:` of an IPv4-mapped IPv6 address. */
export function stripMapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}
