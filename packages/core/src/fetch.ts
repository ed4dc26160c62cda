import { Readable } from 'node:stream'
import { type RequestInfo, type SwitchyardError, TRUST_NONE } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import type { BalancerCore } from './balancer-core.js'
import { asInternal, BadRequestError, ClientAbortedError, MethodNotSupportedError, UpstreamError } from './errors.js'
import { Exchange } from './exchange.js'
import type { Upstream } from './upstream.js'
import { type RequestHeadInfo, requestHead } from './headers.js'
import { ASTERISK, originForm } from './request-target.js'
import { errorBody } from './respond.js'

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
export class FetchExchange extends Exchange implements RequestHeadInfo {
  headers: string[] = []
  host: string | undefined = undefined
  hasBody = false
  headError: string | undefined = undefined
  upgrade: string | undefined = undefined
  readonly #request: Request
  readonly #address: string
  #body: Readable | null = null
  readonly #resolve: (res: Response) => void
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined
  #resume: (() => void) | undefined
  #responded = false

  constructor(core: BalancerCore, request: Request, info: FetchInfo, resolve: (res: Response) => void) {
    const url = URL.parse(request.url)
    super(core, request.method, url === null ? '/' : `${url.pathname}${url.search}`)
    this.#request = request
    this.#address = info.remoteAddress ?? ''
    this.#resolve = resolve
    // Nothing the caller passes may throw out of here: a failure is this request's refusal.
    try {
      if (url === null) this.refusal = new BadRequestError('the request URL cannot be parsed')
      else if (this.method === 'CONNECT') this.refusal = new MethodNotSupportedError('CONNECT opens no tunnels here: this is a reverse proxy')
      else this.refusal = this.#readHead(core, request, url)
    } catch (err) {
      this.refusal = asInternal(err, 'the request could not be read')
    }
    const signal = request.signal
    if (signal.aborted) this.cancel(new ClientAbortedError('the request was aborted'))
    else signal.addEventListener('abort', () => this.cancel(new ClientAbortedError('the request was aborted')), { once: true })
  }

  /**
   * The head for the upstream through the same one header pass as `lb.handler`'s (hop-by-hop and
   * Connection-listed names out, underscores as `underscoresInHeaders` says, a valid Host, the
   * forwarding headers), then `requestHeaders`. A `Request` without a Host header stands for its
   * URL's host.
   */
  #readHead(core: BalancerCore, request: Request, url: URL): SwitchyardError | undefined {
    const raw: string[] = []
    let hasHost = false
    request.headers.forEach((value, name) => {
      if (name === 'host') hasHost = true
      raw.push(name, value)
    })
    if (!hasHost) raw.push('host', url.host)
    const address = this.#address
    const trust = core.options.trust
    const trusted = address !== '' && trust !== TRUST_NONE && trust(address, 0)
    requestHead(raw, address, trusted, url.protocol === 'https:' ? 'https' : 'http', core.options, this)
    const transform = core.options.requestHeaders
    if (transform !== undefined) this.headers = transform(this.headers)
    if (this.headError !== undefined) return new BadRequestError(this.headError)
    const path = originForm(this.path)
    if (path === undefined || path === ASTERISK) return new BadRequestError('the request target cannot be proxied')
    this.path = path
    this.#body = request.body === null ? null : Readable.fromWeb(request.body as import('node:stream/web').ReadableStream)
    return undefined
  }

  protected requestInfo(): RequestInfo {
    const headers: Record<string, string> = {}
    this.#request.headers.forEach((value, name) => {
      headers[name] = value
    })
    return { method: this.method, path: this.path, headers, remoteAddress: this.#address }
  }

  protected dispatchOptions(u: Upstream): Dispatcher.DispatchOptions {
    return {
      origin: u.origin,
      method: this.method as Dispatcher.HttpMethod,
      path: this.upstreamPath(u),
      headers: this.headers,
      body: this.#body,
      servername: u.servername, // read by undici's Request, not in its types
    } as Dispatcher.DispatchOptions
  }

  protected isBodyReplayable(): boolean {
    return this.#body === null || !this.#body.readableDidRead
  }

  protected override isBodyShareable(): boolean {
    return this.#body === null
  }

  protected isUploading(): boolean {
    return this.#body !== null && !this.#body.readableEnded
  }

  protected isClientError(err: Error): boolean {
    return this.#body !== null && (this.#body.errored === err || err.name === 'AbortError')
  }

  protected respondError(error: SwitchyardError): void {
    this.#responded = true
    const status = error.statusCode ?? 502
    this.#resolve(
      new Response(errorBody(error), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } }),
    )
  }

  protected abortResponse(error: Error): void {
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

  protected relayHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    const headers = this.clientResponseHead(rawHeaders)
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
            cancel: () => this.cancel(new ClientAbortedError('the response body was cancelled')),
          },
          { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
        )
    this.#responded = true
    this.#resolve(new Response(body, { status: statusCode, statusText, headers: out }))
    return true
  }

  protected relayData(chunk: Buffer): boolean {
    const controller = this.#controller
    if (controller === undefined) return true
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    return (controller.desiredSize ?? 1) > 0 // full: pause the upstream until the reader pulls
  }

  protected relayComplete(): void {
    // (a Response has no trailers to carry)
    try {
      this.#controller?.close()
    } catch {
      // the reader cancelled
    }
  }
}
