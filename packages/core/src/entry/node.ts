import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { RequestInfo, SwitchyardError } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import {
  asInternal,
  BodyConsumedError,
  ClientTimeoutError,
  HeadersTooLargeError,
  MethodNotSupportedError,
  UpgradeUnhandledError,
  UpstreamError,
  VersionNotSupportedError,
} from '../config/errors.js'
import type { ClientSide, UpgradeLink } from '../exchange/client.js'
import type { ExchangeHost } from '../exchange/context.js'
import { Exchange } from '../exchange/exchange.js'
import { trailerPairs } from '../exchange/response-head.js'
import type { Peer } from '../fleet/proxy-protocol.js'
import type { Upstream } from '../fleet/upstream.js'
import { clientAddress, nodeRequestInfo } from './headers.js'
import { responseEncoder } from './compress.js'
import type { BufferBudget, BufferSink } from './response-buffer.js'
import { ResponsePipeline } from './response-pipeline.js'
import { relayInformational } from './informational.js'
import { serializeParsedBody } from './parsed-body.js'
import { type PreparedHead, prepareRequest } from './prepare.js'
import { answerError } from './respond.js'

/** Bytes buffered for a slow client before the upstream is paused: Node 22's default high-water mark. */
const PAUSE_BYTES = 64 * 1024

/** Node's default `server.maxHeadersCount` (lib/_http_server.js): 1 000 header lines, 2 000 array entries. */
const DEFAULT_MAX_HEADER_ENTRIES = 2_000

/**
 * `lb.handler`'s client side: one `http` (or `node:http2` compat) server request, relayed to an
 * upstream by its exchange, the answer streamed back. Bodies stream both ways with backpressure:
 * undici reads the request as a stream, and a full client socket pauses the upstream response
 * until it drains. Client timeouts (`clientBody`, `send`) are watched here.
 */
export class NodeClient implements ClientSide, PreparedHead {
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
  readonly #res: ServerResponse
  readonly #isHttp2: boolean
  readonly #next: ((err?: unknown) => void) | undefined
  readonly #options: ExchangeHost['options']
  #resume: (() => void) | undefined = undefined
  /** Watches a stalled upload (`timeouts.clientBody`), then a stalled download (`timeouts.send`). */
  #timer: NodeJS.Timeout | undefined = undefined
  #bytesSeen = 0
  /** HTTP/2: body bytes this stream has delivered (its session's socket carries other streams too). */
  #received = 0
  #waitingDrain = false
  readonly #budget: BufferBudget
  /** With `compress` or `buffering`: what delivers the body to the client (response-pipeline.ts). */
  #pipeline: ResponsePipeline | undefined = undefined
  /** A body a parser read before the handler, serialized again. */
  #parsedBody: Buffer | undefined = undefined
  /**
   * The client's side closed. Over HTTP/1.1 that is a cancel unless the response was finished;
   * Node's HTTP/2 compat response reports itself finished when the client resets the stream
   * (RST_STREAM) or drops the connection, so there any close cancels (a no-op once the exchange
   * is over): a reset stream cancels its upstream request as a closed connection does.
   */
  readonly #onClose = (): void => {
    if (this.#isHttp2 || !this.#res.writableFinished) {
      this.#pipeline?.destroy() // a buffered body's file goes with the client
      this.exchange.cancel()
    }
  }
  readonly #onDrain = (): void => {
    this.#waitingDrain = false
    this.#resume?.()
  }

  constructor(host: ExchangeHost, req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) {
    this.method = req.method ?? 'GET'
    this.path = req.url ?? '/'
    this.#options = host.options
    this.#req = req
    this.#res = res
    this.#budget = host.bufferBudget
    this.#next = next
    // A node:http2 request has its stream; an HTTP/1 connection's parser also lets `HTTP/2.0`
    // through as a request line's version, which is no HTTP/2 request (see #checkLine).
    this.#isHttp2 = req.httpVersionMajor === 2 && (req as { stream?: unknown }).stream !== undefined
    // Nothing the client sends may throw out of here: a failure is this request's refusal.
    try {
      this.refusal = this.#checkLine() ?? this.#readHead(req)
    } catch (err) {
      this.refusal = asInternal(err, 'the request head could not be read')
    }
    this.exchange = new Exchange(host, this)
    res.once('close', this.#onClose)
  }

  /** The request line's version and method: what this proxy speaks at all. */
  #checkLine(): SwitchyardError | undefined {
    const req = this.#req
    if (!this.#isHttp2 && req.httpVersionMajor !== 1) {
      return new VersionNotSupportedError(`HTTP/${req.httpVersion} in a request line on an HTTP/1.1 connection`)
    }
    if (this.method === 'CONNECT') return new MethodNotSupportedError('CONNECT opens no tunnels here: this is a reverse proxy')
    return undefined
  }

  /** The head for the upstream (prepare.ts: the one pass every entry runs), and this entry's own checks. */
  #readHead(req: IncomingMessage): SwitchyardError | undefined {
    const socket = req.socket
    const raw = req.rawHeaders
    const proto = (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http'
    const refused = prepareRequest(this, this.#options, this.path, raw, { peer: clientAddress(socket.remoteAddress), proto, forwarding: true })
    if (refused !== undefined) return refused
    if (this.#isHttp2) this.hasBody = !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders
    const checked = this.#check(raw.length)
    if (checked !== undefined || !this.hasBody || !req.readableDidRead) return checked
    return this.#takeParsedBody()
  }

  /** Refuses what cannot be proxied faithfully; the client's fault, so 431 or 501. */
  #check(rawLength: number): SwitchyardError | undefined {
    // No 'upgrade' listener sent a WebSocket handshake here; as a plain GET it would hang the
    // client. Other upgrades (h2c) may be ignored (RFC 9110 7.8) and are proxied as plain requests.
    if (this.upgrade !== undefined && /websocket/i.test(this.upgrade)) {
      return new UpgradeUnhandledError('a WebSocket upgrade reached lb.handler: attach lb.upgrade to the server’s upgrade event')
    }
    // Node keeps only the first `maxHeadersCount` header lines (give or take its 32-line batches)
    // and drops the rest silently; a request cut there could lose its Content-Length.
    const max = (this.#req.socket as { server?: { maxHeadersCount?: number | null } }).server?.maxHeadersCount
    const limit = typeof max === 'number' ? (max > 0 ? max * 2 : Number.POSITIVE_INFINITY) : DEFAULT_MAX_HEADER_ENTRIES
    if (rawLength >= limit) {
      return new HeadersTooLargeError(`the request has more than ${limit / 2} header lines`)
    }
    return undefined
  }

  /**
   * The body was read before the handler (a body parser): send `req.body` again, with its own
   * Content-Length, or refuse, but never forward an empty request.
   */
  #takeParsedBody(): SwitchyardError | undefined {
    const req = this.#req as IncomingMessage & { body?: unknown }
    const body = serializeParsedBody(req.body, req.headers['content-type'])
    if (body === undefined) {
      return new BodyConsumedError(
        req.body === undefined
          ? 'the request body was read before the balancer and req.body is not set'
          : `the request body was parsed before the balancer into something it cannot send as ${req.headers['content-type'] ?? 'a body'}`,
        {},
      )
    }
    const headers = this.headers
    for (let i = headers.length - 2; i >= 0; i -= 2) {
      if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') headers.splice(i, 2)
    }
    headers.push('content-length', String(body.length))
    this.#parsedBody = body
    return undefined
  }

  started(): void {
    const req = this.#req
    if (this.hasBody && this.#parsedBody === undefined && !req.complete && this.exchange.cancelled === undefined && this.refusal === undefined) {
      if (this.#isHttp2) this.#countStreamBytes(req)
      this.#bytesSeen = this.#bodyBytes()
      this.#timer = setTimeout(this.#checkUpload, this.#options.timeouts.clientBody)
      this.#timer.unref()
    }
  }

  /** HTTP/2 hands each DATA frame's bytes to `req.push()`: counted there, for this stream alone. */
  #countStreamBytes(req: IncomingMessage): void {
    const push = req.push
    req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk !== null && chunk !== undefined) this.#received += (chunk as Buffer).length
      return push.call(req, chunk, encoding)
    }
  }

  /** Bytes the client has sent so far: the connection's over HTTP/1.1, this stream's over HTTP/2. */
  #bodyBytes(): number {
    return this.#isHttp2 ? this.#received : this.#req.socket.bytesRead
  }

  /**
   * nginx `client_body_timeout`: the client must send some of its body in every period. A period
   * in which undici was not reading (queued, connecting, or paused by the upstream) is not the
   * client's stall and does not count.
   */
  readonly #checkUpload = (): void => {
    const req = this.#req
    if (req.complete || this.exchange.responseStarted) return
    const read = this.#bodyBytes()
    if (read !== this.#bytesSeen || req.readableFlowing !== true) {
      this.#bytesSeen = read
      this.#timer!.refresh()
      return
    }
    const ms = this.#options.timeouts.clientBody
    this.exchange.cancel(new ClientTimeoutError(`the client sent no request body for ${ms} ms`))
  }

  /** nginx `send_timeout`: the client must read some of the response in every period. */
  readonly #checkSend = (): void => {
    if (!this.#waitingDrain) return
    if (this.exchange.isDone) return void this.#res.destroy() // a buffered body the client stopped reading
    const ms = this.#options.timeouts.send
    this.exchange.cancel(new ClientTimeoutError(`the client read nothing of the response for ${ms} ms`))
  }

  settled(): void {
    if (!this.#waitingDrain) clearTimeout(this.#timer) // a buffered body still going out keeps its send watch
  }

  requestInfo(): RequestInfo {
    return nodeRequestInfo(this.method, this.exchange.path, this.#req, this.#options.trust)
  }

  peer(): Peer {
    const socket = this.#req.socket
    const source = this.requestInfo().remoteAddress // after trustProxy
    const own = (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/, '')
    // Over HTTP/2 the connection is the session (the socket of the compat request stands for it).
    const session = this.#isHttp2 ? (this.#req as { stream?: { session?: Peer['connection'] } }).stream?.session : undefined
    return {
      connection: session ?? socket,
      source,
      sourcePort: source === own ? (socket.remotePort ?? 0) : 0, // an address from a forwarding header has no port
      destination: socket.localAddress ?? '',
      destinationPort: socket.localPort ?? 0,
    }
  }

  dispatchOptions(u: Upstream, path: string): Dispatcher.DispatchOptions {
    return {
      origin: u.origin, // a pool sends to its own; a dispatcher upstream is told
      method: this.method as Dispatcher.HttpMethod,
      path,
      headers: this.headers,
      body: this.#parsedBody ?? (this.hasBody ? this.#req : null),
      servername: u.servername, // read by undici's Request, not in its types
    } as Dispatcher.DispatchOptions
  }

  bodyReplayable(): boolean {
    return !this.hasBody || this.#parsedBody !== undefined || !this.#req.readableDidRead
  }

  bodyShareable(): boolean {
    return !this.hasBody || this.#parsedBody !== undefined
  }

  uploading(): boolean {
    return this.hasBody && this.#parsedBody === undefined && !this.#req.complete
  }

  isClientError(err: Error): boolean {
    const req = this.#req
    return err === req.errored || (!req.complete && req.destroyed) || (this.#res.destroyed && !this.#res.writableFinished)
  }

  respondError(error: SwitchyardError): void {
    // An unread request body would be read as the next request, and a request line in a version
    // this connection does not speak says nothing sure of how its body is framed: close the
    // connection after this answer.
    if (!this.#isHttp2 && !this.#res.headersSent && (!this.#req.complete || this.#req.httpVersionMajor !== 1)) this.#res.shouldKeepAlive = false
    answerError(this.#options, error, this.#req, this.#res, this.#next)
  }

  abort(error: Error): void {
    this.#pipeline?.destroy()
    this.#res.destroy(error)
  }

  head(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    this.#resume = resume
    clearTimeout(this.#timer) // the upload watch ends: the upstream answered
    this.#timer = undefined
    const res = this.#res
    const headers = this.exchange.clientHeaders(rawHeaders)
    const { compress, buffering } = this.#options
    const encoder = compress === undefined ? undefined : responseEncoder(compress, this.method, this.#req.headers['accept-encoding'], statusCode, headers)
    if (encoder !== undefined || buffering !== undefined) this.#pipeline = new ResponsePipeline(this.#sink(), encoder, buffering, this.#budget, this.#onDrain)
    try {
      if (!this.#isHttp2 && res.getHeaderNames().length !== 0) {
        // Headers set before the handler (Express's X-Powered-By): on Node 20, writeHead with an
        // array then keeps only the last value of each name, losing all but one Set-Cookie.
        for (let i = 0; i < headers.length; i += 2) res.appendHeader(headers[i]!, headers[i + 1]!)
        if (statusText) res.writeHead(statusCode, statusText)
        else res.writeHead(statusCode)
      } else if (statusText && !this.#isHttp2) res.writeHead(statusCode, statusText, headers)
      else res.writeHead(statusCode, headers)
    } catch (cause) {
      // A status text or header value Node will not write (a control character, say): the
      // upstream's response is invalid, as nginx judges it (502). Undo what writeHead kept, so
      // the 502 can be written.
      res.statusMessage = ''
      for (const name of res.getHeaderNames()) res.removeHeader(name)
      throw new UpstreamError(
        `upstream ${this.exchange.upstream!.id} sent a response head that cannot be relayed: ${(cause as Error).message}`,
        { cause },
      )
    }
    return true
  }

  /** 103 Early Hints and 102 Processing (informational.ts). */
  informational(statusCode: number, rawHeaders: Buffer[]): void {
    relayInformational(this.#res, this.#isHttp2, statusCode, rawHeaders)
  }

  data(chunk: Buffer): boolean {
    if (this.#pipeline !== undefined) return this.#pipeline.write(chunk)
    const res = this.#res
    // Pause the upstream only once PAUSE_BYTES wait in the client's socket buffer, not at the
    // stream's high-water mark (16 KiB on Node 20): otherwise every 64 KiB chunk would pause and
    // resume the upstream read, several times per response.
    if (res.write(chunk) || res.writableLength < PAUSE_BYTES) return true
    this.#awaitDrain(this.#onDrain)
    return false
  }

  /** The client reads slower than the response comes: wait for it, under `timeouts.send`. */
  #awaitDrain(then: () => void): void {
    this.#res.once('drain', then)
    this.#waitingDrain = true
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#checkSend, this.#options.timeouts.send)
      this.#timer.unref()
    } else this.#timer.refresh()
  }

  /** The client's response as the pipeline writes to it: its waits for room are under `timeouts.send`. */
  #sink(): BufferSink & { destroy(err?: Error): void } {
    const res = this.#res
    return {
      write: (chunk) => res.write(chunk),
      end: () => void res.end(),
      once: (_event, then) => this.#awaitDrain(() => ((this.#waitingDrain = false), then())),
      destroy: (err) => void res.destroy(err),
      get writableLength() {
        return res.writableLength
      },
    }
  }

  end(trailers: Buffer[] | string[] | null): void {
    if (this.#pipeline !== undefined) {
      // Trailers are not relayed after an encoded or buffered body (the compressible types carry none).
      this.#pipeline.end()
      return
    }
    // Trailers (gRPC's grpc-status, checksums) go on: as an HTTP/2 trailers frame, or after the
    // last chunk of a chunked HTTP/1.1 response (Node drops them when the body is not chunked).
    const pairs = trailerPairs(trailers)
    if (pairs.length !== 0 && !this.#res.destroyed) {
      // An object: Node's HTTP/2 compat response takes no other form (repeated names are joined).
      const record: Record<string, string> = {}
      for (const [name, value] of pairs) {
        const key = name.toLowerCase()
        record[key] = record[key] === undefined ? value : `${record[key]}, ${value}`
      }
      try {
        this.#res.addTrailers(record)
      } catch {
        // a trailer Node will not write (an invalid name or value): the body is whole without it
      }
    }
    this.#res.end()
  }

  /** The handler never asks for an upgrade (lb.upgrade does); should one come, it is not kept. */
  upgraded(_status: number, _raw: Buffer[] | string[] | null, socket: Duplex, link: UpgradeLink): void {
    socket.destroy()
    link.handOff()
  }
}
