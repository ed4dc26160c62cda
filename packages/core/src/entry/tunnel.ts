import type { Duplex } from 'node:stream'

/** The limits of a tunnel, ms (`timeouts.tunnelIdle`, `timeouts.send`). */
export interface TunnelLimits {
  /** No bytes either way for this long: the tunnel closes (nginx `proxy_read_timeout`). */
  readonly idle: number
  /** One side leaves bytes unread (the other's writes wait on a full buffer) for this long: the tunnel closes (nginx `send_timeout`). */
  readonly send: number
}

/**
 * Joins two sockets both ways (an upgraded client connection and its upstream's), with
 * backpressure, half-close passed on, and the limits nginx puts on a tunnel: it closes when
 * nothing moves for `idle` ms, or when one side stops reading for `send` ms (its peer's bytes pile
 * up unread). `closed` runs once, when the tunnel is torn down for any reason; `teardown` (returned)
 * tears it down from outside. One timer per tunnel, checked at the coarser of the two limits'
 * quarters, so a busy tunnel costs a counter increment per chunk.
 */
export function joinSockets(client: Duplex, upstream: Duplex, limits: TunnelLimits, closed: () => void): () => void {
  let open = true
  let lastMoved = performance.now()
  /** When a side's writes started waiting for 'drain', or 0. */
  let clientStuckSince = 0
  let upstreamStuckSince = 0
  const teardown = (): void => {
    if (!open) return
    open = false
    clearInterval(watch)
    client.destroy()
    upstream.destroy()
    closed()
  }
  const relay = (from: Duplex, to: Duplex, stuck: (since: number) => void): void => {
    from.on('data', (chunk: Buffer) => {
      lastMoved = performance.now()
      if (to.write(chunk)) return
      // The receiving side is not reading: hold this one until it drains.
      stuck(lastMoved)
      from.pause()
      to.once('drain', () => {
        stuck(0)
        lastMoved = performance.now()
        from.resume()
      })
    })
    from.once('end', () => to.end()) // a half-close is passed on; the tunnel ends when both have closed
  }
  relay(upstream, client, (since) => (clientStuckSince = since))
  relay(client, upstream, (since) => (upstreamStuckSince = since))
  for (const s of [client, upstream]) {
    s.on('error', teardown)
    s.once('close', teardown)
    ;(s as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true)
  }
  const watch = setInterval(
    () => {
      const now = performance.now()
      const stuck = Math.max(clientStuckSince === 0 ? 0 : now - clientStuckSince, upstreamStuckSince === 0 ? 0 : now - upstreamStuckSince)
      if (stuck >= limits.send || now - lastMoved >= limits.idle) teardown()
    },
    Math.max(10, Math.min(limits.idle, limits.send) / 4),
  )
  watch.unref()
  return teardown
}
