import { isIP, type Socket } from 'node:net'
import type { buildConnector } from 'undici'

/**
 * What undici does not tell a dispatch handler about the connection an error came from. One
 * listener, put first on every upstream socket when it connects; nothing per request.
 *
 * - Resets mid-body. undici ends a close-delimited response body when the connection is reset,
 *   as if it had been closed cleanly (client-h1 `onHttpSocketError`, a workaround for macOS). A
 *   reset is a cut, not an end. undici completes the response synchronously inside the socket's
 *   `'error'` event, so the listener raises a flag for the length of that event and `onComplete`
 *   reads it.
 * - Reused connections. An error on a connection that had already carried a response is the sign
 *   of a keep-alive race (the upstream closed it while idle, just as a request went out); the
 *   listener remembers such errors.
 */
let resetting = false
const onReused = new WeakSet<object>()

function clear(): void {
  resetting = false
}

function onSocketError(this: Socket, err: Error & { code?: string }): void {
  if (this.bytesRead > 0 && typeof err === 'object' && err !== null) onReused.add(err)
  if (err.code !== 'ECONNRESET') return
  resetting = true
  queueMicrotask(clear)
}

/** Whether a connection reset is being handled right now. */
export function isResetting(): boolean {
  return resetting
}

/** Whether `err` happened on a connection that had read a response before. */
export function isOnReusedConnection(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  if (onReused.has(err)) return true
  const read = (err as { socket?: { bytesRead?: unknown } }).socket?.bytesRead
  return typeof read === 'number' && read > 0
}

/** Wraps an undici connector so that every socket it opens is watched. */
export function watchingConnector(connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) =>
    // An IP address is never a TLS server name (RFC 6066 3): the certificate is checked against
    // the address itself. The core sends one as the request's servername so that undici never
    // falls back to the client's Host; here it is dropped.
    connect(options.servername && isIP(options.servername) !== 0 ? { ...options, servername: undefined } : options, (err, socket) => {
      if (socket) (socket as Socket).prependListener('error', onSocketError)
      // biome-ignore lint/suspicious/noExplicitAny: undici's callback overloads (err, null) | (null, socket)
      ;(callback as any)(err, socket)
    })
}
