import { describe, expect, it } from 'vitest'
import { mergeSamples } from '../src/fleet-status.js'
import type { StatusSample, UpstreamStatus } from '../src/status.js'

const upstream = (id: string, over: Partial<UpstreamStatus>): UpstreamStatus => ({
  id, url: id, state: 'up', reason: 'added', breaker: 'closed', weight: 1, backup: false, inFlight: 0, queued: 0, rate: 0, errorRate: 0, p50: 0, p99: 0, ...over,
})
const sample = (over: Partial<StatusSample>): StatusSample => ({ at: 1, strategy: 'round-robin', actions: false, requests: 0, errors: 0, active: 0, panic: false, rate: 0, upstreams: [], ...over })

describe('the status page with workers: one sample for the fleet', () => {
  it('adds counts and rates, shows the worse state and breaker, weights the error rate and p50 by traffic, and keeps the largest p99', () => {
    const merged = mergeSamples([
      { worker: 1, pid: 11, sample: sample({ at: 5, requests: 100, errors: 2, active: 3, rate: 10, upstreams: [upstream('a', { rate: 30, errorRate: 0.1, p50: 10, p99: 50, inFlight: 2 }), upstream('b', { rate: 5 })] }) },
      { worker: 2, pid: 22, sample: sample({ at: 7, requests: 50, errors: 1, active: 1, rate: 4, panic: true, upstreams: [upstream('a', { rate: 10, errorRate: 0.5, p50: 30, p99: 90, inFlight: 1, state: 'down', reason: 'max_fails', breaker: 'open' }), upstream('b', { rate: 0 })] }) },
    ])
    expect(merged).toMatchObject({ at: 7, requests: 150, errors: 3, active: 4, rate: 14, panic: true })
    const a = merged.upstreams.find((u) => u.id === 'a')!
    expect(a).toMatchObject({ state: 'down', reason: 'max_fails', breaker: 'open', inFlight: 3, rate: 40, p99: 90 })
    expect(a.errorRate).toBeCloseTo((30 * 0.1 + 10 * 0.5) / 40)
    expect(a.p50).toBeCloseTo((30 * 10 + 10 * 30) / 40)
    expect(merged.upstreams.find((u) => u.id === 'b')).toMatchObject({ state: 'up', rate: 5, errorRate: 0, p50: 0 })
    expect(merged.workers).toEqual([
      { worker: 1, pid: 11, requests: 100, errors: 2, active: 3, rate: 10 },
      { worker: 2, pid: 22, requests: 50, errors: 1, active: 1, rate: 4 },
    ])
  })
})
