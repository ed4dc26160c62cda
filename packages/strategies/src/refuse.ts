import type { ServerResponse } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { SwitchyardError } from './errors.js'

/**
 * Answers a refused request with the short JSON body every Switchyard refusal has (the balancer's
 * too): `{"error","code","message"}`, the error's status (403 without one), `no-store`. A
 * response already started is cut instead. Shared by the guards and the WAF.
 */
export function refuse(res: ServerResponse, error: SwitchyardError, headers: Record<string, string | number> = {}): void {
  if (res.headersSent || res.destroyed) {
    res.destroy()
    return
  }
  const status = error.statusCode ?? 403
  const body = JSON.stringify({ error: STATUS_CODES[status], code: error.code, message: error.message })
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}
