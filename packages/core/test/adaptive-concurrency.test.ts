import { describe, expect, it } from 'vitest'
import { createBalancer } from '@switchyard/core'
import { fakeUpstream, serveBalancer } from '@switchyard/testing'
import { normalizeAdaptive } from '../src/config/adaptive.js'
import { AdaptiveLimit, UPDATE_INTERVAL } from '../src/fleet/adaptive-concurrency.js'

/** Feeds `n` answers of `ms` each, 10 per 100 ms window; returns the limit after. */
function feed(l: AdaptiveLimit, t: { now: number }, n: number, ms: number): number {
  let limit = l.limit
  for (let i = 0; i < n; i++) {
    limit = l.sample(ms, t.now)
    if (i % 10 === 9) t.now += UPDATE_INTERVAL
  }
  return limit
}

describe('adaptive concurrency (Envoy gradient controller)', () => {
  const options = normalizeAdaptive(true)!

  it('measures the minimum latency first, pinned at minConcurrency, then grows while answers stay near it', () => {
    const t = { now: 0 }
    const l = new AdaptiveLimit(options, () => 0)
    expect(l.limit).toBe(3)
    expect(feed(l, t, 49, 10)).toBe(3) // 49 of the 50 measuring requests
    feed(l, t, 1, 10)
    expect(l.minRtt).toBe(10)
    expect(feed(l, t, 100, 11)).toBeGreaterThan(30) // within the 25% buffer: the gradient is above 1, 10 windows
  })

  it('shrinks when answers slow down past the buffer (its own queue), grows back when they do not', () => {
    const t = { now: 0 }
    const l = new AdaptiveLimit(options, () => 0)
    feed(l, t, 50, 10)
    const grown = feed(l, t, 60, 12)
    const slowed = feed(l, t, 40, 50) // 5× the minimum: the gradient is at its floor, 0.5
    expect(slowed).toBeLessThanOrEqual(grown / 2)
    expect(slowed).toBeGreaterThanOrEqual(options.minConcurrency)
    expect(feed(l, t, 60, 11)).toBeGreaterThan(slowed * 2)
  })

  it('measures again after minRttInterval (plus jitter): the limit is pinned while it does, then restored', () => {
    const t = { now: 0 }
    const l = new AdaptiveLimit({ ...options, minRttInterval: 1_000 }, () => 0.5) // jitter: +7.5%
    feed(l, t, 50, 10)
    feed(l, t, 100, 11) // 1 s of windows
    expect(l.limit).toBeGreaterThan(3)
    const before = feed(l, t, 20, 11)
    expect(before).toBe(3) // past 1 075 ms: measuring
    feed(l, t, 50, 20) // the new minimum is 20 ms
    expect(l.minRtt).toBe(20)
    expect(l.limit).toBeGreaterThan(3)
  })

  it('refuses bad options with typed errors', () => {
    const up = 'http://127.0.0.1:1'
    expect(() => createBalancer({ upstreams: [up], adaptiveConcurrency: { minConcurrency: 0 } })).toThrow(/adaptiveConcurrency\.minConcurrency/)
    expect(() => createBalancer({ upstreams: [up], adaptiveConcurrency: { maxLimit: 2 } })).toThrow(/adaptiveConcurrency\.maxLimit/)
    expect(() => createBalancer({ upstreams: [up], adaptiveConcurrency: { window: 1 } as never })).toThrow(/unknown option/)
    expect(createBalancer({ upstreams: [up] }).upstreams[0]!.limit).toBe(Number.POSITIVE_INFINITY)
    expect(createBalancer({ upstreams: [{ url: up, maxConnections: 2 }], adaptiveConcurrency: true }).upstreams[0]!.limit).toBe(2)
  })

  it('on real sockets: an upstream that serves one request at a time gets a small limit, a fast one keeps its room; the excess is shed', async () => {
    // One request at a time, 20 ms each: its latency grows with what it is sent.
    let chain = Promise.resolve()
    const serial = await fakeUpstream({
      name: 'serial',
      handler: (_req, res) => {
        chain = chain.then(() => new Promise<void>((done) => setTimeout(() => {
          res.end(JSON.stringify({ name: 'serial' }))
          done()
        }, 20)))
      },
    })
    const { lb, url } = await serveBalancer({ upstreams: [serial.url], adaptiveConcurrency: true, queue: { size: 0, timeout: 1_000 }, retry: false })
    const statuses: number[] = []
    const end = performance.now() + 2_000
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (performance.now() < end) {
          const res = await fetch(url)
          await res.arrayBuffer()
          statuses.push(res.status)
        }
      }),
    )
    // 12 callers, but it serves one at a time: its limit stays well under them (it moves between
    // about 3 and 8 as windows come and go), where without the option there is none.
    expect(lb.upstreams[0]!.limit).toBeLessThan(12)
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0) // shed, not piled on
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(20)
  })
})
