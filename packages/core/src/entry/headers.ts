import type { IncomingMessage } from 'node:http'
import { forwardedClient, type RequestInfo, type TrustRule } from '@switchyard/strategies'
import { dropConnectionListed, equalsLower, isHopByHop } from '../exchange/hop-by-hop.js'
import { isValidHost } from './request-target.js'

/**
 * Header rewriting for the proxy, on flat `[name, value, name, value]` arrays as Node gives
 * `req.rawHeaders` and `res.writeHead()` takes them, so no header object is built per request.
 *
 * Hop-by-hop headers are removed both ways (RFC 9110 7.6.1): Connection, Proxy-Connection,
 * Keep-Alive, TE, Transfer-Encoding, Upgrade, and every header the Connection header names.
 */

/** The balancer options {@link requestHead} reads. */
export interface HeadOptions {
  readonly preserveHost: boolean
  readonly xForwarded: boolean
  readonly underscoresInHeaders: boolean
}

/** What the proxy learns about a request while copying its headers. */
export interface RequestHeadInfo {
  /** Headers to send upstream. */
  headers: string[]
  /** The client's Host header. */
  host: string | undefined
  /** True when the request has a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean
  /** Why the request cannot be proxied (a bad or duplicate `Host`), or undefined. */
  headError: string | undefined
  /** The `Upgrade` header's value (hop-by-hop: never forwarded as a header), or undefined. */
  upgrade: string | undefined
}

/** What a strategy's key function sees of a Node server request, the client address under `trust`. */
export function nodeRequestInfo(method: string, path: string, req: IncomingMessage, trust: TrustRule): RequestInfo {
  return {
    method,
    path,
    headers: req.headers,
    remoteAddress: forwardedClient(clientAddress(req.socket.remoteAddress), req.headers['x-forwarded-for'], trust),
  }
}

/** Strips the `::ffff:` prefix Node puts on IPv4 clients of a dual-stack server. */
export function clientAddress(address: string | undefined): string {
  if (address === undefined) return ''
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/** RFC 7239 node: IPv6 addresses are quoted and bracketed. */
function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address
}

/**
 * Copies the client's headers for the upstream request, dropping hop-by-hop ones and adding the
 * forwarding headers. `address` is the socket's peer; when it is a `trusted` proxy, the forwarding
 * headers it sent are kept and appended to, otherwise they are dropped. An empty `address` (a
 * Fetch-API request whose client is not known) adds no client to them.
 */
export function requestHead(
  raw: readonly string[],
  address: string,
  trusted: boolean,
  proto: 'http' | 'https',
  options: HeadOptions,
  out: RequestHeadInfo,
): void {
  let forwardedProto: string | undefined
  let forwardedHost: string | undefined
  const { preserveHost, xForwarded, underscoresInHeaders } = options
  const headers: string[] = []
  let host: string | undefined
  let hosts = 0
  let authority: string | undefined
  let forwardedFor: string | undefined
  let forwarded: string | undefined
  let connection: string | undefined
  let hasBody = false
  let upgrade: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const value = raw[i + 1]!
    if (name.charCodeAt(0) === 58 /* : */) {
      // HTTP/2 pseudo-headers (node:http2 compat): `:authority` stands for Host; the rest are
      // the request line, which the exchange carries on its own.
      if (name === ':authority') authority = value
      continue
    }
    if (!underscoresInHeaders && name.indexOf('_') !== -1) continue // nginx underscores_in_headers off
    switch (name.length) {
      case 4:
        if (equalsLower(name, 'host')) {
          host = value
          hosts++
          if (!preserveHost) continue
        }
        break
      case 2:
        // TE is hop-by-hop, but `trailers` says the client takes trailers (gRPC needs it kept;
        // it is the one TE value HTTP/2 allows).
        if (equalsLower(name, 'te')) {
          if (/(^|,)\s*trailers\s*(;|,|$)/i.test(value)) headers.push('te', 'trailers')
          continue
        }
        break
      case 5:
        if (equalsLower(name, 'proxy')) continue // httpoxy (CVE-2016-5385): never forwarded
        break
      case 7:
        if (equalsLower(name, 'upgrade')) {
          upgrade = value
          continue
        }
        break
      case 9:
        if (xForwarded && equalsLower(name, 'forwarded')) {
          if (trusted) forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`
          continue
        }
        break
      case 10:
        if (equalsLower(name, 'connection')) {
          connection = connection === undefined ? value : `${connection}, ${value}`
          continue
        }
        break
      case 14:
        if (equalsLower(name, 'content-length')) hasBody = value !== '0'
        break
      case 15:
        if (xForwarded && equalsLower(name, 'x-forwarded-for')) {
          if (trusted) forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`
          continue
        }
        break
      case 16:
        if (xForwarded && equalsLower(name, 'x-forwarded-host')) {
          if (trusted && forwardedHost === undefined) forwardedHost = value
          continue
        }
        break
      case 17:
        if (xForwarded && equalsLower(name, 'x-forwarded-proto')) {
          if (trusted && forwardedProto === undefined) forwardedProto = value
          continue
        }
        if (equalsLower(name, 'transfer-encoding')) {
          hasBody = true
          continue
        }
        break
    }
    if (isHopByHop(name)) continue
    headers.push(name, value)
  }
  dropConnectionListed(headers, connection)
  if (host === undefined && authority !== undefined) {
    host = authority
    hosts = 1
    if (preserveHost) headers.push('host', authority)
  }
  out.headError =
    hosts > 1 ? 'the request has more than one Host header' : host !== undefined && !isValidHost(host) ? 'the Host header is not a valid host' : undefined
  if (xForwarded) {
    const xff = address === '' ? forwardedFor : forwardedFor === undefined ? address : `${forwardedFor}, ${address}`
    if (xff !== undefined) headers.push('x-forwarded-for', xff)
    // A trusted proxy's view of the original scheme and host is passed on; ours describes this hop.
    headers.push('x-forwarded-proto', forwardedProto ?? proto)
    let element = address === '' ? `proto=${proto}` : `for=${forwardedNode(address)};proto=${proto}`
    if (forwardedHost !== undefined) headers.push('x-forwarded-host', forwardedHost)
    else if (host !== undefined) headers.push('x-forwarded-host', host)
    if (host !== undefined) element += `;host="${host}"`
    headers.push('forwarded', forwarded === undefined ? element : `${forwarded}, ${element}`)
  }
  out.headers = headers
  out.host = host
  out.hasBody = hasBody
  out.upgrade = upgrade
}

