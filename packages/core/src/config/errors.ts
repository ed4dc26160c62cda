import { SwitchyardError } from '@switchyard/strategies'

/**
 * The core's error classes. Each has a stable `code`; the ones the proxy handler answers with
 * carry the `statusCode` it sends (and, where the message may name an upstream, the
 * `publicMessage` a client sees) on the class, so throw sites pass only the message. Every code
 * has a row in docs/errors.md.
 */

/** Two upstreams share an id (by default the URL's origin). Thrown by `createBalancer()` and `add()`. */
export class DuplicateUpstreamError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_DUPLICATE_UPSTREAM'
}

/** `remove(id)` named an id the balancer does not have. */
export class UnknownUpstreamError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_UNKNOWN_UPSTREAM'
}

/** No upstream was eligible for the request (all down, draining, or already tried). Answered with 503. */
export class NoUpstreamError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_NO_UPSTREAM'
  static override readonly statusCode = 503
}

/** The upstream's wait queue was full. Answered with 503. */
export class QueueFullError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_QUEUE_FULL'
  static override readonly statusCode = 503
  static override readonly publicMessage = 'too many requests are waiting for the upstream'
}

/** The request waited in the queue longer than `queue.timeout`. Answered with 503. */
export class QueueTimeoutError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_QUEUE_TIMEOUT'
  static override readonly statusCode = 503
  static override readonly publicMessage = 'the request waited too long for the upstream'
}

/** The upstream did not connect or answer within `timeouts`. Answered with 504. */
export class UpstreamTimeoutError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_UPSTREAM_TIMEOUT'
  static override readonly statusCode = 504
  static override readonly publicMessage = 'the upstream did not answer in time'
}

/** The upstream refused, reset the connection, or sent an invalid response. Answered with 502. */
export class UpstreamError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_UPSTREAM'
  static override readonly statusCode = 502
  static override readonly publicMessage = 'the upstream failed to answer'
}

/** The balancer is closed or closing and takes no new requests. Answered with 503. */
export class ClosedError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_CLOSED'
  static override readonly statusCode = 503
}

/** The client went away; used as the reason the upstream request is aborted. Never sent. */
export class ClientAbortedError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_CLIENT_ABORTED'
}

/**
 * A WebSocket upgrade reached `lb.handler`: the server has no `'upgrade'` listener, so the
 * handshake cannot be proxied (relaying it as a plain GET would hang the client). Answered with
 * 501; attach `lb.upgrade` to the server's `'upgrade'` event.
 */
export class UpgradeUnhandledError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_UPGRADE_UNHANDLED'
  static override readonly statusCode = 501
  static override readonly publicMessage = 'this server does not proxy WebSocket upgrades'
}

/**
 * The request was malformed or cannot be proxied (a bad target, a bad or duplicate `Host`, a path
 * above the root; on the dispatcher path, options undici refuses or `CONNECT`). The caller's error:
 * answered with 400, never retried, never counted against an upstream.
 */
export class BadRequestError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_BAD_REQUEST'
  static override readonly statusCode = 400
}

/** The request has more header lines than the server takes (`server.maxHeadersCount`). Answered with 431. */
export class HeadersTooLargeError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_HEADERS_TOO_LARGE'
  static override readonly statusCode = 431
}

/**
 * The client stalled: it sent no request body bytes for `timeouts.clientBody`, or read no response
 * bytes for `timeouts.send`. The client's error: answered with 408 when nothing was relayed yet,
 * otherwise the connection is closed; never counted against an upstream.
 */
export class ClientTimeoutError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_CLIENT_TIMEOUT'
  static override readonly statusCode = 408
}

/**
 * Something before the handler read the request body (a body parser) and left nothing the
 * balancer can send again: no `req.body`, or one it cannot serialize for the request's
 * `Content-Type`. The application's error: answered with 500, no upstream is asked.
 */
export class BodyConsumedError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_BODY_CONSUMED'
  static override readonly statusCode = 500
}

/**
 * A response `onResponse` was to buffer grew past `onResponse.maxBytes`. Answered with 502 (nginx
 * answers an upstream response it cannot buffer the same way); the upstream request is aborted,
 * and the upstream, which answered, is not blamed.
 */
export class ResponseTooLargeError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_RESPONSE_TOO_LARGE'
  static override readonly statusCode = 502
  static override readonly publicMessage = 'the upstream response is too large to process'
}

/** The `onResponse` interceptor threw, rejected, or returned an invalid change. The application's error: answered with 500. */
export class InterceptorError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_ON_RESPONSE'
  static override readonly statusCode = 500
  static override readonly publicMessage = 'the response could not be processed'
}

/**
 * A function the balancer was given threw on this request: `requestHeaders`, `responseHeaders`,
 * `rewritePath`, a strategy's key or pick, a `diagnostics_channel` subscriber. The application's
 * error, and this request's alone: answered with 500, never retried, never counted against an
 * upstream; the message (in `request:error` and the trace, not in the answer) names the function.
 */
export class CallbackError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_CALLBACK'
  static override readonly statusCode = 500
  static override readonly publicMessage = 'the request could not be processed'
}

/**
 * Something threw inside the balancer where nothing should (a bug): the request it was handling
 * is answered with 500 (or cut, when its answer had started), and nothing else is disturbed.
 * Never counted against an upstream. Please report it with the `cause`.
 */
export class InternalError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_INTERNAL'
  static override readonly statusCode = 500
  static override readonly publicMessage = 'the request could not be processed'
}

/**
 * The request line names an HTTP version the connection does not speak: `HTTP/2.0` or `HTTP/0.9`
 * on an HTTP/1.x connection (HTTP/2 arrives as its own protocol, over TLS with ALPN or as a
 * prior-knowledge preface, never as a version in a request line). Answered with 505, as nginx does.
 */
export class VersionNotSupportedError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_HTTP_VERSION'
  static override readonly statusCode = 505
}

/**
 * `CONNECT` asks a forward proxy for a tunnel to a host of the client's choosing; a reverse proxy
 * opens none. Answered with 501 (RFC 9110 15.6.2: a method the server does not support for any
 * resource). Served by `lb.connect` on a server's `'connect'` event, and by `lb.handler` for an
 * HTTP/2 `CONNECT`.
 */
export class MethodNotSupportedError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_METHOD_NOT_SUPPORTED'
  static override readonly statusCode = 501
}

/**
 * Anything thrown, as the balancer answers it: a `SwitchyardError` that carries a status stays as
 * it is; anything else is an {@link InternalError} with `what` in its message and the error as its
 * `cause`.
 */
export function asInternal(err: unknown, what: string): SwitchyardError {
  if (err instanceof SwitchyardError && err.statusCode !== undefined) return err
  return new InternalError(`${what}: ${(err as Error | undefined)?.message ?? String(err)}`, { cause: err })
}

/** A function of the options threw: a {@link CallbackError} naming it (`requestHeaders`), the error as its `cause`. */
export function callbackFailed(err: unknown, what: string): CallbackError {
  if (err instanceof CallbackError) return err
  return new CallbackError(`${what} threw: ${(err as Error | undefined)?.message ?? String(err)}`, { cause: err })
}
