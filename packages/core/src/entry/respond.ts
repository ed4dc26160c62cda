import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { STATUS_CODES } from 'node:http'
import type { SwitchyardError } from '@switchyard/strategies'
import type { ErrorHandler } from '../config/types.js'

/**
 * Answers with a short JSON error: `{"error":"Service Unavailable","code":"SWY_ERR_NO_UPSTREAM",
 * "message":"no upstream is available"}`. Upstream addresses are never in the body (they are in
 * the `request:error` event and the stats).
 */
export function sendError(res: ServerResponse, error: SwitchyardError): void {
  if (res.headersSent || res.destroyed) {
    res.destroy()
    return
  }
  const status = error.statusCode ?? 502
  const body = errorBody(error)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

/**
 * Answers the balancer's own error on the handler path, as the options say: to Express's `next`
 * (`errors: 'next'`, when there is one), through `onError`, or with {@link sendError}. An
 * `onError` that throws, or returns without answering, falls back to the default answer.
 */
export function answerError(
  options: { readonly onError: ErrorHandler | undefined; readonly errors: 'respond' | 'next' },
  error: SwitchyardError,
  req: IncomingMessage,
  res: ServerResponse,
  next: ((err?: unknown) => void) | undefined,
): void {
  if (options.errors === 'next' && next !== undefined && !res.headersSent) {
    next(error)
    return
  }
  const onError = options.onError
  if (onError !== undefined && !res.headersSent) {
    try {
      onError(error, req, res)
    } catch {
      // fall through: the default answer
    }
    if (res.headersSent || res.writableEnded || res.destroyed) return
  }
  sendError(res, error)
}

/**
 * The last answer of an entry point, for what threw before any exchange could take the request:
 * a 500 when nothing was sent yet, else the connection is cut. Never throws.
 */
export function answerUnhandled(res: ServerResponse, error: SwitchyardError): void {
  try {
    sendError(res, error)
  } catch {
    res.destroy()
  }
}

/** {@link answerUnhandled} on a raw socket (`'upgrade'` and `'connect'` events). Never throws. */
export function refuseUnhandled(socket: Duplex, error: SwitchyardError): void {
  try {
    refuseUpgrade(socket, error)
  } catch {
    socket.destroy()
  }
}

/** The JSON `Response` of an error, for `lb.fetch`. */
export function errorResponse(error: SwitchyardError): Response {
  return new Response(errorBody(error), {
    status: error.statusCode ?? 502,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  })
}

/** The JSON error body of {@link sendError}. */
export function errorBody(error: SwitchyardError): string {
  const status = error.statusCode ?? 502
  return JSON.stringify({ error: STATUS_CODES[status], code: error.code, message: publicMessage(error) })
}

/** {@link sendError} on a raw socket (an `'upgrade'` event has no response object); the connection closes after it. */
export function refuseUpgrade(socket: Duplex, error: SwitchyardError): void {
  if (socket.destroyed) return
  const status = error.statusCode ?? 502
  const body = errorBody(error)
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
  )
}

/** The message a client may see: the class's public one when the instance's may name upstreams. */
export function publicMessage(error: SwitchyardError): string {
  return (error.constructor as typeof SwitchyardError).publicMessage ?? error.message
}

/**
 * Answers `OPTIONS *` (RFC 9110 9.3.7: a question about the server, not about a resource). The
 * balancer is the server the client talks to, so it answers; no upstream is asked.
 */
export function answerServerOptions(res: ServerResponse): void {
  res.writeHead(200, { allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', 'content-length': 0 })
  res.end()
}
