import { normalizeBreaker, slowStartShare, UpstreamBreaker } from '@switchyard/health'
import { describe, expect, it, vi } from 'vitest'

describe('UpstreamBreaker (opossum)', () => {
  it('opens on the error rate, half-opens after resetTimeout with one trial, and closes on its success', async () => {
    vi.useFakeTimers()
    try {
      const events: string[] = []
      const b = new UpstreamBreaker('u', { errorThresholdPercentage: 50, resetTimeout: 1_000, volumeThreshold: 2 }, {
        onOpen: () => events.push('open'),
        onHalfOpen: () => events.push('half-open'),
        onClose: () => events.push('close'),
      })
      expect(b.state).toBe('closed')
      b.record(true)
      b.record(false)
      b.record(false)
      await vi.advanceTimersByTimeAsync(0)
      expect(b.state).toBe('open')
      expect(b.isAdmitting).toBe(false)
      await vi.advanceTimersByTimeAsync(1_000)
      expect(b.state).toBe('half-open')
      expect(b.isAdmitting).toBe(true)
      b.noteStart()
      expect(b.isAdmitting).toBe(false) // one trial at a time
      b.record(true)
      await vi.advanceTimersByTimeAsync(0)
      expect(b.state).toBe('closed')
      expect(events).toEqual(['open', 'half-open', 'close'])
      b.shutdown()
    } finally {
      vi.useRealTimers()
    }
  })

  it('a trial abandoned without a verdict (the client’s doing) lets the next request be the trial', async () => {
    vi.useFakeTimers()
    try {
      const b = new UpstreamBreaker('u', { resetTimeout: 500 }, { onOpen() {}, onHalfOpen() {}, onClose() {} })
      b.record(false)
      await vi.advanceTimersByTimeAsync(500)
      expect(b.state).toBe('half-open')
      b.noteStart()
      expect(b.isAdmitting).toBe(false)
      b.abandonTrial()
      expect(b.state).toBe('half-open')
      expect(b.isAdmitting).toBe(true)
      b.shutdown()
    } finally {
      vi.useRealTimers()
    }
  })

  it('re-opens when the half-open trial fails', async () => {
    vi.useFakeTimers()
    try {
      const b = new UpstreamBreaker('u', { resetTimeout: 500 }, { onOpen() {}, onHalfOpen() {}, onClose() {} })
      b.record(false)
      await vi.advanceTimersByTimeAsync(0)
      expect(b.state).toBe('open')
      await vi.advanceTimersByTimeAsync(500)
      b.noteStart()
      b.record(false)
      await vi.advanceTimersByTimeAsync(0)
      expect(b.state).toBe('open')
      b.shutdown()
    } finally {
      vi.useRealTimers()
    }
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
