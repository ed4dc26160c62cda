import { consistentHash, headerKey, leastConnections, maglev, peakEwma, powerOfTwo, random, roundRobin } from '@switchyard/strategies'
import { activeHealthCheck, outlierDetection } from '@switchyard/health'
import { drift, errorBurst, flapping } from './events.js'
import { bimodal, fixed, lognormal } from './latency.js'
import type { Scenario, StrategySpec } from './simulate.js'
import { oracleJsq } from './simulate.js'

/** The load-aware strategies, and plain round robin and the oracle as the two references. */
export function standardStrategies(): StrategySpec[] {
  return [
    { name: 'roundRobin', make: (d) => roundRobin({ random: d.random, now: d.now }) },
    { name: 'random', make: (d) => random({ random: d.random, now: d.now }) },
    { name: 'leastConnections', make: (d) => leastConnections({ random: d.random, now: d.now }) },
    { name: 'powerOfTwo', make: (d) => powerOfTwo({ random: d.random, now: d.now }) },
    { name: 'peakEwma', make: (d) => peakEwma({ random: d.random, now: d.now }) },
    oracleJsq(),
  ]
}

const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i))

/** The hash strategies, plain and with bounded loads (balanceFactor 1.25), keyed by `x-key`; round robin as the no-affinity reference. */
export function hashStrategies(): StrategySpec[] {
  const key = headerKey('x-key')
  return [
    { name: 'roundRobin (no affinity)', make: (d) => roundRobin({ random: d.random }) },
    { name: 'consistentHash', make: (d) => consistentHash({ key, random: d.random }) },
    { name: 'consistentHash balanceFactor 1.25', make: (d) => consistentHash({ key, balanceFactor: 1.25, random: d.random }) },
    { name: 'maglev', make: (d) => maglev({ key, random: d.random }) },
    { name: 'maglev balanceFactor 1.25', make: (d) => maglev({ key, balanceFactor: 1.25, random: d.random }) },
  ]
}

/**
 * Keys `k0`…`k{n-1}` drawn with Zipf(`s`) popularity: key i with probability ∝ 1 / (i + 1)^s.
 * With n = 1 000 and s = 1 the hottest key is 13% of all requests.
 */
export function zipfKeys(n: number, s: number): (random: () => number) => string {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** s
  const names = times(n, (i) => `k${i}`)
  return (random) => {
    const x = random() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid]! < x) lo = mid + 1
      else hi = mid
    }
    return names[lo]!
  }
}

/**
 * The standard scenarios of `pnpm sim`. Loads are stated as a share of the fleet's capacity
 * (concurrency / median latency per upstream): 70% is busy but stable.
 */
export function standardScenarios(scale = 1): Scenario[] {
  const d = (ms: number) => Math.round(ms * scale)
  return [
    {
      // 10 upstreams × 8 workers at ~10 ms: capacity ≈ 8 000 req/s; 70% load.
      name: 'even fleet: 10 upstreams, lognormal 10 ms, 8 workers each, 70% load',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 5_600,
      durationMs: d(20_000),
    },
    {
      name: 'one slow upstream: 1 of 10 is 10× slower, 50% load',
      upstreams: times(10, (i) => ({ latency: lognormal(i === 0 ? 100 : 10, 0.5), concurrency: 8 })),
      rate: 3_600,
      durationMs: d(20_000),
    },
    {
      name: 'bimodal service: 5% of requests take 200 ms, 60% load',
      upstreams: times(10, () => ({ latency: bimodal(5, 200, 0.05), concurrency: 8 })),
      rate: 3_300,
      durationMs: d(20_000),
    },
    {
      // The peakEwma bug of the architecture issue: a slow upstream that recovers.
      name: 'slow, then recovered: 1 of 4 at 40 ms until 10 s, then 2 ms like the rest; 400 req/s',
      upstreams: times(4, () => ({ latency: fixed(2) })),
      rate: 400,
      durationMs: d(130_000),
      warmupMs: d(1_000), // record the slow phase too
      events: [
        { at: 0, upstream: 3, slowFactor: 20 },
        { at: d(10_000), upstream: 3, slowFactor: 1 },
      ],
      recovery: { upstream: 3, at: d(10_000) },
    },
    {
      // The herd: many clients, each with its own view, on a small fleet.
      name: 'herd: 50 balancer instances, 10 upstreams, 70% load',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 5_600,
      durationMs: d(20_000),
      instances: 50,
    },
    {
      name: 'crash: 1 of 10 refuses connections from 5 s to 15 s (passive health on)',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 4_000,
      durationMs: d(20_000),
      events: [
        { at: d(5_000), upstream: 0, crashed: true },
        { at: d(15_000), upstream: 0, crashed: false },
      ],
    },
    {
      name: 'drift: 1 of 10 slows steadily from 1× to 10× between 2 s and 12 s, 50% load',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 3_600,
      durationMs: d(20_000),
      events: drift(0, { at: d(2_000), overMs: d(10_000), from: 1, to: 10 }),
    },
    {
      name: 'flapping: 1 of 10 refuses connections 0.5 s of every 2 s, from 2 s to 18 s (passive health on)',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 4_000,
      durationMs: d(20_000),
      events: flapping(0, { at: d(2_000), until: d(18_000), downMs: d(500), upMs: d(1_500) }),
    },
    {
      // A bad deploy: 500s are answers, not failures to connect, so no retry hides them; only
      // ejection does: outlier detection ejects on the 5th 500 in a row.
      name: 'error burst: 1 of 10 answers 500 to every request from 5 s to 15 s (outlier detection, 5 consecutive 5xx)',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 4_000,
      durationMs: d(20_000),
      events: errorBurst(0, { at: d(5_000), forMs: d(10_000), errorRate: 1 }),
      balancer: { health: outlierDetection({ consecutive5xx: 5 }) },
    },
    {
      name: 'active checks: 1 of 10 answers 500 from 5 s to 15 s; probes every 1 s, 2 fails to eject, passive off',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 4_000,
      durationMs: d(20_000),
      events: errorBurst(0, { at: d(5_000), forMs: d(10_000), errorRate: 1 }),
      balancer: {
        passive: { maxFails: 0 },
        health: activeHealthCheck({ path: '/healthz', interval: Math.max(100, d(1_000)), unhealthyThreshold: 2, healthyThreshold: 2 }),
      },
    },
    {
      // A restart: down, then back with a cold cache (5× slow, warming to 1× over 10 s).
      // slowStart ramps its share up over those 10 s instead of giving it a full share at once.
      name: 'cold restart: 1 of 10 down 2–6 s, back 5× slow warming to 1× by 16 s; slowStart 10 s, 60% load',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 4_300,
      durationMs: d(20_000),
      events: [
        { at: d(2_000), upstream: 0, crashed: true },
        { at: d(6_000), upstream: 0, crashed: false },
        ...drift(0, { at: d(6_000), overMs: d(10_000), from: 5, to: 1 }),
      ],
      balancer: { slowStart: d(10_000) },
    },
    // A fleet in two tiers loses 3 of its 5 first-tier upstreams: nginx's backup tier waits for the
    // last one to fail (and panic mode balances over the dead ones), Envoy's priority levels spill
    // the share the first tier's health no longer covers (1 - 2/5 × 1.4 = 44%) to the second.
    ...(['backup', 'priority'] as const).map((mode) => ({
      name: `${mode === 'backup' ? 'backup tier' : 'priority levels'}: 5 + 5 upstreams (${mode === 'backup' ? 'the second five backup: true' : 'the second five priority: 1'}), 3 of the first 5 refuse connections from 5 s to 15 s, 60% of the first five's capacity`,
      upstreams: times(10, (i) => ({ latency: lognormal(10, 0.5), concurrency: 8, ...(i < 5 ? {} : mode === 'backup' ? { backup: true } : { priority: 1 }) })),
      rate: 2_400,
      durationMs: d(20_000),
      events: [0, 1, 2].flatMap((u) => [
        { at: d(5_000), upstream: u, crashed: true },
        { at: d(15_000), upstream: u, crashed: false },
      ]),
    })),
    // An upstream loses half its capacity (8 workers to 4) at 5 s while traffic stays: whatever
    // keeps sending it its share builds a queue there that never drains; an adaptive limit
    // (Envoy's adaptive concurrency, Netflix Gradient2) sees its latency rise and sends it less.
    ...([false, true] as const).map((adaptive) => ({
      name: `capacity halves${adaptive ? ', adaptiveConcurrency on' : ''}: 1 of 4 upstreams drops from 8 workers to 4 at 5 s; 70% of the first capacity`,
      upstreams: times(4, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 2_240,
      durationMs: d(20_000),
      events: [{ at: d(5_000), upstream: 0, concurrency: 4 }],
      ...(adaptive ? { balancer: { adaptiveConcurrency: true } } : {}),
    })),
    {
      // Cache affinity under skew: the hottest key alone is 13% of the traffic, more than one
      // upstream's 10% share, so plain hashing overloads its owner; bounded loads spill it over.
      name: 'hot key: 10 upstreams, 1 000 keys with Zipf(1) popularity (the hottest is 13% of requests), 60% load',
      upstreams: times(10, () => ({ latency: lognormal(10, 0.5), concurrency: 8 })),
      rate: 4_800,
      durationMs: d(20_000),
      keys: zipfKeys(1_000, 1),
      strategies: hashStrategies,
    },
  ]
}

/** A million requests over 1 000 upstreams: the simulator's own speed. */
export function scaleScenario(requests = 1_000_000): Scenario {
  const rate = 50_000
  return {
    name: `scale: ${requests.toLocaleString('en')} requests over 1 000 upstreams`,
    upstreams: times(1_000, () => ({ latency: lognormal(10, 0.5), concurrency: 1_000 })),
    rate,
    durationMs: Math.round((requests / rate) * 1000),
  }
}
