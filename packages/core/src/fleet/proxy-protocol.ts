import { connect as connectTcp, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { parseAddress } from '@switchyard/strategies'
import { Client, Dispatcher, errors } from 'undici'

/** Who a request came from, for the PROXY header sent to an upstream (nginx `proxy_protocol on`). */
export interface Peer {
  /** The client's connection: the upstream connections made for it live as long as it does. */
  readonly connection: { once(event: 'close', listener: () => void): unknown }
  /** The client's address (after `trustProxy`) and port (0 when it came from a forwarding header). */
  readonly source: string
  readonly sourcePort: number
  /** The address and port the client connected to. */
  readonly destination: string
  readonly destinationPort: number
}

/** Where an attempt's dispatch options carry its {@link Peer} to a PROXY-protocol upstream. */
export const PEER = Symbol('switchyard.peer')

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

/**
 * The PROXY header (HAProxy's protocol, version 1 or 2) for a connection made on behalf of
 * `peer`; `UNKNOWN` (v1) or `LOCAL` (v2) without one (a request this process makes itself). Both
 * addresses are written in one family: IPv4 when both are, else IPv6 (an IPv4 address mapped).
 */
export function proxyHeader(version: 'v1' | 'v2', peer: Peer | undefined): Buffer {
  const src = peer === undefined ? undefined : parseAddress(peer.source)
  const dst = peer === undefined ? undefined : parseAddress(peer.destination)
  if (src === undefined || dst === undefined) {
    return version === 'v1' ? Buffer.from('PROXY UNKNOWN\r\n', 'latin1') : Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])])
  }
  type Address = NonNullable<typeof src>
  const four = src.kind() === 'ipv4' && dst.kind() === 'ipv4'
  const six = (a: Address): Address => (a.kind() === 'ipv4' ? (a as unknown as { toIPv4MappedAddress(): Address }).toIPv4MappedAddress() : a)
  const s = four ? src : six(src)
  const d = four ? dst : six(dst)
  if (version === 'v1') {
    return Buffer.from(`PROXY ${four ? 'TCP4' : 'TCP6'} ${s.toString()} ${d.toString()} ${peer!.sourcePort} ${peer!.destinationPort}\r\n`, 'latin1')
  }
  const addresses = Buffer.from([...s.toByteArray(), ...d.toByteArray(), 0, 0, 0, 0])
  addresses.writeUInt16BE(peer!.sourcePort, addresses.length - 4)
  addresses.writeUInt16BE(peer!.destinationPort, addresses.length - 2)
  const head = Buffer.from([0x21, four ? 0x11 : 0x21, 0, 0])
  head.writeUInt16BE(addresses.length, 2)
  return Buffer.concat([V2_SIGNATURE, head, addresses])
}

interface Settings {
  readonly version: 'v1' | 'v2'
  readonly origin: string
  readonly tls: Readonly<Record<string, unknown>> | undefined
  readonly servername: string | undefined
  readonly connectTimeout: number
  readonly headersTimeout: number
  readonly bodyTimeout: number
}

/**
 * An upstream's dispatcher when it takes the PROXY protocol: a header names one client, so a
 * connection cannot be shared between clients (HAProxy keeps such connections private too). Each
 * client connection (and client address on it, behind a trusted proxy) gets its own undici
 * `Client` to the upstream, whose connections start with the header, closed when the client's
 * connection closes; requests without a client (the dispatcher path) share one with an `UNKNOWN` /
 * `LOCAL` header.
 */
export class ProxyProtocolDispatcher extends Dispatcher {
  readonly #settings: Settings
  readonly #byConnection = new WeakMap<object, Map<string, Client>>()
  readonly #open = new Set<Client>()
  #shared: Client | undefined

  constructor(settings: Settings) {
    super()
    this.#settings = settings
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const peer = (options as { [PEER]?: Peer })[PEER]
    return this.#clientFor(peer).dispatch(options, handler)
  }

  #clientFor(peer: Peer | undefined): Client {
    if (peer === undefined) return (this.#shared ??= this.#client(undefined))
    let byAddress = this.#byConnection.get(peer.connection)
    if (byAddress === undefined) {
      const map = new Map<string, Client>()
      this.#byConnection.set(peer.connection, (byAddress = map))
      peer.connection.once('close', () => {
        for (const c of map.values()) this.#retire(c)
      })
    }
    let client = byAddress.get(peer.source)
    if (client === undefined) byAddress.set(peer.source, (client = this.#client(peer)))
    return client
  }

  #client(peer: Peer | undefined): Client {
    const s = this.#settings
    const header = proxyHeader(s.version, peer)
    const https = s.origin.startsWith('https:')
    const client = new Client(s.origin, {
      headersTimeout: s.headersTimeout,
      bodyTimeout: s.bodyTimeout,
      connect: (opts: { hostname: string; port: string }, callback: (err: Error | null, socket: Socket | null) => void) => {
        let settled = false
        const finish = (err: Error | null, socket: Socket | null) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          callback(err, socket)
        }
        const raw = connectTcp({ host: opts.hostname.replace(/^\[|\]$/g, ''), port: Number(opts.port) || (https ? 443 : 80) })
        const timer = setTimeout(() => {
          raw.destroy()
          finish(new errors.ConnectTimeoutError(), null)
        }, s.connectTimeout)
        raw.once('error', (err) => finish(err, null))
        raw.once('connect', () => {
          raw.write(header) // before anything else, TLS included
          if (!https) return finish(null, raw)
          const secure = connectTls({ ...s.tls, socket: raw, servername: s.servername, ALPNProtocols: ['http/1.1'] })
          secure.once('secureConnect', () => finish(null, secure))
          secure.once('error', (err) => finish(err, null))
        })
      },
    } as Client.Options)
    this.#open.add(client)
    return client
  }

  #retire(client: Client): void {
    this.#open.delete(client)
    client.close().catch(() => {})
  }

  override async close(): Promise<void> {
    await Promise.all([...this.#open].map((c) => c.close()))
    this.#open.clear()
  }

  override async destroy(): Promise<void> {
    await Promise.all([...this.#open].map((c) => c.destroy()))
    this.#open.clear()
  }
}
