import { outlierDetection } from '@switchyard/health'
import { newOutlierHost, OutlierDetector } from '@switchyard/health/internal'
import { InvalidOptionError } from '@switchyard/strategies'
import { describe, expect, it } from 'vitest'

const none = () => 0

describe('OutlierDetector (Envoy semantics, injected time)', () => {
  const detector = new OutlierDetector(outlierDetection({ consecutive5xx: 3, baseEjectionTime: 1_000, maxEjectionTime: 2_500, interval: 100 }))

  it('ejects after consecutive 5xx, and a success in between resets the count', () => {
    const h = newOutlierHost()
    expect(detector.record(h, 500, 0, none, 10)).toBe(false)
    expect(detector.record(h, 503, 1, none, 10)).toBe(false)
    expect(detector.record(h, 200, 2, none, 10)).toBe(false)
    expect(detector.record(h, 500, 3, none, 10)).toBe(false)
    expect(detector.record(h, 0, 4, none, 10)).toBe(false) // a connection error counts as 5xx
    expect(detector.record(h, 502, 5, none, 10)).toBe(true)
    expect(h.ejectedUntil).toBe(1_005)
  })

  it('grows the ejection time with each ejection in a row, up to maxEjectionTime', () => {
    const h = newOutlierHost()
    const eject = (t: number) => {
      for (let i = 0; i < 3; i++) detector.record(h, 500, t, none, 10)
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
    expect(d.record(h, 500, 0, none, 5)).toBe(false) // 500 is not a gateway failure
    expect(d.record(h, 504, 1, none, 5)).toBe(false)
    expect(d.record(h, 0, 2, none, 5)).toBe(true)
  })

  it('ejects on success rate below mean - stdevFactor x stdev, among hosts with enough requests (Envoy)', () => {
    const d = new OutlierDetector(outlierDetection({ consecutive5xx: 0, consecutiveGatewayFailure: 0, maxEjectionPercent: 50 }))
    const hosts = Array.from({ length: 6 }, () => newOutlierHost())
    const serve = (h: (typeof hosts)[0], n: number, failures: number) => {
      for (let i = 0; i < n; i++) d.record(h, i < failures ? 500 : 200, 0, none, hosts.length)
    }
    for (const h of hosts.slice(0, 4)) serve(h, 100, 1) // 99%
    serve(hosts[4]!, 100, 40) // 60%: far below the others
    serve(hosts[5]!, 99, 99) // all failed, but below requestVolume (100): not judged
    // mean of the five judged = 0.912, population stdev = 0.156: threshold = 0.912 - 1.9 × 0.156 = 0.616
    expect(d.reviewRates(hosts, 1_000)).toEqual([4])
    expect(hosts[4]!.ejectedUntil).toBe(31_000) // baseEjectionTime (30 s), first ejection
    expect(hosts[0]!.requests).toBe(0) // counts start again each interval
    // Fewer than minimumHosts (5) with enough volume: the rule does not run.
    for (const h of hosts.slice(0, 3)) serve(h, 100, 0)
    serve(hosts[5]!, 100, 100)
    expect(d.reviewRates(hosts, 2_000)).toEqual([])
  })

  it('keeps success-rate ejections within maxEjectionPercent, worst first, and can be turned off', () => {
    const d = new OutlierDetector(outlierDetection({ consecutive5xx: 0, consecutiveGatewayFailure: 0, successRate: { minimumHosts: 3, requestVolume: 10, stdevFactor: 0.5 } }))
    const hosts = Array.from({ length: 8 }, () => newOutlierHost())
    hosts.forEach((h, i) => {
      for (let k = 0; k < 10; k++) d.record(h, k < (i >= 6 ? 3 + i - 6 : 0) ? 503 : 200, 0, none, 8)
    })
    expect(d.reviewRates(hosts, 0)).toEqual([7]) // 10% of 8 rounds down, but one may always go
    const off = new OutlierDetector(outlierDetection({ successRate: false }))
    const h2 = Array.from({ length: 5 }, () => newOutlierHost())
    h2.forEach((h, i) => {
      for (let k = 0; k < 200; k++) off.record(h, i === 0 ? 500 : 200, 0, none, 5)
    })
    expect(off.options.successRate).toBe(false)
    expect(h2[0]!.ejectedUntil).not.toBe(0) // the consecutive rule still works...
    h2[0]!.ejectedUntil = 0
    expect(off.reviewRates(h2, 0)).toEqual([]) // ...the success-rate one is off
  })

  it('rejects bad options', () => {
    expect(() => outlierDetection({ failurePercentage: { threshold: 101 } })).toThrow(/failurePercentage\.threshold/)
    expect(() => outlierDetection({ failurePercentage: { volume: 1 } as never })).toThrow(/unknown option outlierDetection\(\)\.failurePercentage\.volume /)
    expect(() => outlierDetection({ successRate: { minimumHosts: 0 } })).toThrow(/successRate\.minimumHosts/)
    expect(() => outlierDetection({ successRate: { stdev: 1 } as never })).toThrow(/unknown option outlierDetection\(\)\.successRate\.stdev /)
    expect(() => outlierDetection({ consecutive5xx: -1 })).toThrow(InvalidOptionError)
    expect(() => outlierDetection({ maxEjectionPercent: 101 })).toThrow(/maxEjectionPercent/)
    expect(() => outlierDetection({ baseEjection: 1 } as never)).toThrow(/did you mean outlierDetection\(\)\.baseEjectionTime/)
  })

  it('failure percentage: off by default; with it, hosts at or past the threshold go, within maxEjectionPercent, worst first', () => {
    expect(new OutlierDetector(outlierDetection()).options.failurePercentage).toBe(false)
    const d = new OutlierDetector(outlierDetection({ successRate: false, maxEjectionPercent: 50, failurePercentage: true }))
    expect(d.options.failurePercentage).toEqual({ threshold: 85, minimumHosts: 2, requestVolume: 50 })
    const host = (requests: number, successes: number) => ({ ...newOutlierHost(), requests, successes })
    // 4 hosts: 90% and 85% failures go (the worst first), 84% stays; 50% of 4 = 2 at most.
    const hosts = [host(100, 10), host(100, 90), host(100, 15), host(100, 16)]
    expect(d.reviewRates(hosts, 1_000)).toEqual([0, 2])
    expect(hosts[0]!.ejectedUntil).toBe(31_000)
    expect(hosts.every((h) => h.requests === 0)).toBe(true) // the next interval starts
    // Too few answers to judge, or too few hosts with enough: nobody goes.
    expect(d.reviewRates([host(49, 0), host(100, 100)], 0)).toEqual([])
    const three = [host(60, 0), host(60, 0), host(60, 0)]
    expect(d.reviewRates(three, 0)).toEqual([0]) // all fail: 50% of 3 rounds to 1
  })
})
