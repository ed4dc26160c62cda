import { SwitchyardError } from '@switchyard/strategies'
import { asInternal, BadRequestError, ClosedError, UpstreamError, UpstreamTimeoutError } from '../config/errors.js'
import { isOnReusedConnection } from '../fleet/socket-watch.js'

/**
 * Who caused a failed attempt. Every error an attempt can end with is sorted here, in one place,
 * so that only what the upstream did counts against it (YARP's `ForwarderError` keeps the same
 * line between the client's side and the destination's).
 *
 * - `request`: the request was bad or the caller gave up (undici refused its options, its body
 *   stream failed, it aborted). Answered as the caller's (400 on the handler path, a
 *   `BadRequestError` on the dispatcher path); never retried; no health mechanism hears of it.
 * - `local`: the balancer's own doing (a pool closed by `remove()` or `close()`). Never reached
 *   the upstream; not held against it.
 * - `app`: a function of the options threw (`SWY_ERR_CALLBACK`), or the balancer itself did
 *   (`SWY_ERR_INTERNAL`). This request alone fails, with 500; never retried, never held against
 *   the upstream.
 * - `unsent`: the connection to the upstream could not be made (refused, unreachable, connect
 *   timeout, TLS handshake). Safe to send elsewhere whatever the method; counts against the upstream.
 * - `upstream`: the upstream took the request and then failed (reset, timeout, invalid response).
 *   Counts against it; replayed only for idempotent methods.
 */
export type Side = 'request' | 'local' | 'app' | 'unsent' | 'upstream'

export interface Blame {
  readonly side: Side
  /** The upstream did not answer in time: 504 rather than 502. */
  readonly timeout: boolean
}

const REQUEST: Blame = Object.freeze({ side: 'request', timeout: false })
const LOCAL: Blame = Object.freeze({ side: 'local', timeout: false })
const APP: Blame = Object.freeze({ side: 'app', timeout: false })
const UNSENT: Blame = Object.freeze({ side: 'unsent', timeout: false })
const UNSENT_TIMEOUT: Blame = Object.freeze({ side: 'unsent', timeout: true })
const UPSTREAM: Blame = Object.freeze({ side: 'upstream', timeout: false })
const UPSTREAM_TIMEOUT: Blame = Object.freeze({ side: 'upstream', timeout: true })

/**
 * Every code undici 7 (lib/core/errors.js) and the socket layer report, by side. A code not
 * listed (and every `HPE_*` parser error: an invalid response) is the upstream's.
 */
export const BLAME_BY_CODE: Readonly<Record<string, Blame>> = Object.freeze({
  // The caller's request or handler.
  UND_ERR_INVALID_ARG: REQUEST,
  UND_ERR_INVALID_RETURN_VALUE: REQUEST,
  UND_ERR_NOT_SUPPORTED: REQUEST,
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: REQUEST,
  UND_ERR_ABORTED: REQUEST,
  UND_ERR_ABORT: REQUEST,
  ERR_INVALID_ARG_TYPE: REQUEST,
  ERR_INVALID_ARG_VALUE: REQUEST,
  ERR_INVALID_CHAR: REQUEST,
  ERR_INVALID_HTTP_TOKEN: REQUEST,
  // The balancer's own pools.
  UND_ERR_CLOSED: LOCAL,
  UND_ERR_DESTROYED: LOCAL,
  UND_ERR_INFO: LOCAL,
  UND_ERR_BPL_MISSING_UPSTREAM: LOCAL,
  UND_ERR_MAX_ORIGINS_REACHED: LOCAL,
  // The application's functions, or the balancer's own code.
  SWY_ERR_CALLBACK: APP,
  SWY_ERR_INTERNAL: APP,
  // No connection to the upstream.
  ECONNREFUSED: UNSENT,
  ENOTFOUND: UNSENT,
  EAI_AGAIN: UNSENT,
  EHOSTUNREACH: UNSENT,
  EHOSTDOWN: UNSENT,
  ENETUNREACH: UNSENT,
  ENETDOWN: UNSENT,
  EADDRNOTAVAIL: UNSENT,
  UND_ERR_CONNECT_TIMEOUT: UNSENT_TIMEOUT,
  UND_ERR_PRX_TLS: UNSENT,
  UND_ERR_SOCKS5: UNSENT,
  ERR_TLS_CERT_ALTNAME_INVALID: UNSENT,
  ERR_SSL_WRONG_VERSION_NUMBER: UNSENT,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNSENT,
  SELF_SIGNED_CERT_IN_CHAIN: UNSENT,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNSENT,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNSENT,
  CERT_HAS_EXPIRED: UNSENT,
  CERT_NOT_YET_VALID: UNSENT,
  CERT_SIGNATURE_FAILURE: UNSENT,
  // The upstream failed after it took the request.
  UND_ERR: UPSTREAM,
  UND_ERR_SOCKET: UPSTREAM,
  ECONNRESET: UPSTREAM,
  EPIPE: UPSTREAM,
  UND_ERR_HEADERS_OVERFLOW: UPSTREAM,
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: UPSTREAM,
  UND_ERR_RES_EXCEEDED_MAX_SIZE: UPSTREAM,
  UND_ERR_RESPONSE: UPSTREAM,
  UND_ERR_REQ_RETRY: UPSTREAM,
  UND_ERR_WS_MESSAGE_SIZE_EXCEEDED: UPSTREAM,
  SWY_ERR_UPSTREAM: UPSTREAM,
  UND_ERR_HEADERS_TIMEOUT: UPSTREAM_TIMEOUT,
  UND_ERR_BODY_TIMEOUT: UPSTREAM_TIMEOUT,
  ETIMEDOUT: UPSTREAM_TIMEOUT,
})

/** The error's `code`, or `'UNKNOWN'`. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'UNKNOWN'
}

/** The side an error code blames; unknown codes are the upstream's. */
export function blameOf(code: string): Blame {
  return BLAME_BY_CODE[code] ?? UPSTREAM
}

/**
 * Whether a failure looks like a keep-alive race: the upstream closed an idle connection just as
 * a request was written to it, so the request never reached its application. The signs: the
 * connection ended or was reset (the caller checks: before any byte of a response), and it had
 * carried a response before, so it was a reused connection and not a fresh one the upstream refused.
 */
export function isStaleConnection(err: unknown, code: string): boolean {
  return (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') && isOnReusedConnection(err)
}

/**
 * The error a failed attempt is answered with, by whose it was: the client's (400, or its own
 * error when it carries a status), the closing balancer's (503), the application's or the
 * balancer's (500), or the upstream's (504 for a timeout, else 502).
 */
export function errorOf(side: Side, timeout: boolean, err: Error, code: string, upstream: string, closed: boolean): SwitchyardError {
  if (side === 'request') {
    return err instanceof SwitchyardError && err.statusCode !== undefined
      ? err
      : new BadRequestError(`the request cannot be sent: ${err.message} (${code})`, { cause: err })
  }
  if (side === 'local' && closed) return new ClosedError('the balancer closed before the upstream answered', { cause: err })
  if (side === 'app') return asInternal(err, 'the request failed in the balancer')
  if (err instanceof UpstreamError) return err
  return timeout
    ? new UpstreamTimeoutError(`upstream ${upstream} timed out (${code})`, { cause: err })
    : new UpstreamError(`upstream ${upstream} failed: ${err.message} (${code})`, { cause: err })
}
