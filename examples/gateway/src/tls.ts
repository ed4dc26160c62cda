import { readFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import { createSecureContext } from 'node:tls'
import { checkBoolean, checkNumber, checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'

/** TLS termination: the gateway speaks HTTPS (and HTTP/2 over ALPN) to clients. */
export interface GatewayTls {
  /** Certificate chain file, PEM (nginx `ssl_certificate`). */
  cert: string
  /** Private key file, PEM (nginx `ssl_certificate_key`). */
  key: string
  /**
   * Offer HTTP/2 by ALPN beside HTTP/1.1 (nginx `http2 on`); clients that do not ask for it get
   * HTTP/1.1 on the same port.
   * @default true
   */
  http2?: boolean
  /**
   * A plain-HTTP port that answers every request with a redirect to the same host and path over
   * HTTPS (nginx `return 301 https://$host$request_uri`): 301 for GET and HEAD, 308 for other
   * methods, so a POST stays a POST. Off unless set.
   */
  redirectFrom?: number
  /**
   * How often the certificate and key files are checked for a change, ms; a change reloads them
   * without a restart (existing connections keep their session). 0: only `SIGHUP` or
   * `gateway.reloadTls()` reload. 60 s matches how often certificate renewals are polled for.
   * @default 60_000
   */
  watchInterval?: number
}

/** Validates the `tls` section; file paths are read at start, so a wrong one fails the start. */
export function normalizeTls(input: unknown): Required<Omit<GatewayTls, 'redirectFrom'>> & { redirectFrom?: number } {
  const o = checkObject(input, 'tls')
  rejectUnknownKeys(o, ['cert', 'key', 'http2', 'redirectFrom', 'watchInterval'], 'tls')
  for (const k of ['cert', 'key'] as const) {
    if (typeof o[k] !== 'string' || o[k] === '') {
      throw new InvalidOptionError(`tls.${k} must be the path of a PEM file, got ${describeValue(o[k])}`, { field: `tls.${k}` })
    }
  }
  const out = {
    cert: o.cert as string,
    key: o.key as string,
    http2: checkBoolean(o.http2, 'tls.http2', true),
    watchInterval: checkNumber(o.watchInterval, 'tls.watchInterval', 60_000, { min: 0, integer: true }),
  }
  if (o.redirectFrom === undefined) return out
  return { ...out, redirectFrom: checkNumber(o.redirectFrom, 'tls.redirectFrom', 0, { min: 0, max: 65_535, integer: true }) }
}

/** Reads and checks the certificate and key: a missing file or a key that does not match the certificate is an error naming them. */
export function readCredentials(tls: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (field: 'cert' | 'key') => {
    try {
      return readFileSync(tls[field])
    } catch (cause) {
      throw new InvalidOptionError(`tls.${field}: cannot read ${tls[field]}: ${(cause as Error).message}`, { field: `tls.${field}`, cause })
    }
  }
  const creds = { cert: read('cert'), key: read('key') }
  try {
    createSecureContext(creds) // throws on bad PEM or a key that is not the certificate's
  } catch (cause) {
    throw new InvalidOptionError(`tls: ${tls.cert} and ${tls.key} are not a usable certificate and key: ${(cause as Error).message}`, {
      field: 'tls',
      cause,
    })
  }
  return creds
}

export type TlsServer = https.Server | http2.Http2SecureServer

/** An HTTPS server, or an HTTP/2 one that also speaks HTTP/1.1 (ALPN), around `handler`. */
export function createTlsServer(tls: { cert: string; key: string; http2: boolean }, handler: http.RequestListener): TlsServer {
  const creds = readCredentials(tls)
  if (!tls.http2) return https.createServer(creds, handler)
  // The compat API hands `handler` Http2ServerRequest/Response objects, which lb.handler takes.
  return http2.createSecureServer({ ...creds, allowHTTP1: true }, handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
}

/** Reloads the certificate and key into a running server; on any error the old ones stay. */
export function reloadCredentials(server: TlsServer, tls: { cert: string; key: string }): void {
  server.setSecureContext(readCredentials(tls))
}


/** A host for a Location header: the request's Host without its port, if it is a plain host name or address. */
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d+)?$/

/**
 * The HTTP→HTTPS redirect server: every request gets 301 (GET, HEAD) or 308 (others) to the same
 * host and path on `httpsPort`; a missing or malformed Host gets 400 (nothing to redirect to).
 */
export function createRedirectServer(httpsPort: number): http.Server {
  return http.createServer((req, res) => {
    const m = HOST.exec(req.headers.host ?? '')
    if (m === null) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
      res.end('Bad Request: no valid Host to redirect to\n')
      return
    }
    const port = httpsPort === 443 ? '' : `:${httpsPort}`
    const path = req.url?.startsWith('/') ? req.url : '/' // an absolute-form target keeps only its host's redirect
    const location = `https://${m[1]}${port}${path}`
    res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 301 : 308, { location, 'content-length': 0 })
    res.end()
  })
}
