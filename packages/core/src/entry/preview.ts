import type { IncomingMessage } from 'node:http'
import type { ResolvedOptions } from '../config/resolved.js'
import { clientAddress } from './headers.js'
import { type PreparedHead, prepareRequest } from './prepare.js'

/** What `lb.handler` would send an upstream for a request (see `Balancer.upstreamHead`). */
export interface UpstreamHead {
  readonly method: string
  /** The target in origin-form, after `rewritePath`: `/a/b?c=d`. */
  readonly path: string
  /** Flat `[name, value, …]`, as the upstream gets them. */
  readonly headers: readonly string[]
}

/**
 * The head `lb.handler` prepares for `req` (prepare.ts, the pass every entry runs) and the path
 * `rewritePath` makes of it, without sending anything. Throws what the handler would answer.
 */
export function upstreamHead(options: ResolvedOptions, req: IncomingMessage): UpstreamHead {
  const into: PreparedHead = { path: '', headers: [], host: undefined, hasBody: false, headError: undefined, upgrade: undefined }
  const socket = req.socket as { remoteAddress?: string; encrypted?: boolean } | undefined
  const proto = socket?.encrypted === true ? 'https' : 'http'
  const refused = prepareRequest(into, options, req.url ?? '/', req.rawHeaders, { peer: clientAddress(socket?.remoteAddress), proto, forwarding: true })
  if (refused !== undefined) throw refused
  const path = options.rewritePath === undefined ? into.path : options.rewritePath.apply(into.path)
  return { method: req.method ?? 'GET', path, headers: into.headers }
}
