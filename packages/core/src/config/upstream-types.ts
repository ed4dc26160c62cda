import type { Dispatcher } from 'undici'

/** One upstream, as given to `createBalancer({ upstreams })` or `lb.add()`. */
export interface UpstreamOptions {
  /**
   * Base URL, `http:` or `https:`. Its path, if any, is put in front of every request's path
   * (`http://10.0.0.5:5000/v1` sends `/users` as `/v1/users`, as nginx `proxy_pass` with a URI);
   * a query or fragment in it is refused. Optional with `dispatcher` (then it is only the
   * `origin` the dispatcher is given).
   */
  url?: string
  /**
   * Any undici `Dispatcher` to send this upstream's requests to, instead of a pool the balancer
   * makes for `url`: an `Agent`, a `MockAgent`, a function upstream in a test, a simulated upstream.
   * Needs an `id`. The balancer's `pool` and `timeouts.connect` options do not apply to it, and
   * `close()` / `remove()` close it.
   */
  dispatcher?: Dispatcher
  /**
   * DNS discovery (nginx `server ... resolve`): `true` makes one upstream per A/AAAA record of the
   * URL's host name (ids `<id>/<address>:<port>`), looked up again when the records' TTL runs out;
   * `'srv'` reads the host's SRV records (`http://_http._tcp.api.internal`): one upstream per
   * target address, with the record's port and weight, and its priority as a priority level (the
   * lowest priority number is level 0, the next level 1, …; see `priority`). Changes go through `add` and `remove` with drain, so no request is dropped; a
   * failed lookup keeps the upstreams found last. The entry's other options go to every upstream
   * it makes (https ones check the certificate against the name). `lb.ready()` resolves after the
   * first lookup. Only in `createBalancer({ upstreams })`, not `lb.add()`.
   * @default false
   */
  resolve?: boolean | 'srv'
  /**
   * Speak HTTP/2 to this upstream: over TLS by ALPN (falling back to HTTP/1.1 when the upstream
   * does not offer h2), and over plain `http:` with prior knowledge (h2c: the upstream must speak
   * HTTP/2 on that port). Needed for gRPC upstreams.
   * @default the balancer's `http2`
   */
  http2?: boolean
  /**
   * Unique id, shown in stats and events.
   * @default the URL's origin
   */
  id?: string
  /**
   * Relative share of traffic, a positive integer.
   * @default 1
   */
  weight?: number
  /**
   * Takes traffic only when no primary upstream is eligible (nginx `backup`).
   * @default false
   */
  backup?: boolean
  /**
   * Priority level (Envoy's priorities), 0 the first: a level takes the share of traffic its
   * health covers, times Envoy's overprovisioning factor of 1.4, and the rest spills to the next
   * level — with 5 upstreams at level 0, losing 2 sends 16% of the traffic to level 1 (3/5 × 1.4
   * = 84% stays), not nothing until the last one fails. `backup` upstreams come after every level.
   * @default 0
   */
  priority?: number
  /**
   * Send the PROXY protocol header (HAProxy's, `'v1'` text or `'v2'` binary) at the start of each
   * connection to this upstream, naming the client (nginx `proxy_protocol on`, HAProxy
   * `send-proxy`): for an upstream that reads the client's address from it rather than from
   * `X-Forwarded-For`. A header names one client, so such connections are not shared between
   * client connections (each client connection gets its own, closed with it), and the upstream's
   * pool options do not apply to them. HTTP/1.1 only.
   * @default none
   */
  proxyProtocol?: 'v1' | 'v2'
  /**
   * The zone (availability zone, rack, data centre) the upstream runs in, for zone-aware routing
   * (the balancer's `locality`; Envoy's localities).
   * @default none
   */
  zone?: string
  /**
   * Listed but takes no traffic (nginx `down`).
   * @default false
   */
  down?: boolean
  /**
   * Cap on requests in flight to this upstream; over it, requests wait in the queue
   * (see `queue`). Also caps the pool's connections.
   * @default Infinity (no cap)
   */
  maxConnections?: number
  /**
   * Slow start for this upstream, ms (overrides the balancer's `slowStart`).
   * @default the balancer's `slowStart`
   */
  slowStart?: number
  /** TLS to an `https:` upstream (its pool and its active health checks). */
  tls?: UpstreamTlsOptions
}

/** TLS options of one `https:` upstream, as Node's `tls.connect()` takes them. */
export interface UpstreamTlsOptions {
  /** Trusted CA certificates (PEM), for an upstream whose certificate a private CA signed. @default Node's bundled CAs */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>
  /** Client certificate chain (PEM), for upstreams that require mutual TLS. */
  cert?: string | Buffer | ReadonlyArray<string | Buffer>
  /** Client private key (PEM), with `cert`. */
  key?: string | Buffer | ReadonlyArray<string | Buffer>
  /**
   * TLS server name (SNI and certificate check). Never the client's `Host`, so `preserveHost`
   * cannot break the handshake or churn pooled connections.
   * @default the URL's hostname; none for an IP address (the certificate is checked against the IP)
   */
  servername?: string
  /**
   * Refuse an upstream whose certificate does not verify. `false` accepts any certificate, which
   * also accepts an impostor: use `ca` instead wherever possible.
   * @default true
   */
  rejectUnauthorized?: boolean
}

/** Retry policy. */

/** The balancer's `dns` options. */
export interface DnsOptions {
  /** DNS servers to ask (`'10.0.0.2'`, `'127.0.0.1:5353'`). @default the system's (`/etc/resolv.conf`) */
  servers?: string[]
  /** Shortest wait before asking again, ms, whatever the records' TTL. @default 1_000 */
  minTtl?: number
  /** Longest wait before asking again, ms, however long the TTL. @default 300_000 */
  maxTtl?: number
  /** How often SRV records are asked again, ms (Node reports no TTL for them). @default 30_000 */
  srvInterval?: number
  /** Wait before asking again after a lookup failed (the upstreams found last stay), ms. @default 5_000 */
  retryInterval?: number
}
