import { newOutlierHost, OutlierDetector, outlierDetection } from '@switchyard/health'
import { InvalidOptionError } from '@switchyard/strategies'
import { describe, expect, it } from 'vitest'

describe('OutlierDetector (Envoy semantics, injected time)', () => {
  const detector = new OutlierDetector(outlierDetection({ consecutive5xx: 3, baseEjectionTime: 1_000, maxEjectionTime: 2_500, interval: 100 }))

  it('ejects after consecutive 5xx, and a success in between resets the count', () => {
    const h = newOutlierHost()
    expect(detector.record(h, 500, 0, 0, 10)).toBe(false)
    expect(detector.record(h, 503, 1, 0, 10)).toBe(false)
    expect(detector.record(h, 200, 2, 0, 10)).toBe(false)
    expect(detector.record(h, 500, 3, 0, 10)).toBe(false)
    expect(detector.record(h, 0, 4, 0, 10)).toBe(false) // a connection error counts as 5xx
    expect(detector.record(h, 502, 5, 0, 10)).toBe(true)
    expect(h.ejectedUntil).toBe(1_005)
  })

  it('grows the ejection time with each ejection in a row, up to maxEjectionTime', () => {
    const h = newOutlierHost()
    const eject = (t: number) => {
      for (let i = 0; i < 3; i++) detector.record(h, 500, t, 0, 10)
      return h.ejectedUntil - t
    }
    expect(eject(0)).toBe(1_000)
    expect(detector.review(h, 999)).toBe(false)
    expect(detector.review(h, 1_000)).toBe(true)
    expect(eject(2_000)).toBe(2_000)
    detector.review(h, 4_000)
    expect(eject(5_000)).toBe(2_500) // 3 × 1 000, capped
    // A host that stays in for whole intervals has its count lowered again.
    detector.review(h, 7_500)
    for (let t = 7_600; t < 8_000; t += 100) detector.review(h, t)
    expect(h.ejections).toBe(0)
  })

  it('ejects at most maxEjectionPercent of the upstreams at once, but always one', () => {
    const tenPercent = new OutlierDetector(outlierDetection({ maxEjectionPercent: 10 }))
    expect(tenPercent.mayEject(0, 3)).toBe(true) // at least one, as Envoy
    expect(tenPercent.mayEject(1, 3)).toBe(false)
    expect(tenPercent.mayEject(1, 20)).toBe(true)
    expect(tenPercent.mayEject(2, 20)).toBe(false)
  })

  it('checks gateway failures on their own rule', () => {
    const d = new OutlierDetector(outlierDetection({ consecutive5xx: 0, consecutiveGatewayFailure: 2 }))
    const h = newOutlierHost()
    expect(d.record(h, 500, 0, 0, 5)).toBe(false) // 500 is not a gateway failure
    expect(d.record(h, 504, 1, 0, 5)).toBe(false)
    expect(d.record(h, 0, 2, 0, 5)).toBe(true)
  })

  it('rejects bad options', () => {
    expect(() => outlierDetection({ consecutive5xx: -1 })).toThrow(InvalidOptionError)
    expect(() => outlierDetection({ maxEjectionPercent: 101 })).toThrow(/maxEjectionPercent/)
    expect(() => outlierDetection({ baseEjection: 1 } as never)).toThrow(/did you mean outlierDetection\(\)\.baseEjectionTime/)
  })
})
