/* The `onResponse` interceptor's types: what it reads of a response and what it may change. */

/** Headers as a transform function or the interceptor sees them: lower-case names; repeated ones as arrays. */
export type HeaderMap = Record<string, string | string[]>

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
