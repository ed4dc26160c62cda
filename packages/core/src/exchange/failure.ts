import type { SwitchyardError } from '@switchyard/strategies'
import { asInternal } from '../config/errors.js'
import { type Attempt, FAILED, OK, UNJUDGED } from './attempt.js'
import { blameOf, errorCode, errorOf, isStaleConnection, type Side } from './blame.js'
import type { ExchangeSteps } from './steps.js'

/**
 * Step 6 of an exchange after a failed attempt (exchange.ts): the attempt is judged by whose the
 * failure was (blame.ts), and the request is retried (retry.ts decides) or answered with the
 * error. A failure while a hedge races goes to the hedge first; reading an answer whole for
 * `onResponse` that stopped is the balancer's error, not the upstream's.
 */
export function attemptFailed(ex: ExchangeSteps, a: Attempt, err: Error): void {
  if (ex.hedge?.racing) {
    ex.hedge.failed(a, err)
    return
  }
  if (ex.isDone || a !== ex.current) return
  const interception = ex.interception
  interception?.drop()
  const stopped = interception?.stopped
  if (stopped !== undefined) {
    // Reading the answer whole stopped (too large, `when` threw): the upstream answered; the error is the balancer's.
    interception!.stopped = undefined
    ex.endAttempt(a, UNJUDGED, stopped.code)
    if (ex.cancelled !== undefined) ex.endCancelled()
    else ex.fail(stopped)
    return
  }
  if (a.finishedEarly) {
    ex.endAttempt(a, OK, undefined)
    ex.settle()
    return
  }
  a.discarding = false // a discarded answer broke off: judged as the error it is
  const code = errorCode(err)
  if (ex.cancelled !== undefined) {
    ex.endAttempt(a, UNJUDGED, code)
    ex.endCancelled()
    return
  }
  const blame = blameOf(code)
  const side: Side = blame.side !== 'request' && ex.client.isClientError(err) ? 'request' : blame.side
  const retries = ex.retries
  const client = ex.client
  const verdict = retries.afterFailure(side, code, ex.responseStarted, client.uploading(), isStaleConnection(err, code), ex.bodyReplayable())
  const u = a.upstream
  ex.endAttempt(a, verdict.counts ? FAILED : UNJUDGED, code)
  const error = errorOf(side, blame.timeout, err, code, u.id, ex.host.isClosed)
  if (ex.responseStarted) cutResponse(ex, error)
  else if (verdict.next === 'stale') {
    retries.stale(error, u) // sent again as if it never went: the same upstream may take it, on a new connection
    ex.next()
  } else if (verdict.next === 'retry' && retries.retry(error, u, verdict.needsBudget)) ex.next()
  else ex.fail(error)
}

/**
 * The answer had started when the request failed: no other answer can be given, so the client's
 * response is cut (its trace and counters told first) and the exchange settles.
 */
function cutResponse(ex: ExchangeSteps, error: SwitchyardError): void {
  const trace = ex.tracer?.trace
  if (trace !== undefined) trace.error = error.code
  ex.host.counters.failed(ex, error)
  ex.client.abort(error)
  ex.settle()
}

/**
 * Something threw where nothing should: an option's function (`SWY_ERR_CALLBACK`) or the
 * balancer's own code (`SWY_ERR_INTERNAL`). This request alone ends: its attempts are accounted
 * (never against the upstream) and aborted, and the client gets a 500, or a cut response when
 * its answer had started. Never throws.
 */
export function endAfterThrow(ex: ExchangeSteps, err: unknown): void {
  if (ex.isDone) return
  const error = asInternal(err, 'the request failed in the balancer')
  const a = ex.current
  const abort = a?.abort ?? null
  try {
    if (a !== undefined) ex.endAttempt(a, UNJUDGED, error.code)
    ex.hedge?.end(error)
    if (ex.responseStarted) cutResponse(ex, error)
    else ex.fail(error)
  } catch {
    // A second throw while ending: the request is over whatever state it was in; the client's
    // connection is cut rather than left hanging.
    ex.abandon()
    try {
      ex.client.abort(error)
    } catch {
      // nothing more can be done for this client
    }
  }
  abort?.(error) // last: undici reports the abort through onError, which finds the request over
}
