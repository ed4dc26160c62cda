import type { Duplex } from 'node:stream'
import type { RequestInfo, SwitchyardError } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import type { Peer } from '../fleet/proxy-protocol.js'
import type { Upstream } from '../fleet/upstream.js'

/**
 * The client's side of one exchange: what an entry (entry/node.ts for `lb.handler`, fetch.ts,
 * upgrade.ts, dispatcher.ts) knows of its request and how it answers. The exchange runs the
 * request through the fleet and calls these; an entry is a small adapter, never a subclass (a new
 * entry — a Bun server, HTTP/3 — is one more file that implements this).
 */
export interface ClientSide {
  readonly method: string
  /** The request target in origin-form (before `rewritePath`). */
  readonly path: string
  /** Why the request is answered with an error instead of proxied (the entry's checks), if so. */
  readonly refusal: SwitchyardError | undefined

  /** The options of one attempt's `pool.dispatch()` to `u`, for `path` (rewritten, under `u`'s base path). */
  dispatchOptions(u: Upstream, path: string): Dispatcher.DispatchOptions
  /** The request as a strategy's key function and the `cost` option see it. */
  requestInfo(): RequestInfo
  /** Who the request came from, for an upstream with `proxyProtocol` (none on the dispatcher path). */
  peer?(): Peer | undefined
  /** Whether the request body can be sent again (none, held in memory, or not yet read). */
  bodyReplayable(): boolean
  /** Whether the body can go to two upstreams at once (none, or held in memory): for `hedge`. */
  bodyShareable(): boolean
  /** Whether the request body is still going out (a write error then means the upstream stopped reading). */
  uploading(): boolean
  /** Whether `err` came from the client's side (its body failed, it went away, its own code threw). */
  isClientError(err: Error): boolean
  /** What a hook of the client's own threw, kept as it is (the dispatcher's caller), or undefined. */
  ownError?(err: unknown): Error | undefined

  /** Answers with the balancer's error; nothing was relayed yet. */
  respondError(error: SwitchyardError): void
  /** Relays the final response head; false pauses the body until `resume`. Throws when it cannot be relayed. */
  head(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean
  /** Relays an informational (1xx) answer, or ignores it. */
  informational(status: number, rawHeaders: Buffer[]): void
  /** Relays a body chunk; false pauses the upstream. */
  data(chunk: Buffer): boolean
  /** Ends the relayed response, with its trailers. */
  end(trailers: Buffer[] | string[] | null): void
  /** Tears the client's response down: its head was sent, or the client is gone. */
  abort(error: Error): void
  /** The upstream switched protocols (101): the socket is the client side's to join or hand on. */
  upgraded(status: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex, link: UpgradeLink): void

  /** The exchange started (after its first pick was asked for). */
  started?(): void
  /** The exchange is over, however it ended. */
  settled?(): void
}

/** How an upgraded connection's lifetime is accounted (see `ClientSide.upgraded`). */
export interface UpgradeLink {
  /**
   * A tunnel opens: the handshake is judged now; the attempt keeps its upstream slot until the
   * returned function is called, when the tunnel closes.
   */
  tunnel(): () => void
  /** The socket is handed on (the dispatcher's caller has it): the exchange ends now. */
  handOff(): void
}
