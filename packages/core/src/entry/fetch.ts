import { Readable } from 'node:stream'
import type { Duplex } from 'node:stream'
import type { RequestInfo, SwitchyardError } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import { asInternal, BadRequestError, ClientAbortedError, MethodNotSupportedError, UpstreamError } from '../config/errors.js'
import type { ClientSide, UpgradeLink } from '../exchange/client.js'
import type { ExchangeHost } from '../exchange/context.js'
import { Exchange } from '../exchange/exchange.js'
import type { Upstream } from '../fleet/upstream.js'
import { type PreparedHead, prepareRequest } from './prepare.js'
import { errorResponse } from './respond.js'
/** What `lb.fetch` knows of the client beyond the `Request`: its address, for `ipHash` and `X-Forwarded-For`. */
export interface FetchInfo {
  /** The client's address (Hono: `getConnInfo(c).remote.address`; Bun: `server.requestIP(req)`). */
  remoteAddress?: string
}

/** Statuses whose responses have no body (the `Response` constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304])

/**
 * One `Request` through `lb.fetch()`: the Fetch-API handler for Hono, Next.js route handlers,
 * Bun and Deno-style servers. The request body streams up (from `request.body`), the response
 * streams down as the `Response`'s body with backpressure (the upstream is paused while the
 * reader does not pull), and `request.signal` aborting aborts the upstream request.
 */
export class FetchClient implements ClientSide, PreparedHead {
  readonly method: string
  path: string
  refusal: SwitchyardError | undefined = undefined
  readonly exchange: Exchange
  headers: string[] = []
  host: string | undefined = undefined
  hasBody = false
  headError: string | undefined = undefined
  upgrade: string | undefined = undefined
  readonly #options: ExchangeHost['options']
  readonly #request: Request
  readonly #address: string
  #body: Readable | null = null
  readonly #resolve: (res: Response) => void
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined
  #resume: (() => void) | undefined
  #responded = false

  constructor(host: ExchangeHost, request: Request, info: FetchInfo, resolve: (res: Response) => void) {
    const url = URL.parse(request.url)
    this.method = request.method
    this.path = url === null ? '/' : `${url.pathname}${url.search}`
    this.#options = host.options
    this.#request = request
    this.#address = info.remoteAddress ?? ''
    this.#resolve = resolve
    // Nothing the caller passes may throw out of here: a failure is this request's refusal.
    try {
      if (url === null) this.refusal = new BadRequestError('the request URL cannot be parsed')
      else if (this.method === 'CONNECT') this.refusal = new MethodNotSupportedError('CONNECT opens no tunnels here: this is a reverse proxy')
      else this.refusal = this.#readHead(request, url)
    } catch (err) {
      this.refusal = asInternal(err, 'the request could not be read')
    }
    const exchange = new Exchange(host, this)
    this.exchange = exchange
    const signal = request.signal
    if (signal.aborted) exchange.cancel(new ClientAbortedError('the request was aborted'))
    else signal.addEventListener('abort', () => exchange.cancel(new ClientAbortedError('the request was aborted')), { once: true })
  }

  /**
   * The head for the upstream (prepare.ts: the one pass every entry runs, so `lb.fetch` sends what
   * `lb.handler` sends). A `Request` without a Host header stands for its URL's host.
   */
  #readHead(request: Request, url: URL): SwitchyardError | undefined {
    const raw: string[] = []
    let hasHost = false
    request.headers.forEach((value, name) => {
      if (name === 'host') hasHost = true
      raw.push(name, value)
    })
    if (!hasHost) raw.push('host', url.host)
    const proto = url.protocol === 'https:' ? 'https' : 'http'
    const refused = prepareRequest(this, this.#options, this.path, raw, { peer: this.#address, proto, forwarding: true })
    if (refused !== undefined) return refused
    this.#body = request.body === null ? null : Readable.fromWeb(request.body as import('node:stream/web').ReadableStream)
    return undefined
  }

  requestInfo(): RequestInfo {
    const headers: Record<string, string> = {}
    this.#request.headers.forEach((value, name) => {
      headers[name] = value
    })
    return { method: this.method, path: this.exchange.path, headers, remoteAddress: this.#address }
  }

  dispatchOptions(u: Upstream, path: string): Dispatcher.DispatchOptions {
    return {
      origin: u.origin,
      method: this.method as Dispatcher.HttpMethod,
      path,
      headers: this.headers,
      body: this.#body,
      servername: u.servername, // read by undici's Request, not in its types
    } as Dispatcher.DispatchOptions
  }

  bodyReplayable(): boolean {
    return this.#body === null || !this.#body.readableDidRead
  }

  bodyShareable(): boolean {
    return this.#body === null
  }

  uploading(): boolean {
    return this.#body !== null && !this.#body.readableEnded
  }

  isClientError(err: Error): boolean {
    return this.#body !== null && (this.#body.errored === err || err.name === 'AbortError')
  }

  respondError(error: SwitchyardError): void {
    this.#responded = true
    this.#resolve(errorResponse(error))
  }

  abort(error: Error): void {
    if (!this.#responded) {
      this.respondError(new UpstreamError('the upstream failed to answer', { cause: error }))
      return
    }
    try {
      this.#controller?.error(error)
    } catch {
      // already closed
    }
  }

  head(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    const headers = this.exchange.clientHeaders(rawHeaders)
    const out = new Headers()
    for (let i = 0; i < headers.length; i += 2) out.append(headers[i]!, headers[i + 1]!)
    this.#resume = resume
    const empty = NULL_BODY.has(statusCode) || this.method === 'HEAD'
    const body = empty
      ? null
      : new ReadableStream<Uint8Array>(
          {
            start: (controller) => {
              this.#controller = controller
            },
            pull: () => this.#resume?.(), // the reader wants more: undici goes on reading (a no-op if it was not paused)
            cancel: () => this.exchange.cancel(new ClientAbortedError('the response body was cancelled')),
          },
          { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
        )
    this.#responded = true
    this.#resolve(new Response(body, { status: statusCode, statusText, headers: out }))
    return true
  }

  data(chunk: Buffer): boolean {
    const controller = this.#controller
    if (controller === undefined) return true
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    return (controller.desiredSize ?? 1) > 0 // full: pause the upstream until the reader pulls
  }

  end(): void {
    // (a Response has no trailers to carry)
    try {
      this.#controller?.close()
    } catch {
      // the reader cancelled
    }
  }

  informational(): void {} // a Response has no 1xx to carry

  /** No upgrade is asked for through `lb.fetch`; should one come, it is not kept. */
  upgraded(_status: number, _raw: Buffer[] | string[] | null, socket: Duplex, link: UpgradeLink): void {
    socket.destroy()
    link.handOff()
  }
}
