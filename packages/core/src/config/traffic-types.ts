import type { RequestInfo } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'

/* The options of the extra traffic a balancer may send: hedges and mirrors. */

/** Options of `hedge`. */
export interface HedgeOptions {
  /**
   * How long the first attempt may go without a response head before a second attempt goes to
   * another upstream, ms. A good value is about the upstreams' p95 latency (Dean and Barroso, "The
   * Tail at Scale": hedging at the 95th percentile cut the 99.9th by 4× for 2% more requests).
   */
  delay: number
}

/** Options of `mirror` (nginx `mirror`, Envoy request mirror policies). */
export interface MirrorOptions {
  /**
   * Where the copies go: an upstream URL (`http://shadow:8080`, a path prefix allowed), several
   * (taken in turn), or another balancer (anything with a `dispatcher`: its own upstreams,
   * strategy and health decide). Not an upstream of this balancer: copies never count in its
   * health, stats of its upstreams, or retries.
   */
  to: string | readonly string[] | { readonly dispatcher: Dispatcher }
  /**
   * Share of the requests copied, from 0 to 1, drawn per request with the balancer's `random`.
   * @default 1 (nginx copies every request of a location with `mirror`)
   */
  share?: number
  /** Which requests are copied (of the share): e.g. `(req) => req.method === 'GET'`. A throw counts as false. @default every request */
  when?: (req: RequestInfo) => boolean
  /**
   * The largest request body copied, bytes. A body held in memory is copied as it is; a streamed
   * one is copied as it goes to the upstream (never held back) and mirrored when it has ended; a
   * larger body is not mirrored (`stats().mirror.skipped`).
   * @default 1_048_576 (nginx client_max_body_size)
   */
  maxBody?: number
  /**
   * Copies in flight at most; past it a request is not mirrored (`skipped`), so a slow mirror
   * target costs bounded memory (at most `maxConcurrent` × `maxBody` of bodies).
   * @default 64
   */
  maxConcurrent?: number
}
