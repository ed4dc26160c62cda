import { type SwitchyardError, TRUST_NONE } from '@switchyard/strategies'
import { asInternal, BadRequestError } from '../config/errors.js'
import type { ResolvedOptions } from '../config/resolved.js'
import { type HeadOptions, type RequestHeadInfo, requestHead } from './headers.js'
import { ASTERISK, originForm } from './request-target.js'

/** A request head being prepared for the upstream: the client side of an entry holds one. */
export interface PreparedHead extends RequestHeadInfo {
  /** The target in origin-form, once prepared. */
  path: string
}

/** Where a request comes from, for the forwarding headers. */
export interface RequestOrigin {
  /** The client's address (the socket's peer), `''` when none is known (a `Request` without one, the dispatcher's caller). */
  readonly peer: string
  readonly proto: 'http' | 'https'
  /**
   * A request a client sent this process (`true`), or one this process makes itself
   * (`lb.dispatcher`, `false`). The first gets the forwarding headers of this hop (`X-Forwarded-*`,
   * `Forwarded`, per `xForwarded`) and the edge's rules on names (`underscoresInHeaders`); the
   * second is the caller's own, trusted code: its forwarding headers and names with `_` go as it
   * wrote them. Both lose hop-by-hop and Connection-listed headers, which no hop may pass on.
   */
  readonly forwarding: boolean
}

/** The head options of a request this process makes itself: no forwarding headers of ours, its names kept. */
const CALLER = new WeakMap<ResolvedOptions, HeadOptions>()

/**
 * The one preparation every entry runs on a request (`lb.handler`, `lb.fetch`, `lb.upgrade`,
 * `lb.dispatcher`), so each sends the upstream the same head for the same request:
 *
 * 1. the target in origin-form (absolute-form taken apart; `*`, other schemes and paths that
 *    climb above the root refused);
 * 2. the one header pass (headers.ts): hop-by-hop and Connection-listed names out, `Proxy`
 *    (httpoxy) out, underscores as `underscoresInHeaders` says, one valid `Host`, the forwarding
 *    headers set (or, for the dispatcher, left as the caller wrote them);
 * 3. `requestHeaders`, the application's transform (what it throws is `SWY_ERR_CALLBACK`).
 *
 * Returns why the request cannot be proxied (a 400 for the client's doing, a 500 for the
 * application's), or undefined. Never throws.
 */
export function prepareRequest(into: PreparedHead, options: ResolvedOptions, target: string, raw: readonly string[], from: RequestOrigin): SwitchyardError | undefined {
  try {
    const path = originForm(target)
    if (path === undefined || path === ASTERISK) return new BadRequestError('the request target cannot be proxied')
    into.path = path
    const trust = options.trust
    const trusted = from.peer !== '' && trust !== TRUST_NONE && trust(from.peer, 0)
    requestHead(raw, from.peer, trusted, from.proto, from.forwarding ? options : callerHead(options), into)
    if (into.headError !== undefined) return new BadRequestError(into.headError)
    if (options.requestHeaders !== undefined) into.headers = options.requestHeaders(into.headers)
    return undefined
  } catch (err) {
    return asInternal(err, 'the request head could not be read')
  }
}

function callerHead(options: ResolvedOptions): HeadOptions {
  let head = CALLER.get(options)
  if (head === undefined) {
    head = { preserveHost: options.preserveHost, xForwarded: false, underscoresInHeaders: true }
    CALLER.set(options, head)
  }
  return head
}
