import type { SwitchyardError } from '@switchyard/strategies'
import { InterceptorError, ResponseTooLargeError } from '../config/errors.js'
import type { ResolvedInterceptor } from '../config/resolved.js'
import type { ResponseHead } from '../config/interceptor-types.js'
import type { HeaderMap } from '../config/types.js'

/** Raw header pairs as a {@link HeaderMap}. */
export function headerMap(raw: readonly Buffer[]): HeaderMap {
  const map: HeaderMap = {}
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase()
    const value = raw[i + 1]!.toString('latin1')
    const prev = map[name]
    map[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }
  return map
}

/** One buffered response: its chunks up to the cap, then what the interceptor made of it. */
export class ResponseBuffer {
  readonly #chunks: Buffer[] = []
  #bytes = 0
  readonly #max: number
  readonly head: ResponseHead

  constructor(head: ResponseHead, max: number) {
    this.head = head
    this.#max = max
  }

  /** Adds a chunk; false when the body grew past the cap. */
  add(chunk: Buffer): boolean {
    this.#bytes += chunk.length
    if (this.#bytes > this.#max) return false
    this.#chunks.push(chunk)
    return true
  }

  get limit(): number {
    return this.#max
  }

  /**
   * Runs the interceptor and returns the head and body to relay: raw header pairs (as undici
   * gives them, so the usual header hygiene runs on them) with `Content-Length` of the new body.
   */
  async run(handle: ResolvedInterceptor['handle']): Promise<{ status: number; raw: Buffer[]; body: Buffer }> {
    const head = this.head
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks)
    const change = (await handle({ ...head, body })) ?? {}
    const b = change.body
    const out = b === undefined ? body : typeof b === 'string' ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    const status = change.status ?? head.status
    if (!Number.isInteger(status) || status < 200 || status > 599) throw new TypeError(`status must be an integer from 200 to 599, got ${String(status)}`)
    const raw: Buffer[] = []
    for (const [name, value] of Object.entries(change.headers ?? head.headers)) {
      if (name === 'content-length' || name === 'transfer-encoding') continue
      for (const v of Array.isArray(value) ? value : [value]) raw.push(Buffer.from(name), Buffer.from(String(v), 'latin1'))
    }
    raw.push(Buffer.from('content-length'), Buffer.from(String(out.length)))
    return { status, raw, body: out }
  }
}

/**
 * The `onResponse` reading of one request: whether an answer is read whole, the buffer while it
 * is, and why it stopped (too large, `when` threw) — then the interceptor's run. The exchange
 * carries out what it says.
 */
export class Interception {
  readonly #options: ResolvedInterceptor
  #buffer: ResponseBuffer | undefined = undefined
  /** Why buffering stopped: the attempt is aborted and this is answered. */
  stopped: SwitchyardError | undefined = undefined
  /** The interceptor is running: the upstream attempt is over, the client not answered. */
  running = false

  constructor(options: ResolvedInterceptor) {
    this.#options = options
  }

  /** Whether this answer is read whole (never HEAD, 204, 304). When `when` throws, it stops, and says true. */
  begins(method: string, status: number, rawHeaders: Buffer[], upstream: string, path: string): boolean {
    if (status === 204 || status === 304 || method === 'HEAD') return false
    const head: ResponseHead = { status, headers: headerMap(rawHeaders), upstream, method, path }
    try {
      if (this.#options.when !== undefined && !this.#options.when(head)) return false
    } catch (cause) {
      this.stopped = new InterceptorError(`onResponse.when threw: ${(cause as Error)?.message ?? cause}`, { cause })
      return true
    }
    this.#buffer = new ResponseBuffer(head, this.#options.maxBytes)
    return true
  }

  get buffering(): boolean {
    return this.#buffer !== undefined
  }

  /** A body chunk; past `maxBytes` buffering stops (the error is returned, and kept in `stopped`). */
  add(chunk: Buffer): SwitchyardError | undefined {
    const buffer = this.#buffer!
    if (buffer.add(chunk)) return undefined
    this.#buffer = undefined
    this.stopped = new ResponseTooLargeError(`the response of upstream ${buffer.head.upstream} is larger than onResponse.maxBytes (${buffer.limit})`)
    return this.stopped
  }

  /** The body is whole: runs the interceptor. Rejects with an `InterceptorError`. */
  async run(): Promise<{ status: number; raw: Buffer[]; body: Buffer }> {
    const buffer = this.#buffer!
    this.#buffer = undefined
    this.running = true
    try {
      return await buffer.run(this.#options.handle)
    } catch (cause) {
      throw new InterceptorError(`onResponse.handle failed: ${(cause as Error)?.message ?? cause}`, { cause })
    } finally {
      this.running = false
    }
  }

  /** The attempt failed: buffering ends with it. */
  drop(): void {
    this.#buffer = undefined
  }
}
