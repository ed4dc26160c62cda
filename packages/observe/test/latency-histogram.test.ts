import { AggregatorRegistry, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { LatencyHistogram } from '../src/latency-histogram.js'

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** The same observations in prom-client's Histogram and in a LatencyHistogram, each in its own registry. */
function both(observations: readonly (readonly [string, number])[], buckets = BUCKETS) {
  const theirs = new Registry()
  const hist = new Histogram({ name: 'x_latency_seconds', help: 'Latency.', labelNames: ['upstream'], buckets, registers: [theirs] })
  const ours = new Registry()
  const mine = new LatencyHistogram('x_latency_seconds', 'Latency.', buckets)
  ours.registerMetric(mine as never)
  for (const [upstream, seconds] of observations) {
    hist.observe({ upstream }, seconds)
    mine.observe(upstream, seconds)
  }
  return { theirs, ours, hist, mine }
}

/** Random latencies over every bucket, past the last bound, and on the bounds themselves. */
function observations(n: number, seed: number): [string, number][] {
  let x = seed
  const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32)
  return Array.from({ length: n }, () => {
    const r = next()
    const seconds = r < 0.1 ? BUCKETS[Math.floor(next() * BUCKETS.length)]! : r < 0.15 ? 10 + next() * 50 : next() ** 3 * 3
    return [['a', 'b', 'c'][Math.floor(next() * 3)]!, seconds] as [string, number]
  })
}

describe('LatencyHistogram', () => {
  it('exposes what prom-client’s Histogram exposes for the same observations', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { theirs, ours } = both(observations(200 + seed * 7, seed))
      expect(await ours.metrics()).toBe(await theirs.metrics())
    }
    const { theirs, ours } = both(observations(50, 99), [0.1, 1])
    expect(await ours.metrics()).toBe(await theirs.metrics())
  })

  it('adds up across cluster workers as prom-client’s does', async () => {
    const workers = [observations(300, 7), observations(120, 8), observations(1, 9)].map((o) => both(o))
    const theirs = AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w.theirs.getMetricsAsJSON())))
    const ours = AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w.ours.getMetricsAsJSON())))
    expect(await ours.metrics()).toBe(await theirs.metrics())
  })

  it('drops an upstream’s series, and all of them on reset', async () => {
    const { theirs, ours, hist, mine } = both(observations(100, 3))
    hist.remove({ upstream: 'b' })
    mine.remove('b')
    expect(await ours.metrics()).toBe(await theirs.metrics())
    expect(await ours.metrics()).not.toMatch(/upstream="b"/)
    ours.resetMetrics()
    theirs.resetMetrics()
    expect(await ours.metrics()).toBe(await theirs.metrics())
  })

  it('refuses buckets that are not increasing finite numbers', () => {
    expect(() => new LatencyHistogram('x', 'x', [])).toThrow(TypeError)
    expect(() => new LatencyHistogram('x', 'x', [1, 1])).toThrow(TypeError)
    expect(() => new LatencyHistogram('x', 'x', [0.1, Number.POSITIVE_INFINITY])).toThrow(TypeError)
  })
})
