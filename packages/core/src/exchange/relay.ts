import type { Duplex } from 'node:stream'
import type { SwitchyardError } from '@switchyard/strategies'
import { InterceptorError, UpstreamError } from '../config/errors.js'
import { isResetting } from '../fleet/socket-watch.js'
import { type Attempt, FAILED, OK, UNJUDGED } from './attempt.js'
import type { ExchangeSteps } from './steps.js'
import type { Interception } from './intercept.js'
import { grpcFailed, isCloseDelimited } from './response-head.js'

/*
 * Step 5 of an exchange (exchange.ts): an attempt's answer, as undici reports it, relayed to the
 * client side — or raced (a hedge decides which attempt is followed), dropped for a retry
 * (`retry.on`), or read whole first (`onResponse`). Step 6 begins at its end.
 */

const noop = (): void => {}

/** The answer's head; false pauses its body until `resume`. */
export function relayHead(ex: ExchangeSteps, a: Attempt, status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
  const hedge = ex.hedge
  if (hedge?.racing) {
    if (status < 200) return true // a 1xx while the race is open: the winner is not known yet
    if (!hedge.decide(a, status)) return true
  }
  if (status < 200) {
    // 1xx: Node answers a client's Expect: 100-continue itself; 103 Early Hints and 102 go on.
    if (!ex.responseStarted && !a.finishedEarly) ex.client.informational(status, raw)
    return true
  }
  if (a.finishedEarly) return true
  a.status = status
  if (ex.retries.retriesStatus(status, raw, ex.bodyReplayable(), ex.cancelled !== undefined)) {
    a.discarding = true
    return true
  }
  a.rawHeaders = raw
  if (ex.interception?.begins(ex.method, status, raw, a.upstream.id, ex.attemptPath(a.upstream))) {
    if (ex.interception.stopped !== undefined) a.abort?.(ex.interception.stopped)
    return true
  }
  const more = ex.client.head(status, raw, resume, statusText) // throws on an invalid head
  ex.headSent(status)
  if (status === 204 || status === 304) {
    // These never have a body (RFC 9110 6.4.1). undici rejects a 304 that carries
    // Content-Length with UND_ERR_RES_CONTENT_LENGTH_MISMATCH and may trip over bytes after a
    // 204; nginx relays both as status and headers. So the response ends here, and whatever
    // undici reports next only closes the attempt.
    a.finishedEarly = true
    ex.client.end(null)
  }
  return more
}

/** A body chunk; false pauses the upstream. */
export function relayData(ex: ExchangeSteps, a: Attempt, chunk: Buffer): boolean {
  if (a.finishedEarly || a.discarding || a !== ex.current) return true
  const interception = ex.interception
  if (interception?.buffering) {
    const tooLarge = interception.add(chunk)
    if (tooLarge !== undefined) a.abort?.(tooLarge)
    return true
  }
  const trace = ex.tracer?.trace
  if (trace !== undefined) trace.bytes += chunk.length
  return ex.client.data(chunk)
}

/** The answer ended: the attempt is judged, and the client's answer ends (or the interceptor runs first). */
export function relayEnd(ex: ExchangeSteps, a: Attempt, trailers: Buffer[] | string[] | null): void {
  if (a !== ex.current) return
  if (a.discarding) {
    retryAfterStatus(ex, a)
    return
  }
  if (a.finishedEarly) {
    ex.endAttempt(a, OK, undefined)
    ex.settle()
    return
  }
  if (isResetting() && isCloseDelimited(a.rawHeaders, ex.method)) {
    // undici takes a reset after a close-delimited body for its end (a macOS workaround); a
    // reset is a cut, so the client must see an aborted response, not a complete one.
    ex.failed(a, new UpstreamError(`upstream ${a.upstream.id} reset the connection mid-body`))
    return
  }
  const passive = a.upstream.passive
  const failed = passive.isFailureStatus(a.status) || (passive.judgesGrpc && grpcFailed(trailers, a.rawHeaders, passive))
  ex.endAttempt(a, failed ? FAILED : OK, undefined)
  if (ex.interception?.buffering) {
    void relayIntercepted(ex, trailers)
    return
  }
  ex.client.end(trailers)
  ex.settle()
}

/** The answer was read whole: the interceptor runs, and what it returns is relayed. */
async function relayIntercepted(ex: ExchangeSteps, trailers: Buffer[] | string[] | null): Promise<void> {
  let out: Awaited<ReturnType<Interception['run']>>
  try {
    out = await ex.interception!.run()
  } catch (err) {
    if (ex.isDone) return
    if (ex.cancelled !== undefined) ex.endCancelled()
    else ex.fail(err as SwitchyardError)
    return
  }
  if (ex.isDone) return // the client left, or the deadline passed, while it ran
  try {
    ex.client.head(out.status, out.raw, noop, '')
  } catch (cause) {
    ex.fail(new InterceptorError(`onResponse.handle returned a head that cannot be relayed: ${(cause as Error).message}`, { cause }))
    return
  }
  ex.headSent(out.status)
  const trace = ex.tracer?.trace
  if (trace !== undefined) trace.bytes = out.body.length
  if (out.body.length !== 0) ex.client.data(out.body)
  ex.client.end(trailers)
  ex.settle()
}

/** The dropped answer (`retry.on`) ended: the attempt is over; the next goes after the back-off. */
function retryAfterStatus(ex: ExchangeSteps, a: Attempt): void {
  const u = a.upstream
  a.discarding = false
  ex.endAttempt(a, u.passive.isFailureStatus(a.status) ? FAILED : OK, undefined)
  if (ex.cancelled !== undefined) {
    ex.retries.markTried(u)
    ex.endCancelled()
    return
  }
  ex.retries.afterStatus(u, a.status, () => ex.next())
}

/**
 * The upstream switched protocols (101): the client side joins the sockets (a tunnel: the
 * handshake is judged now, the attempt keeps its slot until the tunnel closes) or hands the
 * socket on (the dispatcher's caller: the exchange ends now).
 */
export function relayUpgrade(ex: ExchangeSteps, a: Attempt, status: number, raw: Buffer[] | string[] | null, socket: Duplex): void {
  ex.responseStarted = true
  ex.client.upgraded(status, raw, socket, {
    tunnel: () => {
      a.judgeNow(ex.host.fleet, status)
      return () => {
        if (ex.isDone) return
        ex.endAttempt(a, UNJUDGED, undefined) // already judged at the handshake
        ex.settle()
      }
    },
    handOff: () => {
      a.status = status
      ex.endAttempt(a, OK, undefined)
      ex.settle()
    },
  })
}
