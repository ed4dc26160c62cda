/*
 * Every default of the balancer's options, in one table, each with its unit and where it comes
 * from. normalize.ts (and its helpers) read defaults from here and nowhere else; `DEFAULTS` is
 * exported, so an app can read what it did not set.
 */

/**
 * The retry defaults: Envoy's retry backoff (base 25 ms, max 10 × base), its retry budget
 * (`budget_percent` 20%, `min_retry_concurrency` 3). `maxRetryAfter` 1 s: a proxy that waits longer
 * for a `Retry-After` holds its client longer than the upstream asked anyone to wait for the
 * answer itself.
 */
export const RETRY_DEFAULTS = Object.freeze({
  attempts: 3, // attempts in all; Envoy allows 1 retry, nginx tries every server; 3 rides out one dead and one flapping upstream
  methods: Object.freeze(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']), // RFC 9110 9.2.2
  backoffBase: 25, // ms; Envoy retry_back_off base_interval
  backoffMax: 250, // ms; Envoy: 10 × base
  maxRetryAfter: 1_000, // ms
  budget: 0.2, // share of requests in progress; Envoy budget_percent 20%
  minConcurrency: 3, // Envoy min_retry_concurrency
})

/** Every default, with its unit and where it comes from. */
export const DEFAULTS = Object.freeze({
  weight: 1, // nginx server weight default
  retryAttempts: RETRY_DEFAULTS.attempts,
  retryMethods: RETRY_DEFAULTS.methods,
  connectTimeout: 5_000, // ms; Envoy connect_timeout default
  headersTimeout: 60_000, // ms; nginx proxy_read_timeout default
  bodyTimeout: 60_000, // ms; nginx proxy_read_timeout default
  clientBodyTimeout: 60_000, // ms; nginx client_body_timeout default
  sendTimeout: 60_000, // ms; nginx send_timeout default
  tunnelIdleTimeout: 60_000, // ms; nginx proxy_read_timeout default, which closes a quiet WebSocket
  queueSize: 1_000, // requests per upstream
  queueTimeout: 60_000, // ms; nginx Plus `queue ... timeout=60s` default
  preserveHost: true,
  xForwarded: true,
  underscoresInHeaders: false, // nginx underscores_in_headers off
  slowStart: 0, // ms; off, as HAProxy and nginx Plus
  panicThreshold: 50, // %; Envoy healthy_panic_threshold default
  trace: 0, // requests whose decision traces lb.trace() keeps; off
  interceptMaxBytes: 1024 * 1024, // bytes; 1 MiB, Envoy's per_connection_buffer_limit_bytes default
  mirrorMaxBody: 1024 * 1024, // bytes; 1 MiB, nginx client_max_body_size (nginx mirrors the whole body it read)
  mirrorMaxConcurrent: 64, // copies in flight; bounds a slow mirror's memory to 64 × mirrorMaxBody
  dnsMinTtl: 1_000, // ms; re-resolution no more often than each second, whatever the TTL
  dnsMaxTtl: 300_000, // ms; and at least every 5 minutes, however long the TTL
  dnsSrvInterval: 30_000, // ms; Node reports no TTL for SRV records
  dnsRetryInterval: 5_000, // ms; after a failed lookup (the last upstreams found stay)
  closeTimeout: 30_000, // ms; lb.close()'s grace period: Kubernetes' default terminationGracePeriodSeconds
  removeDrain: true, // lb.remove() lets in-flight requests finish
})
