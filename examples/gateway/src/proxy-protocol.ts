import { isIP, type Server, type Socket } from 'node:net'

/**
 * The PROXY protocol (HAProxy's, versions 1 and 2: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt)
 * on the gateway's listener, for an L4 balancer in front (AWS NLB, HAProxy `send-proxy`, nginx
 * `proxy_protocol on`): each connection starts with a header saying whom the balancer in front
 * accepted it from. That address becomes the connection's `remoteAddress` and `remotePort`, so
 * `trustProxy`, `ipFilter`, `rateLimit`, `ipHash` and `X-Forwarded-For` all see the client, not the
 * balancer. A connection whose header is missing, malformed or late is closed without an answer:
 * a listener that expects the header cannot tell a client from an attacker forging one.
 */

/** What a PROXY header said: the client's address, or nothing for `LOCAL` / `UNKNOWN` (the balancer's own health checks). */
export interface ProxyHeader {
  readonly address: string
  readonly port: number
  readonly family: 'IPv4' | 'IPv6'
}

/** nginx's proxy_protocol_timeout (30 s): the header must be whole by then. */
export const PROXY_HEADER_TIMEOUT = 30_000
/** A v1 header is at most 107 bytes, CRLF included (the spec's worst case). */
const V1_MAX = 107
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
/** The spec allows up to 65 535 bytes of addresses and TLVs; more than this is refused as abuse. */
const V2_MAX_BODY = 4096

/** The header is malformed: the connection is closed. */
export class ProxyHeaderError extends Error {
  readonly code = 'SWY_ERR_PROXY_PROTOCOL'
}

/**
 * Reads a PROXY header at the start of `data`. Returns what it said and how many bytes it took,
 * `undefined` when more bytes are needed, and throws {@link ProxyHeaderError} when it is not one.
 */
export function parseProxyHeader(data: Buffer): { header: ProxyHeader | undefined; length: number } | undefined {
  if (data.length === 0) return undefined
  if (data[0] === 0x0d) return parseV2(data)
  if (data[0] === 0x50) return parseV1(data) // 'P'
  throw new ProxyHeaderError('the connection does not start with a PROXY header')
}

function parseV1(data: Buffer): { header: ProxyHeader | undefined; length: number } | undefined {
  const prefix = 'PROXY '
  for (let i = 0; i < Math.min(prefix.length, data.length); i++) {
    if (data[i] !== prefix.charCodeAt(i)) throw new ProxyHeaderError('the connection does not start with a PROXY header')
  }
  const end = data.indexOf('\r\n')
  if (end === -1) {
    if (data.length >= V1_MAX) throw new ProxyHeaderError(`a PROXY v1 header is longer than ${V1_MAX} bytes`)
    return undefined
  }
  if (end + 2 > V1_MAX) throw new ProxyHeaderError(`a PROXY v1 header is longer than ${V1_MAX} bytes`)
  const parts = data.subarray(prefix.length, end).toString('latin1').split(' ')
  const length = end + 2
  if (parts[0] === 'UNKNOWN') return { header: undefined, length }
  if (parts.length !== 5 || (parts[0] !== 'TCP4' && parts[0] !== 'TCP6')) throw new ProxyHeaderError('a malformed PROXY v1 header')
  const [proto, source, destination, sourcePort, destinationPort] = parts as [string, string, string, string, string]
  const family = proto === 'TCP4' ? 4 : 6
  if (isIP(source) !== family || isIP(destination) !== family) throw new ProxyHeaderError('a PROXY v1 header with an address not of its family')
  const port = portOf(sourcePort)
  portOf(destinationPort)
  return { header: { address: source, port, family: family === 4 ? 'IPv4' : 'IPv6' }, length }
}

/** A decimal port 0-65535 without a sign or leading zeros (the spec's form). */
function portOf(text: string): number {
  if (!/^(?:0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65_535) throw new ProxyHeaderError('a PROXY v1 header with a bad port')
  return Number(text)
}

function parseV2(data: Buffer): { header: ProxyHeader | undefined; length: number } | undefined {
  for (let i = 0; i < Math.min(V2_SIGNATURE.length, data.length); i++) {
    if (data[i] !== V2_SIGNATURE[i]) throw new ProxyHeaderError('the connection does not start with a PROXY header')
  }
  if (data.length < 16) return undefined
  const versionCommand = data[12]!
  if (versionCommand >> 4 !== 2) throw new ProxyHeaderError('a PROXY v2 header of another version')
  const command = versionCommand & 0x0f
  if (command > 1) throw new ProxyHeaderError('a PROXY v2 header with an unknown command')
  const family = data[13]!
  const size = data.readUInt16BE(14)
  if (size > V2_MAX_BODY) throw new ProxyHeaderError(`a PROXY v2 header longer than ${V2_MAX_BODY} bytes`)
  const length = 16 + size
  if (data.length < length) return undefined
  if (command === 0) return { header: undefined, length } // LOCAL: the balancer itself (a health check)
  const body = data.subarray(16, length)
  if (family === 0x11) {
    // TCP over IPv4: source, destination (4 bytes each), source port, destination port.
    if (size < 12) throw new ProxyHeaderError('a PROXY v2 header too short for its IPv4 addresses')
    return { header: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8), family: 'IPv4' }, length }
  }
  if (family === 0x21) {
    if (size < 36) throw new ProxyHeaderError('a PROXY v2 header too short for its IPv6 addresses')
    const groups: string[] = []
    for (let i = 0; i < 16; i += 2) groups.push(body.readUInt16BE(i).toString(16))
    return { header: { address: compressIPv6(groups), port: body.readUInt16BE(32), family: 'IPv6' }, length }
  }
  // UNSPEC, UDP or UNIX sockets: no TCP client address to take; the connection's own stays.
  if (family === 0x00 || family === 0x12 || family === 0x22 || family === 0x31 || family === 0x32) return { header: undefined, length }
  throw new ProxyHeaderError('a PROXY v2 header with an unknown address family')
}

/** `2001:db8:0:0:0:0:0:1` → `2001:db8::1`, as Node writes addresses (RFC 5952: the longest run of zero groups, the first of equals). */
function compressIPv6(groups: string[]): string {
  let best = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLength) {
      best = i
      bestLength = j - i
    }
    i = j
  }
  if (best === -1) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLength).join(':')}`
}

/**
 * Makes `server` (an `http`, `https` or `http2` server) expect a PROXY header on every connection
 * before anything else: the header is read and taken off, the client's address it carries set on
 * the socket (and on the TLS socket over it), and only then does the server see the connection.
 */
export function acceptProxyProtocol(server: Server, timeout = PROXY_HEADER_TIMEOUT): void {
  const listeners = server.listeners('connection') as ((socket: Socket) => void)[]
  server.removeAllListeners('connection')
  const addresses = new WeakMap<Socket, ProxyHeader>()
  server.on('connection', (socket: Socket) => {
    readHeader(socket, timeout, (header) => {
      if (header !== undefined) {
        addresses.set(socket, header)
        setAddress(socket, header)
      }
      for (const listener of listeners) listener.call(server, socket)
    })
  })
  // A TLS socket reads its peer from the connection under it: it is told too.
  server.on('secureConnection', (tlsSocket: Socket & { _parent?: Socket }) => {
    const header = tlsSocket._parent === undefined ? undefined : addresses.get(tlsSocket._parent)
    if (header !== undefined) setAddress(tlsSocket, header)
  })
}

function setAddress(socket: Socket, header: ProxyHeader): void {
  Object.defineProperty(socket, 'remoteAddress', { value: header.address, configurable: true })
  Object.defineProperty(socket, 'remotePort', { value: header.port, configurable: true })
  Object.defineProperty(socket, 'remoteFamily', { value: header.family, configurable: true })
}

function readHeader(socket: Socket, timeout: number, done: (header: ProxyHeader | undefined) => void): void {
  let buffered: Buffer = Buffer.alloc(0)
  const fail = () => {
    cleanup()
    socket.destroy()
  }
  const timer = setTimeout(fail, timeout)
  timer.unref()
  const cleanup = () => {
    clearTimeout(timer)
    socket.off('readable', onReadable)
    socket.off('error', fail)
    socket.off('end', fail)
  }
  const onReadable = () => {
    let chunk: Buffer | null
    while ((chunk = socket.read() as Buffer | null) !== null) {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      let parsed: ReturnType<typeof parseProxyHeader>
      try {
        parsed = parseProxyHeader(buffered)
      } catch {
        fail()
        return
      }
      if (parsed === undefined) continue
      cleanup()
      if (parsed.length < buffered.length) socket.unshift(buffered.subarray(parsed.length))
      done(parsed.header)
      return
    }
  }
  socket.on('error', fail)
  socket.on('end', fail)
  socket.on('readable', onReadable)
}
