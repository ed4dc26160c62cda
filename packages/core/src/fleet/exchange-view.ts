/**
 * What the balancer's shared parts see of one request: its affinity key and attempt for the
 * strategy, the request line for events, and the ids tried. An `Exchange` is one; the parts
 * never import it, so the core and the exchange do not import each other.
 */
export interface ExchangeView {
  readonly method: string
  readonly path: string
  /** The request's affinity key, from the strategy's `affinity.key`. */
  readonly key: string | undefined
  /** Attempts begun so far: 0 while the first is being picked. */
  readonly attempt: number
  /** Upstreams already tried for this request. */
  readonly tried: ReadonlySet<string>
  /** Ids tried so far, the current one included, for events. */
  triedIds(): string[]
}
