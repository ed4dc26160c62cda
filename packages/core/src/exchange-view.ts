import type { PickContext } from '@switchyard/strategies'

/**
 * What the balancer's shared parts see of one request: the strategy's pick context, the request
 * line for events, and the ids tried. An `Exchange` is one; the parts never import it, so the
 * core and the exchange do not import each other.
 */
export interface ExchangeView extends PickContext {
  readonly method: string
  readonly path: string
  /** Upstreams already tried; selection may swap it for a wider set while it repicks. */
  tried: ReadonlySet<string>
  /** Ids tried so far, the current one included, for events. */
  triedIds(): string[]
}
