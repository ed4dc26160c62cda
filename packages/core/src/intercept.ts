import { checkFunction, checkNumber, checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import type { HeaderMap } from './transforms.js'

/** A response the `onResponse` interceptor reads: the upstream's answer, its body whole. */
export interface InterceptedResponse {
  readonly status: number
  /** The upstream's headers: lower-case names, repeated ones as arrays (hop-by-hop ones included). */
  readonly headers: HeaderMap
  readonly body: Buffer
  /** The id of the upstream that answered (for `lb.report(id, 'failure')`). */
  readonly upstream: string
  readonly method: string
  /** The path sent upstream. */
  readonly path: string
}

/** What the interceptor changes; what it leaves out stays as the upstream sent it. */
export interface ResponseChange {
  status?: number
  /** The headers in full (start from `response.headers`); `Content-Length` is set from the body. */
  headers?: HeaderMap
  body?: string | Uint8Array
}

/** The head of a response, for `onResponse.when`. */
export interface ResponseHead {
  readonly status: number
  readonly headers: HeaderMap
  readonly upstream: string
  readonly method: string
  readonly path: string
}

/**
 * The buffered response interceptor, for the rare case that must read a body (a 200 that carries
 * an error payload, a body to redact). Every other response streams.
 */
export interface ResponseInterceptor {
  /** Which responses to buffer; the others stream as usual. @default every one with a body */
  when?: (head: ResponseHead) => boolean
  /**
   * Largest body buffered, bytes. A larger one is not relayed: the upstream request is aborted and
   * the client gets 502 `SWY_ERR_RESPONSE_TOO_LARGE` (not held against the upstream).
   * @default 1_048_576 (1 MiB, Envoy's default per-connection buffer limit)
   */
  maxBytes?: number
  /** Reads the response; returns changes, or nothing to relay it as it came. May be async. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler with no return statement returns void
  handle: (response: InterceptedResponse) => ResponseChange | undefined | void | Promise<ResponseChange | undefined | void>
}

/** `onResponse`, resolved. */
export interface ResolvedInterceptor {
  readonly when: ((head: ResponseHead) => boolean) | undefined
  readonly maxBytes: number
  readonly handle: ResponseInterceptor['handle']
}

/** Envoy's default `per_connection_buffer_limit_bytes`. */
const DEFAULT_MAX_BYTES = 1024 * 1024

/** Validates `onResponse`. */
export function normalizeInterceptor(input: unknown): ResolvedInterceptor | undefined {
  if (input === undefined) return undefined
  const o = checkObject(input, 'onResponse')
  rejectUnknownKeys(o, ['when', 'maxBytes', 'handle'], 'onResponse')
  if (typeof o.handle !== 'function') {
    throw new InvalidOptionError(`onResponse.handle must be a function, got ${describeValue(o.handle)}`, { field: 'onResponse.handle' })
  }
  return {
    when: checkFunction<ResolvedInterceptor['when']>(o.when, 'onResponse.when', undefined),
    maxBytes: checkNumber(o.maxBytes, 'onResponse.maxBytes', DEFAULT_MAX_BYTES, { min: 0, integer: true }),
    handle: o.handle as ResponseInterceptor['handle'],
  }
}

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
