import type { IncomingMessage } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { type RequestInfo, type SwitchyardError, TRUST_NONE } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import type { BalancerCore } from './balancer-core.js'
import { asInternal, BadRequestError, ClientAbortedError, MethodNotSupportedError, VersionNotSupportedError } from './errors.js'
import { Exchange } from './exchange.js'
import type { Upstream } from './upstream.js'
import { clientAddress, nodeRequestInfo, type RequestHeadInfo, requestHead } from './headers.js'
import { ASTERISK, originForm } from './request-target.js'
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
export class UpgradeExchange extends Exchange implements RequestHeadInfo {
  headers: string[] = []
  host: string | undefined = undefined
  hasBody = false
  headError: string | undefined = undefined
  upgrade: string | undefined = undefined
  readonly #req: IncomingMessage
  readonly #socket: Duplex
  readonly #head: Buffer
  #protocol = ''
  /** True once the answer's head went to the client. */
  #answered = false

  constructor(core: BalancerCore, req: IncomingMessage, socket: Duplex, head: Buffer) {
    super(core, req.method ?? 'GET', req.url ?? '/')
    this.#req = req
    this.#socket = socket
    this.#head = head
    // Nothing the client sends may throw out of here: a failure is this request's refusal.
    try {
      this.refusal = this.#checkLine()
      if (this.refusal === undefined) {
        const peer = clientAddress(req.socket.remoteAddress)
        const trust = core.options.trust
        const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true
        requestHead(req.rawHeaders, peer, trust !== TRUST_NONE && trust(peer, 0), encrypted ? 'https' : 'http', core.options, this)
        this.#protocol = (this.upgrade ?? '').trim()
        const transform = core.options.requestHeaders
        if (transform !== undefined) this.headers = transform(this.headers)
        this.refusal = this.#check()
      }
    } catch (err) {
      this.refusal = asInternal(err, 'the request head could not be read')
    }
    socket.on('error', this.#onClientGone)
    socket.once('close', this.#onClientGone)
  }

  readonly #onClientGone = (): void => {
    if (!this.#answered) this.cancel(new ClientAbortedError('the client closed the connection during the handshake'))
  }

  /** A `CONNECT` (from a server's `'connect'` event: `lb.connect`), or a version this connection does not speak. */
  #checkLine(): SwitchyardError | undefined {
    if (this.method === 'CONNECT') return new MethodNotSupportedError('CONNECT opens no tunnels here: this is a reverse proxy')
    if (this.#req.httpVersionMajor !== 1) return new VersionNotSupportedError(`HTTP/${this.#req.httpVersion} in a request line on an HTTP/1.1 connection`)
    return undefined
  }

  #check(): SwitchyardError | undefined {
    const path = originForm(this.path)
    if (path === undefined || path === ASTERISK) return new BadRequestError('the request target cannot be proxied')
    this.path = path
    if (this.headError !== undefined) return new BadRequestError(this.headError)
    if (!PROTOCOL.test(this.#protocol)) return new BadRequestError('the Upgrade header names no protocol')
    if (this.hasBody) return new BadRequestError('an upgrade request cannot carry a body')
    return undefined
  }

  protected requestInfo(): RequestInfo {
    return nodeRequestInfo(this.method, this.path, this.#req, this.core.options.trust)
  }

  protected dispatchOptions(u: Upstream): Dispatcher.DispatchOptions {
    return {
      origin: u.origin,
      method: this.method as Dispatcher.HttpMethod,
      path: this.upstreamPath(u),
      headers: this.headers,
      upgrade: this.#protocol, // undici adds `Connection: upgrade` and `Upgrade` itself
      servername: u.servername, // read by undici's Request, not in its types
    } as Dispatcher.DispatchOptions
  }

  protected isBodyReplayable(): boolean {
    return true // no body; the bytes after the head wait until the tunnel opens
  }

  protected isUploading(): boolean {
    return false
  }

  protected isClientError(): boolean {
    return false
  }

  protected respondError(error: SwitchyardError): void {
    this.#answered = true
    refuseUpgrade(this.#socket, error)
  }

  protected abortResponse(): void {
    this.#socket.destroy()
  }

  /** A refusal (not 101): relayed as it is, on a connection that then closes. */
  protected relayHeaders(statusCode: number, rawHeaders: Buffer[], _resume: () => void, statusText: string): boolean {
    let lines = ''
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1')
      if (HOP_BY_HOP.has(name.toLowerCase())) continue
      lines += `${name}: ${rawHeaders[i + 1]!.toString('latin1')}\r\n`
    }
    this.#writeHead(statusCode, statusText, lines)
    return true
  }

  protected relayData(chunk: Buffer): boolean {
    this.#socket.write(chunk) // a refusal's body: small, and the connection closes after it
    return true
  }

  protected relayComplete(): void {
    this.#socket.end()
  }

  protected override upgraded(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    const client = this.#socket
    if (client.destroyed) {
      upstream.destroy()
      this.tunnelOpened(statusCode)()
      return
    }
    let lines = ''
    const raw = rawHeaders ?? []
    for (let i = 0; i < raw.length; i += 2) lines += `${raw[i]!.toString()}: ${raw[i + 1]!.toString()}\r\n`
    this.#writeHead(statusCode, STATUS_CODES[statusCode] ?? 'Switching Protocols', lines)
    const closed = this.tunnelOpened(statusCode)
    const tunnels = this.core.tunnels
    client.removeListener('close', this.#onClientGone)
    client.removeListener('error', this.#onClientGone)
    if (this.#head.length !== 0) upstream.write(this.#head)
    const { tunnelIdle, send } = this.core.options.timeouts
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
