import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { RequestInfo, SwitchyardError } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import { asInternal, BadRequestError, ClientAbortedError, MethodNotSupportedError, VersionNotSupportedError } from '../config/errors.js'
import type { ClientSide, UpgradeLink } from '../exchange/client.js'
import type { ExchangeHost } from '../exchange/context.js'
import { Exchange } from '../exchange/exchange.js'
import type { Upstream } from '../fleet/upstream.js'
import { clientAddress, nodeRequestInfo } from './headers.js'
import { type PreparedHead, prepareRequest } from './prepare.js'
import { refuseUpgrade } from './respond.js'
import { joinSockets } from './tunnel.js'
/** An `Upgrade` protocol token (RFC 9110 7.8): `websocket`, `h2c`, `foo/2`. */
const PROTOCOL = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?$/

/** Response headers that describe the upstream connection, not the relayed answer. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection'])

/**
 * One `Upgrade` request (a WebSocket handshake), from a server's `'upgrade'` event: picked,
 * admitted and retried as any request, then, when the upstream answers 101, a tunnel between the
 * client's socket and the upstream's. The tunnel holds its upstream slot (`inFlight`,
 * `maxConnections`) until either side closes; its handshake is what health and latency judge.
 * Any other answer is relayed as it is, and the client's connection closed after it.
 */
export class UpgradeClient implements ClientSide, PreparedHead {
  readonly method: string
  path: string
  refusal: SwitchyardError | undefined = undefined
  readonly exchange: Exchange
  headers: string[] = []
  host: string | undefined = undefined
  hasBody = false
  headError: string | undefined = undefined
  upgrade: string | undefined = undefined
  readonly #req: IncomingMessage
  readonly #socket: Duplex
  readonly #head: Buffer
  readonly #host: ExchangeHost
  #protocol = ''
  /** True once the answer's head went to the client. */
  #answered = false

  constructor(host: ExchangeHost, req: IncomingMessage, socket: Duplex, head: Buffer) {
    this.method = req.method ?? 'GET'
    this.path = req.url ?? '/'
    this.#host = host
    this.#req = req
    this.#socket = socket
    this.#head = head
    // Nothing the client sends may throw out of here: a failure is this request's refusal.
    try {
      this.refusal = this.#checkLine() ?? this.#readHead(req)
    } catch (err) {
      this.refusal = asInternal(err, 'the request head could not be read')
    }
    this.exchange = new Exchange(host, this)
    socket.on('error', this.#onClientGone)
    socket.once('close', this.#onClientGone)
  }

  readonly #onClientGone = (): void => {
    if (!this.#answered) this.exchange.cancel(new ClientAbortedError('the client closed the connection during the handshake'))
  }

  /** A `CONNECT` (from a server's `'connect'` event: `lb.connect`), or a version this connection does not speak. */
  #checkLine(): SwitchyardError | undefined {
    if (this.method === 'CONNECT') return new MethodNotSupportedError('CONNECT opens no tunnels here: this is a reverse proxy')
    if (this.#req.httpVersionMajor !== 1) return new VersionNotSupportedError(`HTTP/${this.#req.httpVersion} in a request line on an HTTP/1.1 connection`)
    return undefined
  }

  /** The head for the upstream (prepare.ts: the one pass every entry runs), and an upgrade's own checks. */
  #readHead(req: IncomingMessage): SwitchyardError | undefined {
    const proto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http'
    const refused = prepareRequest(this, this.#host.options, this.path, req.rawHeaders, { peer: clientAddress(req.socket.remoteAddress), proto, forwarding: true })
    if (refused !== undefined) return refused
    this.#protocol = (this.upgrade ?? '').trim()
    if (!PROTOCOL.test(this.#protocol)) return new BadRequestError('the Upgrade header names no protocol')
    if (this.hasBody) return new BadRequestError('an upgrade request cannot carry a body')
    return undefined
  }

  requestInfo(): RequestInfo {
    return nodeRequestInfo(this.method, this.exchange.path, this.#req, this.#host.options.trust)
  }

  dispatchOptions(u: Upstream, path: string): Dispatcher.DispatchOptions {
    return {
      origin: u.origin,
      method: this.method as Dispatcher.HttpMethod,
      path,
      headers: this.headers,
      upgrade: this.#protocol, // undici adds `Connection: upgrade` and `Upgrade` itself
      servername: u.servername, // read by undici's Request, not in its types
    } as Dispatcher.DispatchOptions
  }

  bodyReplayable(): boolean {
    return true // no body; the bytes after the head wait until the tunnel opens
  }

  bodyShareable(): boolean {
    return false // a handshake is never hedged: two upstreams would both switch protocols
  }

  uploading(): boolean {
    return false
  }

  isClientError(): boolean {
    return false
  }

  respondError(error: SwitchyardError): void {
    this.#answered = true
    refuseUpgrade(this.#socket, error)
  }

  abort(): void {
    this.#socket.destroy()
  }

  informational(): void {}

  /** A refusal (not 101): relayed as it is, on a connection that then closes. */
  head(statusCode: number, rawHeaders: Buffer[], _resume: () => void, statusText: string): boolean {
    let lines = ''
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1')
      if (HOP_BY_HOP.has(name.toLowerCase())) continue
      lines += `${name}: ${rawHeaders[i + 1]!.toString('latin1')}\r\n`
    }
    this.#writeHead(statusCode, statusText, lines)
    return true
  }

  data(chunk: Buffer): boolean {
    this.#socket.write(chunk) // a refusal's body: small, and the connection closes after it
    return true
  }

  end(): void {
    this.#socket.end()
  }

  upgraded(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex, link: UpgradeLink): void {
    const client = this.#socket
    if (client.destroyed) {
      upstream.destroy()
      link.tunnel()()
      return
    }
    let lines = ''
    const raw = rawHeaders ?? []
    for (let i = 0; i < raw.length; i += 2) lines += `${raw[i]!.toString()}: ${raw[i + 1]!.toString()}\r\n`
    this.#writeHead(statusCode, STATUS_CODES[statusCode] ?? 'Switching Protocols', lines)
    const closed = link.tunnel()
    const tunnels = this.#host.tunnels
    client.removeListener('close', this.#onClientGone)
    client.removeListener('error', this.#onClientGone)
    if (this.#head.length !== 0) upstream.write(this.#head)
    const { tunnelIdle, send } = this.#host.options.timeouts
    const tunnel = {
      destroy: joinSockets(client, upstream, { idle: tunnelIdle, send }, () => {
        tunnels.delete(tunnel)
        closed()
      }),
    }
    tunnels.add(tunnel)
  }

  #writeHead(statusCode: number, statusText: string, headerLines: string): void {
    this.#answered = true
    const close = statusCode === 101 ? '' : 'connection: close\r\n'
    this.#socket.write(`HTTP/1.1 ${statusCode} ${statusText}\r\n${headerLines}${close}\r\n`)
  }
}
