import type { ServerResponse } from 'node:http'
import { leastConnections, peakEwma, powerOfTwo, type Strategy } from '@switchyard/strategies'
import { describe, expect, it } from 'vitest'
import { fakeUpstream, get, serveBalancer } from '@switchyard/testing'

/** An upstream that holds every request until `releaseAll()`. */
async function held(name: string) {
  const waiting: ServerResponse[] = []
  const up = await fakeUpstream({ name, handler: (_req, res) => void waiting.push(res) })
  return Object.assign(up, {
    waiting,
    releaseAll() {
      for (const res of waiting.splice(0)) res.end(name)
    },
  })
}

const strategies: [string, () => Strategy][] = [
  ['leastConnections', () => leastConnections({ random: () => 0 })],
  ['powerOfTwo', () => powerOfTwo({ random: () => 0.3 })],
  ['peakEwma', () => peakEwma({ random: () => 0.3 })],
]

describe('cost hints (the cost option)', () => {
  for (const [name, strategy] of strategies) {
    it(`${name} balances the cost in flight, not the request count`, async () => {
      const a = await held('a')
      const b = await held('b')
      const { lb, url } = await serveBalancer({
        upstreams: [
          { id: 'a', url: a.url },
          { id: 'b', url: b.url },
        ],
        strategy: strategy(),
        cost: (req) => Number(req.headers['x-tokens'] ?? 1),
      })
      const heavy = get(url, { headers: { 'x-tokens': '100' } })
      await expect.poll(() => a.waiting.length + b.waiting.length).toBe(1)
      const heavyOn = a.waiting.length === 1 ? a : b
      const lightOn = heavyOn === a ? b : a
      const light = Array.from({ length: 6 }, () => get(url, { headers: { 'x-tokens': '2' } }))
      await expect.poll(() => lightOn.waiting.length).toBe(6) // 6 × 2 = 12 < 100: all to the other one
      expect(heavyOn.waiting.length).toBe(1)
      const loads = Object.fromEntries(lb.upstreams.map((u) => [u.id, [u.inFlight, u.load]]))
      expect(loads[heavyOn === a ? 'a' : 'b']).toEqual([1, 100])
      expect(loads[lightOn === a ? 'a' : 'b']).toEqual([6, 12])
      a.releaseAll()
      b.releaseAll()
      await Promise.all([heavy, ...light])
      await expect.poll(() => lb.upstreams.map((u) => u.load)).toEqual([0, 0])
    })
  }

  it('a hint that is not a finite number ≥ 0, or throws, counts as 1 and never fails the request', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const { lb, url } = await serveBalancer({
      upstreams: [a.url],
      strategy: leastConnections(),
      cost: (req) => {
        if (req.path === '/throw') throw new Error('bad hint')
        return Number.NaN
      },
    })
    expect((await get(`${url}/throw`)).status).toBe(200)
    expect((await get(`${url}/nan`)).status).toBe(200)
    expect(lb.upstreams[0]!.load).toBe(0)
  })
})
