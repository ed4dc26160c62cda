import type { SwitchyardError } from '@switchyard/strategies'
import type { ExchangeView } from '../fleet/exchange-view.js'
import type { Upstream } from '../fleet/upstream.js'
import type { Attempt, Verdict } from './attempt.js'
import type { ClientSide } from './client.js'
import type { ExchangeHost } from './context.js'
import type { Hedge } from './hedge.js'
import type { Interception } from './intercept.js'
import type { Retries } from './retries.js'
import type { Tracer } from './trace.js'

/**
 * An exchange as its own steps see it: the state and the moves that relay.ts (step 5) and
 * failure.ts (step 6) share with exchange.ts, which implements this. Not the public API: no
 * module outside exchange/ reads it.
 */
export interface ExchangeSteps extends ExchangeView {
  readonly host: ExchangeHost
  readonly client: ClientSide
  readonly cancelled: Error | undefined
  responseStarted: boolean
  readonly current: Attempt | undefined
  readonly isDone: boolean
  readonly retries: Retries
  readonly tracer: Tracer | undefined
  readonly interception: Interception | undefined
  readonly hedge: Hedge | undefined
  /** Whether the request body can be sent again (the mirror's tee read, or the client side's body). */
  bodyReplayable(): boolean
  /** The path an attempt to `u` sends: the request's (rewritten), under the upstream URL's own path. */
  attemptPath(u: Upstream): string
  /** The response head went to the client. */
  headSent(status: number): void
  /** Ends an attempt: uncounted, traced, judged unless the client's cancel made it say nothing. */
  endAttempt(a: Attempt, verdict: Verdict, code: string | undefined, lost?: boolean): void
  /** Step 2 again: the next attempt. */
  next(): void
  /** Answers the error; the exchange ends. */
  fail(error: SwitchyardError): void
  /** The client cancelled: it is told if it can still hear, and the exchange ends. */
  endCancelled(): void
  /** The exchange ends. */
  settle(): void
  /** An attempt failed (step 6). */
  failed(a: Attempt, err: Error): void
  /** The last resort after a second throw: the request is over, whatever state it was in. */
  abandon(): void
}
