import { SwitchyardError } from '@switchyard/strategies'
import { QueueFullError, QueueTimeoutError } from '../config/errors.js'
import type { Upstream } from '../fleet/upstream.js'
import type { ExchangeHost } from './context.js'

/** What waits for an upstream's slot: the exchange. */
export interface Admittee {
  readonly cancelled: Error | undefined
  /** A slot is free: the attempt goes; `release` frees the slot when it ends. */
  admitted(u: Upstream, release: () => void): void
  /** No slot: the queue was full or the wait ran out. */
  refused(error: SwitchyardError): void
  /** The client left while it waited. */
  left(): void
}

/**
 * Admission to an upstream with `maxConnections`: a free slot admits at once; otherwise the
 * request waits in the upstream's bounded queue (`queue.size`) for at most `queue.timeout`
 * (on the balancer's clock), answered 503 past either. Returns the wait's abort handle while the
 * request waits (a cancel aborts it), or undefined when it went at once or was refused.
 */
export function admit(host: ExchangeHost, u: Upstream, who: Admittee): AbortController | undefined {
  const queue = u.queue!
  const run = (): Promise<void> =>
    new Promise<void>((release) => {
      if (who.cancelled !== undefined) {
        release()
        who.left()
        return
      }
      who.admitted(u, release)
    })
  if (queue.pending < queue.concurrency) {
    void queue.add(run)
    return undefined
  }
  const { size, timeout } = host.options.queue
  if (queue.size >= size) {
    who.refused(new QueueFullError(`the queue of upstream ${u.id} is full (${size} waiting)`))
    return undefined
  }
  const wait = new AbortController()
  const clock = host.clock
  const timer = clock.setTimeout(() => wait.abort(new QueueTimeoutError(`waited ${timeout} ms in the queue of upstream ${u.id}`)), timeout)
  queue.add(run, { signal: wait.signal }).then(
    () => clock.clearTimeout(timer),
    (reason: unknown) => {
      clock.clearTimeout(timer)
      if (who.cancelled !== undefined) who.left()
      else who.refused(reason instanceof SwitchyardError ? reason : new QueueTimeoutError('queue wait aborted', { cause: reason }))
    },
  )
  return wait
}
