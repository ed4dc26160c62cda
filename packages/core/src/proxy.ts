import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RequestInfo, SwitchyardError } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import type { BalancerCore } from './balancer-core.js'
import { Exchange } from './exchange.js'
import { clientAddress, type RequestHeadInfo, requestHead, responseHead } from './headers.js'
import { sendError } from './respond.js'

/** Bytes buffered for a slow client before the upstream is paused: Node 22's default high-water mark. */
const PAUSE_BYTES = 64 * 1024

/**
 * The reverse proxy: relays one `http` server request to an upstream and streams the answer
 * back. Bodies stream both ways with backpressure: undici reads the request as a stream, and a
 * full client socket pauses the upstream response until it drains.
 */
export class ProxyExchange extends Exchange implements RequestHeadInfo {
  headers: string[] = []
  host: string | undefined = undefined
  hasBody = false
  readonly #req: IncomingMessage
  readonly #res: ServerResponse
  #resume: (() => void) | undefined = undefined
  readonly #onClose = (): void => {
    if (!this.#res.writableFinished) this.cancel()
  }
  readonly #onDrain = (): void => {
    this.#resume?.()
  }

  constructor(core: BalancerCore, req: IncomingMessage, res: ServerResponse) {
    super(core, req.method ?? 'GET', req.url ?? '/')
    this.#req = req
    this.#res = res
    const socket = req.socket
    const { preserveHost, xForwarded } = core.options
    requestHead(
      req.rawHeaders,
      clientAddress(socket.remoteAddress),
      (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
      preserveHost,
      xForwarded,
      this,
    )
    res.once('close', this.#onClose)
  }

  protected requestInfo(): RequestInfo {
    const req = this.#req
    return {
      method: this.method,
      path: this.path,
      headers: req.headers,
      remoteAddress: clientAddress(req.socket.remoteAddress),
    }
  }

  protected dispatchOptions(): Dispatcher.DispatchOptions {
    return {
      method: this.method as Dispatcher.HttpMethod,
      path: this.path,
      headers: this.headers,
      body: this.hasBody ? this.#req : null,
    }
  }

  protected isBodyReplayable(): boolean {
    return !this.hasBody || !this.#req.readableDidRead
  }

  protected respondError(error: SwitchyardError): void {
    sendError(this.#res, error)
  }

  protected abortResponse(error: Error): void {
    this.#res.destroy(error)
  }

  protected relayHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    this.#resume = resume
    const res = this.#res
    const headers = responseHead(rawHeaders)
    const cookie = this.strategyCookie()
    if (cookie !== undefined) headers.push('set-cookie', cookie)
    if (statusText) res.writeHead(statusCode, statusText, headers)
    else res.writeHead(statusCode, headers)
    return true
  }

  protected relayData(chunk: Buffer): boolean {
    const res = this.#res
    // Pause the upstream only once PAUSE_BYTES wait in the client's socket buffer, not at the
    // stream's high-water mark (16 KiB on Node 20): otherwise every 64 KiB chunk would pause and
    // resume the upstream read, several times per response.
    if (res.write(chunk) || res.writableLength < PAUSE_BYTES) return true
    res.once('drain', this.#onDrain)
    return false
  }

  protected relayComplete(): void {
    this.#res.end()
  }
}
