import { describe, expect, it } from 'vitest'
import { normalize } from '../src/config/normalize.js'
import type { Side } from '../src/exchange/blame.js'
import { afterFailure, afterStatus, backoffDelay, budgetAllows, type FailureFacts, mayReplay, retryAfterMs, STALE_RETRIES, type StatusFacts } from '../src/exchange/retry.js'

/**
 * The retry rules (exchange/retry.ts) as case tables: pure decisions, no sockets. Each row is a
 * situation and what must follow it.
 */
const retry = normalize({ upstreams: ['http://127.0.0.1:1'] }).retry // attempts 3, the idempotent methods, budget 20% / 3
const onStatus = normalize({ upstreams: ['http://127.0.0.1:1'], retry: { on: [502, 503, 429], backoff: { base: 100, max: 400 } } }).retry

const base: FailureFacts = {
  side: 'upstream',
  code: 'ECONNRESET',
  responseStarted: false,
  uploading: false,
  staleConnection: false,
  staleRetries: 0,
  attempts: 1,
  replayableIfReached: true,
  replayableIfUnsent: true,
  closed: false,
}

describe('afterFailure: what follows a failed attempt', () => {
  const cases: Array<[string, Partial<FailureFacts>, { next: string; counts: boolean; needsBudget: boolean }]> = [
    ['an idempotent request the upstream reset: counted, retried within the budget', {}, { next: 'retry', counts: true, needsBudget: true }],
    ['a refused connection (never sent): counted, retried whatever the method, outside the budget', { side: 'unsent', code: 'ECONNREFUSED', replayableIfReached: false }, { next: 'retry', counts: true, needsBudget: false }],
    ['a POST the upstream took, then reset: counted, not replayed', { replayableIfReached: false }, { next: 'fail', counts: true, needsBudget: false }],
    ['the answer had started: counted, never retried', { responseStarted: true }, { next: 'fail', counts: true, needsBudget: false }],
    ['the client’s own failure: not counted, answered as its', { side: 'request', code: 'UND_ERR_ABORTED' }, { next: 'fail', counts: false, needsBudget: false }],
    ['an option’s function threw: not counted, final', { side: 'app', code: 'SWY_ERR_CALLBACK' }, { next: 'fail', counts: false, needsBudget: false }],
    ['a pool closed by remove(): not counted, tried elsewhere', { side: 'local', code: 'UND_ERR_CLOSED' }, { next: 'retry', counts: false, needsBudget: false }],
    ['a pool closed because the balancer closes: not counted, final', { side: 'local', code: 'UND_ERR_CLOSED', closed: true }, { next: 'fail', counts: false, needsBudget: false }],
    ['EPIPE while the body went out (the upstream answered early): not counted, final', { code: 'EPIPE', uploading: true }, { next: 'fail', counts: false, needsBudget: false }],
    ['a keep-alive race: sent again for free, not counted', { staleConnection: true }, { next: 'stale', counts: false, needsBudget: false }],
    [`a keep-alive race past ${STALE_RETRIES} of them: an ordinary failure`, { staleConnection: true, staleRetries: STALE_RETRIES }, { next: 'retry', counts: true, needsBudget: true }],
    ['a keep-alive race with a body that cannot be replayed: counted, final', { staleConnection: true, replayableIfReached: false, replayableIfUnsent: false }, { next: 'fail', counts: true, needsBudget: false }],
    ['the last attempt: counted, final', { attempts: 3 }, { next: 'fail', counts: true, needsBudget: false }],
    ['a headers timeout: counted, retried within the budget', { code: 'UND_ERR_HEADERS_TIMEOUT' }, { next: 'retry', counts: true, needsBudget: true }],
  ]
  for (const [name, facts, expected] of cases) {
    it(name, () => {
      expect(afterFailure({ ...base, ...facts, side: (facts.side ?? base.side) as Side }, retry)).toEqual(expected)
    })
  }
})

describe('afterStatus: is an answer dropped for a retry (retry.on)?', () => {
  const facts: StatusFacts = { status: 503, attempts: 1, attempt: 1, replayable: true, untried: 1, retryAfter: undefined, cancelled: false }
  const half = () => 0.5
  const cases: Array<[string, Partial<StatusFacts>, number | undefined]> = [
    ['a listed status with someone left to ask: after the back-off (half of base at the first retry)', {}, 50],
    ['the second retry: the back-off doubles its cap', { attempts: 2, attempt: 2 }, 100],
    ['a status not listed: relayed', { status: 500 }, undefined],
    ['nobody else to ask: relayed', { untried: 0 }, undefined],
    ['no attempts left: relayed', { attempts: 3, attempt: 3 }, undefined],
    ['a body that cannot go again: relayed', { replayable: false }, undefined],
    ['the client left: relayed (to nobody)', { cancelled: true }, undefined],
    ['Retry-After longer than the back-off, within maxRetryAfter: waited for', { retryAfter: 800 }, 800],
    ['Retry-After past maxRetryAfter (1 s): relayed, the client decides', { retryAfter: 5_000 }, undefined],
    ['Retry-After on a 502 means nothing', { status: 502, retryAfter: 5_000 }, 50],
  ]
  for (const [name, f, expected] of cases) {
    it(name, () => {
      expect(afterStatus({ ...facts, ...f }, onStatus, half)).toBe(expected)
    })
  }
  it('with no retry.on, nothing is dropped', () => {
    expect(afterStatus(facts, retry, half)).toBeUndefined()
  })
})

describe('the retry budget, replays, back-off and Retry-After', () => {
  const cases: Array<[number, number, boolean]> = [
    [0, 0, true], // below minConcurrency (3) always
    [2, 1, true],
    [3, 10, false], // 3 retrying ≥ 20% of 10
    [3, 20, true], // 3 < 20% of 20 (4)
    [4, 20, false],
  ]
  for (const [retrying, active, allowed] of cases) {
    it(`${retrying} retrying of ${active} in progress: ${allowed ? 'one more may' : 'no more'}`, () => {
      expect(budgetAllows(retrying, active, retry)).toBe(allowed)
    })
  }

  it('replays: any body that can go again when unsent; only the idempotent methods when it reached the upstream', () => {
    expect([mayReplay(true, 'POST', false, retry), mayReplay(true, 'POST', true, retry), mayReplay(true, 'PUT', true, retry), mayReplay(false, 'GET', false, retry)]).toEqual([
      true,
      false,
      true,
      false,
    ])
  })

  it('full jitter: uniform below min(max, base × 2^(n-1))', () => {
    const b = { base: 25, max: 250 }
    expect([backoffDelay(1, b, () => 0.999), backoffDelay(2, b, () => 0.5), backoffDelay(10, b, () => 0.5)]).toEqual([25 * 0.999, 25, 125])
  })

  it('Retry-After in seconds or as a date; anything else is no answer', () => {
    const h = (v: string) => [Buffer.from('Retry-After'), Buffer.from(v)]
    const now = Date.parse('Sun, 06 Dec 2026 12:00:00 GMT')
    expect(retryAfterMs(h('2'), now)).toBe(2_000)
    expect(retryAfterMs(h('Sun, 06 Dec 2026 12:00:03 GMT'), now)).toBe(3_000)
    expect(retryAfterMs(h('soon'), now)).toBeUndefined()
    expect(retryAfterMs([], now)).toBeUndefined()
  })
})
