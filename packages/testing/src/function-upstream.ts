import { Dispatcher } from 'undici'
import { type Answer, type Answerer, decide, defaultBody, type ReceivedRequest, sleep } from './answer.js'

/** undici 7's handler callbacks, as the balancer and undici's request API call a dispatcher. */
interface Handler {
  onConnect?(abort: (reason?: Error) => void): void
  onHeaders?(status: number, headers: Buffer[], resume: () => void, statusText: string): boolean
  onData?(chunk: Buffer): boolean
  onComplete?(trailers: Buffer[] | null): void
  onError?(err: Error): void
}

/** A function upstream: an upstream entry for `createBalancer({ upstreams })`, with its counters. */
export interface FunctionUpstream {
  readonly id: string
  readonly dispatcher: Dispatcher
  /** Every request received, in order. */
  readonly requests: readonly ReceivedRequest[]
  readonly hits: number
  /** The standing answer; set it to change what the next requests get. */
  answer: Answerer
  /** Answers the next requests with these, in order, then goes back to `answer`. */
  script(...answers: Answer[]): void
}

const noop = () => {}

/**
 * An upstream that is a function, not a server: no port, no socket, for unit tests of routing,
 * retries and health that need no network. Pass it as an upstream (`{ id, dispatcher }`); the
 * balancer's picking, retries, health and events run as for a real one. `'reset'` fails the
 * attempt with `ECONNRESET`, `'hang'` never answers (the balancer's timeouts or an abort end it).
 *
 * @example
 * const a = functionUpstream('a', (req) => ({ status: req.url === '/fail' ? 500 : 200 }))
 * const lb = createBalancer({ upstreams: [a] })
 */
export function functionUpstream(id: string, answer: Answerer = {}): FunctionUpstream {
  return new FunctionUpstreamImpl(id, answer)
}

/**
 * Only `id` and `dispatcher` are own enumerable fields, so the object itself is a valid upstream
 * entry (`createBalancer` refuses unknown keys); the rest lives in private fields and accessors.
 */
class FunctionUpstreamImpl implements FunctionUpstream {
  readonly id: string
  readonly dispatcher: Dispatcher
  readonly #requests: ReceivedRequest[] = []
  readonly #script: Answer[] = []
  #answer: Answerer

  constructor(id: string, answer: Answerer) {
    this.id = id
    this.#answer = answer
    this.dispatcher = new FunctionDispatcher((received, handler, aborted) => this.#serve(received, handler, aborted))
  }

  get requests(): readonly ReceivedRequest[] {
    return this.#requests
  }

  get hits(): number {
    return this.#requests.length
  }

  get answer(): Answerer {
    return this.#answer
  }

  set answer(value: Answerer) {
    this.#answer = value
  }

  script(...answers: Answer[]): void {
    this.#script.push(...answers)
  }

  async #serve(received: ReceivedRequest, handler: Handler, aborted: () => boolean): Promise<void> {
    this.#requests.push(received)
    const a = await decide(this.#script, this.#answer, received)
    if (aborted() || a === 'hang') return
    if (a === 'reset') {
      handler.onError?.(Object.assign(new Error('socket hang up (function upstream)'), { code: 'ECONNRESET' }))
      return
    }
    if (a === 'garbage') {
      // What undici reports of bytes that are not HTTP.
      handler.onError?.(Object.assign(new Error('Response does not match the HTTP/1.1 protocol (function upstream)'), { code: 'HPE_INVALID_CONSTANT' }))
      return
    }
    if (a.delayMs !== undefined) await sleep(a.delayMs)
    if (aborted()) return
    const headers: Buffer[] = []
    const all = { 'content-type': 'application/json', ...a.headers }
    for (const [name, value] of Object.entries(all)) {
      for (const v of Array.isArray(value) ? value : [value]) headers.push(Buffer.from(name), Buffer.from(v))
    }
    const body = a.body ?? defaultBody(this.id, received)
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body)
    handler.onHeaders?.(a.status ?? 200, headers, noop, '')
    if (a.slowBody === undefined) {
      if (bytes.length !== 0) handler.onData?.(bytes)
    } else {
      const size = Math.ceil(bytes.length / Math.max(1, a.slowBody.chunks))
      for (let at = 0; at < bytes.length; at += size) {
        if (aborted()) return
        handler.onData?.(bytes.subarray(at, at + size))
        await sleep(a.slowBody.everyMs)
      }
    }
    if (!aborted()) handler.onComplete?.([])
  }
}

type Serve = (request: ReceivedRequest, handler: Handler, aborted: () => boolean) => Promise<void>

class FunctionDispatcher extends Dispatcher {
  readonly #serve: Serve

  constructor(serve: Serve) {
    super()
    this.#serve = serve
  }

  override dispatch(options: Dispatcher.DispatchOptions, dispatchHandler: Dispatcher.DispatchHandler): boolean {
    const handler = dispatchHandler as unknown as Handler
    let abortedBy: Error | undefined
    handler.onConnect?.((reason) => {
      if (abortedBy !== undefined) return
      abortedBy = reason ?? new Error('aborted')
      handler.onError?.(abortedBy)
    })
    const aborted = () => abortedBy !== undefined
    readBody(options.body)
      .then((body) => {
        const headers = headerRecord(options.headers)
        const rawHeaders = Object.entries(headers).flatMap(([name, v]) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((x) => [name, x])))
        return this.#serve({ method: options.method, url: options.path, headers, rawHeaders, body, bodyLength: body.length }, handler, aborted)
      })
      .catch((err: Error) => {
        if (!aborted()) handler.onError?.(err)
      })
    return true
  }

  override async close(): Promise<void> {}
  override async destroy(): Promise<void> {}
}

async function readBody(body: Dispatcher.DispatchOptions['body']): Promise<Buffer> {
  if (body === null || body === undefined) return Buffer.alloc(0)
  if (typeof body === 'string') return Buffer.from(body)
  if (body instanceof Uint8Array) return Buffer.from(body)
  const chunks: Buffer[] = []
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk))
  return Buffer.concat(chunks)
}

function headerRecord(headers: Dispatcher.DispatchOptions['headers']): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {}
  const add = (name: string, value: unknown) => {
    if (value === undefined || value === null) return
    const key = name.toLowerCase()
    const v = String(value)
    const prev = out[key]
    out[key] = prev === undefined ? v : ([] as string[]).concat(prev, v)
  }
  if (Array.isArray(headers)) for (let i = 0; i < headers.length; i += 2) add(String(headers[i]), headers[i + 1])
  else if (headers !== null && headers !== undefined) {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      if (Array.isArray(value)) for (const v of value) add(name, v)
      else add(name, value)
    }
  }
  return out
}
