import { type Candidate, leastConnections, peakEwma, powerOfTwo, random, roundRobin, type Strategy } from '@switchyard/strategies'
import {
  drift,
  errorBurst,
  fixed,
  flapping,
  lognormal,
  oracleJsq,
  type Scenario,
  type SimReport,
  seededRandom,
  simulate,
  type StrategySpec,
} from '@switchyard/sim'
import { activeHealthCheck, outlierDetection } from '@switchyard/health'
import { describe, expect, it } from 'vitest'

const spec = (name: string, make: StrategySpec['make']): StrategySpec => ({ name, make })
const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i))

describe('the simulator', () => {
  const even: Scenario = {
    name: 'even',
    upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
    rate: 5_600,
    durationMs: 3_000,
  }

  it('is deterministic for a seed, and a different seed gives a different run', async () => {
    const p2c = spec('p2c', (d) => powerOfTwo({ random: d.random, now: d.now }))
    const strip = ({ wallMs: _w, ...r }: SimReport) => r
    const a = strip(await simulate({ ...even, seed: 7 }, p2c))
    expect(strip(await simulate({ ...even, seed: 7 }, p2c))).toEqual(a)
    expect(strip(await simulate({ ...even, seed: 8 }, p2c))).not.toEqual(a)
    expect(a.requests).toBeGreaterThan(14_000) // 5 600/s for 2.7 s after warm-up
    expect(a.errors).toBe(0)
  })

  it('runs the real balancer: a crashed upstream is taken out by passive health and retried around', async () => {
    const report = await simulate(
      {
        ...even,
        events: [{ at: 500, upstream: 0, crashed: true }],
      },
      spec('rr', (d) => roundRobin({ random: d.random })),
    )
    expect(report.ejections).toBe(1) // max_fails 1: down on its first refusal, for failTimeout
    expect(report.errors).toBe(0) // each refused attempt went to another upstream
  })

  it('the oracle (join the shortest queue) spreads load better than round robin, and the load-aware ones sit between', async () => {
    const runs = Object.fromEntries(
      await Promise.all(
      [
        spec('roundRobin', (d) => roundRobin({ random: d.random })),
        spec('leastConnections', (d) => leastConnections({ random: d.random })),
        oracleJsq(),
      ].map(async (s) => [s.name, await simulate(even, s)] as const),
      ),
    )
    expect(runs['oracle-jsq']!.imbalance).toBeLessThan(runs.roundRobin!.imbalance)
    expect(runs.leastConnections!.imbalance).toBeLessThan(runs.roundRobin!.imbalance)
    expect(runs['oracle-jsq']!.p99Ms).toBeLessThanOrEqual(runs.roundRobin!.p99Ms)
  })

  it('one upstream 10× slower: peakEwma keeps p99 near the fast ones’ (Finagle, Linkerd), round robin does not', async () => {
    const slow: Scenario = {
      name: 'slow',
      upstreams: times(10, (i) => ({ latency: lognormal(i === 0 ? 100 : 10, 0.5), concurrency: 8 })),
      rate: 3_600,
      durationMs: 5_000,
    }
    const rr = await simulate(slow, spec('rr', (d) => roundRobin({ random: d.random })))
    const ewma = await simulate(slow, spec('ewma', (d) => peakEwma({ random: d.random, now: d.now })))
    expect(ewma.p99Ms).toBeLessThan(rr.p99Ms / 10)
    expect(ewma.p99Ms).toBeLessThan(60) // the fast ones' own p99 is about 32 ms
  })

  it('measures how long a recovered upstream takes to win its share back (peakEwma, decayMs 1 s)', async () => {
    const scenario: Scenario = {
      name: 'recovery',
      upstreams: times(4, () => ({ latency: fixed(2) })),
      rate: 400,
      durationMs: 20_000,
      events: [
        { at: 0, upstream: 3, slowFactor: 20 },
        { at: 5_000, upstream: 3, slowFactor: 1 },
      ],
      recovery: { upstream: 3, at: 5_000 },
    }
    const report = await simulate(scenario, spec('ewma', (d) => peakEwma({ random: d.random, now: d.now, decayMs: 1_000 })))
    expect(report.recoveryMs).toBeDefined()
    expect(report.recoveryMs!).toBeLessThan(8_000) // ln 20 ≈ 3 decay times for a 20× peak, then a whole 1 s window at its share (6.3 s seen)
    const rr = await simulate(scenario, spec('rr', (d) => roundRobin({ random: d.random })))
    expect(rr.recoveryMs).toBe(1_000) // round robin never stopped sending: the first 1 s window already counts
  })

  it('herd: 50 balancer instances, each with its own view; leastConnections no longer moves in lock step', async () => {
    const herd: Scenario = { ...even, instances: 50, durationMs: 4_000 }
    const rr = await simulate(herd, spec('rr', (d) => roundRobin({ random: d.random })))
    const lc = await simulate(herd, spec('lc', (d) => leastConnections({ random: d.random })))
    // In lock step (every instance breaking ties in the same order) its mean was 3× round robin's.
    expect(lc.meanMs).toBeLessThan(rr.meanMs * 1.2)
  })

  it('drift: a steadily slowing upstream loses traffic to the load-aware strategies, not to round robin', async () => {
    const drifting: Scenario = {
      name: 'drift',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 3_600,
      durationMs: 6_000,
      events: drift(0, { at: 500, overMs: 3_000, from: 1, to: 10 }),
    }
    expect(drift(0, { at: 0, overMs: 1_000, from: 1, to: 3, steps: 2 })).toEqual([
      { at: 0, upstream: 0, slowFactor: 1 },
      { at: 500, upstream: 0, slowFactor: 2 },
      { at: 1_000, upstream: 0, slowFactor: 3 },
    ])
    const rr = await simulate(drifting, spec('rr', (d) => roundRobin({ random: d.random })))
    const ewma = await simulate(drifting, spec('ewma', (d) => peakEwma({ random: d.random, now: d.now })))
    expect(ewma.p99Ms).toBeLessThan(rr.p99Ms / 5)
  })

  it('flapping: an upstream in a crash loop is taken out each time (passive health), and retries hide every refusal', async () => {
    const events = flapping(0, { at: 1_000, until: 5_000, downMs: 500, upMs: 1_500 })
    expect(events.filter((e) => e.crashed === true).map((e) => e.at)).toEqual([1_000, 3_000])
    const report = await simulate(
      {
        name: 'flapping',
        upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
        rate: 4_000,
        durationMs: 6_000,
        events,
        balancer: { passive: { maxFails: 1, failTimeout: 400 } },
      },
      spec('rr', (d) => roundRobin({ random: d.random })),
    )
    // Down on a refusal, up after failTimeout, down again while the crash lasts: several per crash.
    expect(report.ejections).toBeGreaterThanOrEqual(2)
    expect(report.errors).toBe(0)
  })

  it('an error burst is cut short by outlier ejection, on the virtual clock', async () => {
    const burst: Scenario = {
      name: 'burst',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 4_000,
      durationMs: 8_000,
      events: errorBurst(0, { at: 1_000, forMs: 6_000, errorRate: 1 }),
    }
    const rr = spec('rr', (d) => roundRobin({ random: d.random }))
    const without = await simulate(burst, rr)
    const ejected = await simulate({ ...burst, balancer: { health: outlierDetection({ consecutive5xx: 5 }) } }, rr)
    expect(without.errors).toBeGreaterThan(2_000) // a tenth of 4 000/s for 6 s
    expect(ejected.ejections).toBeGreaterThanOrEqual(1)
    expect(ejected.errors).toBeLessThan(without.errors / 2)
  })

  it('active checks run in the simulation: probes on the virtual clock eject an upstream that answers 500', async () => {
    const burst: Scenario = {
      name: 'active',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 4_000,
      durationMs: 8_000,
      events: errorBurst(0, { at: 1_000, forMs: 6_000, errorRate: 1 }),
      balancer: {
        passive: { maxFails: 0 },
        health: activeHealthCheck({ path: '/healthz', interval: 500, unhealthyThreshold: 2, healthyThreshold: 1 }),
      },
    }
    const report = await simulate(burst, spec('rr', (d) => roundRobin({ random: d.random })))
    expect(report.ejections).toBe(1)
    // Served 500s only until 2 failed probes: about a second at a tenth of 4 000/s, not six.
    expect(report.errors).toBeGreaterThan(50)
    expect(report.errors).toBeLessThan(800)
    const again = await simulate(burst, spec('rr', (d) => roundRobin({ random: d.random })))
    expect(again.errors).toBe(report.errors) // still deterministic with promises in the loop
  })

  it('a million-request scale run finishes (1 000 upstreams; here 100 000 requests)', async () => {
    const report = await simulate(
      { name: 'scale', upstreams: times(1_000, () => ({ latency: lognormal(10, 0.5), concurrency: 1_000 })), rate: 50_000, durationMs: 2_000 },
      spec('p2c', (d) => powerOfTwo({ random: d.random, now: d.now })),
    )
    expect(report.requests).toBeGreaterThan(85_000)
    expect(report.errors).toBe(0)
  })
})

/** Balls into bins with no departures: each pick adds one to the picked bin's load (inFlight). */
function maxLoad(make: (random: () => number) => Strategy, bins: number, seed: number): number {
  const rng = seededRandom(seed)
  const strategy = make(rng)
  const candidates = times(bins, (i) => ({ id: `b${i}`, url: '', index: i, weight: 1, backup: false, state: 'up' as const, inFlight: 0, maxConnections: Infinity, ewmaMs: 0 }))
  strategy.rebuild?.(candidates as Candidate[])
  const ctx = { key: undefined, attempt: 1, accept: () => true }
  let max = 0
  for (let k = 0; k < bins; k++) {
    const c = strategy.pick(candidates as Candidate[], ctx) as (typeof candidates)[number]
    c.inFlight++
    strategy.onStart?.(c as Candidate)
    if (c.inFlight > max) max = c.inFlight
  }
  return max
}

describe('checks against theory', () => {
  it('power of two choices: the max load grows like log log n (Mitzenmacher 2001), random’s like log n / log log n', async () => {
    const p2c = (r: () => number) => powerOfTwo({ random: r })
    const rand = (r: () => number) => random({ random: r })
    const at = (make: typeof p2c, n: number) => Math.max(...[1, 2, 3].map((s) => maxLoad(make, n, s)))
    // n balls into n bins: random ≈ ln n / ln ln n (≈ 4 at 100, ≈ 7 at 10 000); two choices ≈ ln ln n / ln 2 + 1 (≈ 3).
    expect(at(p2c, 100)).toBeLessThanOrEqual(3)
    expect(at(p2c, 10_000)).toBeLessThanOrEqual(4)
    expect(at(rand, 10_000)).toBeGreaterThanOrEqual(6)
    expect(at(p2c, 10_000) - at(p2c, 100)).toBeLessThanOrEqual(1) // a hundredfold more bins: at most one more
  })
})
