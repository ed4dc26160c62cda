import { normalizeBreaker, slowStartShare, UpstreamBreaker } from '@switchyard/health/internal'
import { describe, expect, it } from 'vitest'
import { virtualClock } from '@switchyard/testing'

describe('UpstreamBreaker (opossum, on the balancer clock)', () => {
  const quiet = { onOpen() {}, onHalfOpen() {}, onClose() {} }
  /** Lets opossum's fire() promise settle: its verdicts arrive on the microtask queue. */
  const settle = () => new Promise<void>((r) => setImmediate(r))

  it('opens on the error rate, half-opens after resetTimeout with one trial, and closes on its success', async () => {
    const clock = virtualClock()
    const events: string[] = []
    const b = new UpstreamBreaker(
      'u',
      { errorThresholdPercentage: 50, resetTimeout: 1_000, volumeThreshold: 2 },
      { onOpen: () => events.push('open'), onHalfOpen: () => events.push('half-open'), onClose: () => events.push('close') },
      clock,
    )
    expect(b.state).toBe('closed')
    b.record(true)
    b.record(false)
    b.record(false)
    await settle()
    expect(b.state).toBe('open')
    expect(b.isAdmitting).toBe(false)
    clock.advance(999)
    expect(b.state).toBe('open')
    clock.advance(1) // no real time passes: the balancer's clock alone half-opens it
    expect(b.state).toBe('half-open')
    expect(b.isAdmitting).toBe(true)
    b.noteStart()
    expect(b.isAdmitting).toBe(false) // one trial at a time
    b.record(true)
    expect(b.state).toBe('closed')
    expect(events).toEqual(['open', 'half-open', 'close'])
    b.shutdown()
    expect(clock.pending).toBe(0)
  })

  it('a trial abandoned without a verdict (the client’s doing) lets the next request be the trial', async () => {
    const clock = virtualClock()
    const b = new UpstreamBreaker('u', { resetTimeout: 500 }, quiet, clock)
    b.record(false)
    await settle()
    clock.advance(500)
    expect(b.state).toBe('half-open')
    b.noteStart()
    expect(b.isAdmitting).toBe(false)
    b.abandonTrial()
    expect(b.state).toBe('half-open')
    expect(b.isAdmitting).toBe(true)
    b.shutdown()
  })

  it('re-opens when the half-open trial fails, and half-opens again a resetTimeout later', async () => {
    const clock = virtualClock()
    const events: string[] = []
    const b = new UpstreamBreaker(
      'u',
      { resetTimeout: 500 },
      { onOpen: () => events.push('open'), onHalfOpen: () => events.push('half-open'), onClose: () => events.push('close') },
      clock,
    )
    b.record(false)
    await settle()
    expect(b.state).toBe('open')
    clock.advance(500)
    b.noteStart()
    b.record(false)
    expect(b.state).toBe('open')
    clock.advance(499)
    expect(b.state).toBe('open')
    clock.advance(1)
    expect(b.state).toBe('half-open')
    expect(events).toEqual(['open', 'half-open', 'open', 'half-open'])
    b.shutdown()
  })

  it('counts over a rolling window turned by the clock: old failures age out', async () => {
    const clock = virtualClock()
    const b = new UpstreamBreaker(
      'u',
      { errorThresholdPercentage: 50, volumeThreshold: 4, rollingCountTimeout: 1_000, rollingCountBuckets: 10 },
      quiet,
      clock,
    )
    b.record(false)
    b.record(false)
    b.record(false)
    await settle()
    expect(b.state).toBe('closed') // 3 requests: under the volume threshold
    clock.advance(1_000) // the window has turned over: those three are forgotten
    b.record(false)
    await settle()
    expect(b.state).toBe('closed') // 1 in the window, not 4
    b.record(false)
    b.record(false)
    b.record(false)
    await settle()
    expect(b.state).toBe('open')
    b.shutdown()
    expect(clock.pending).toBe(0)
  })

  it('normalizes options', () => {
    expect(normalizeBreaker(false)).toBeUndefined()
    expect(normalizeBreaker(true)).toEqual({})
    expect(normalizeBreaker({ resetTimeout: 5, allowWarmUp: true })).toEqual({ resetTimeout: 5, allowWarmUp: true })
    expect(() => normalizeBreaker({ resetTimeout: -1 })).toThrow(/breaker.resetTimeout/)
    // Unknown keys are refused, naming the nearest known one; opossum's `timeout` is not ours.
    expect(() => normalizeBreaker({ resetTimout: 5 } as never)).toThrow(/unknown option breaker.resetTimout; did you mean breaker.resetTimeout\?/)
    expect(() => normalizeBreaker({ timeout: 10 } as never)).toThrow(expect.objectContaining({ code: 'SWY_ERR_INVALID_OPTION', field: 'breaker.timeout' }))
    expect(() => normalizeBreaker({ rollingCountBuckets: 0 })).toThrow(/breaker.rollingCountBuckets/)
  })
})

describe('slowStartShare', () => {
  it('ramps linearly from 10% to 100% over the duration', () => {
    expect(slowStartShare(0, 0, 1_000)).toBe(0.1)
    expect(slowStartShare(500, 0, 1_000)).toBe(0.5)
    expect(slowStartShare(1_000, 0, 1_000)).toBe(1)
    expect(slowStartShare(5, 0, 0)).toBe(1)
  })
})
