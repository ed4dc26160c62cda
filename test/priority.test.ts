import { createBalancer } from '@switchyard/core'
import { seededRandom } from '@switchyard/strategies'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { deadPort, fakeUpstream, serveBalancer } from '@switchyard/testing'
import { OVERPROVISIONING, priorityLoads } from '../packages/core/src/fleet/priority.js'

const agent = new Agent({ connections: 16 })
afterAll(() => agent.close())

describe('priority levels (Envoy priorities)', () => {
  it("share traffic by health × 1.4: the next level takes what the first level's health does not cover", () => {
    expect(OVERPROVISIONING).toBe(1.4)
    expect(priorityLoads([5, 5], [5, 5])).toEqual([100, 0])
    expect(priorityLoads([4, 5], [5, 5])).toEqual([100, 0]) // 4/5 × 1.4 = 112%: still all
    expect(priorityLoads([3, 5], [5, 5]).map((x) => Math.round(x * 10) / 10)).toEqual([84, 16])
    expect(priorityLoads([2, 2, 5], [5, 5, 5]).map((x) => Math.round(x * 10) / 10)).toEqual([56, 44, 0])
    // Not enough health in all (28% + 28%): scaled up in proportion, so all traffic goes somewhere.
    expect(priorityLoads([1, 1], [5, 5])).toEqual([50, 50])
    expect(priorityLoads([0, 0], [5, 5])).toEqual([0, 0])
  })

  it('on real sockets: 2 of 5 first-level upstreams fail, about 16% of the traffic spills to the second level', async () => {
    const names = ['a', 'b', 'c']
    const live = await Promise.all(names.map((name) => fakeUpstream({ name })))
    const spare = await Promise.all(['x', 'y'].map((name) => fakeUpstream({ name })))
    const dead = [`http://127.0.0.1:${await deadPort()}`, `http://127.0.0.1:${await deadPort()}`]
    const { lb, url } = await serveBalancer({
      upstreams: [...live.map((u) => u.url), ...dead, ...spare.map((u) => ({ url: u.url, priority: 1 }))],
      random: seededRandom(26),
      passive: { maxFails: 1, failTimeout: 600_000 },
    })
    const served: string[] = []
    for (let i = 0; i < 400; i++) {
      const res = await request(url, { dispatcher: agent })
      expect(res.statusCode).toBe(200) // the two dead ones are retried elsewhere, then out
      served.push(((await res.body.json()) as { name: string }).name)
    }
    expect(lb.upstreams.filter((u) => u.state === 'down').map((u) => u.id)).toEqual(dead)
    const second = served.slice(50).filter((n) => n === 'x' || n === 'y').length / 350
    expect(second).toBeGreaterThan(0.1) // Envoy: 1 - 3/5 × 1.4 = 16%
    expect(second).toBeLessThan(0.23)
    expect(lb.upstreams.map((u) => u.priority)).toEqual([0, 0, 0, 0, 0, 1, 1])
  })

  it('a healthy first level takes everything; backups still wait for every level', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const x = await fakeUpstream({ name: 'x' })
    const z = await fakeUpstream({ name: 'z' })
    const { lb, url } = await serveBalancer({ upstreams: [a.url, { url: x.url, priority: 1 }, { url: z.url, backup: true }] })
    for (let i = 0; i < 5; i++) expect(((await (await request(url, { dispatcher: agent })).body.json()) as { name: string }).name).toBe('a')
    lb.update(a.url, { down: true }) // out of rotation: level 0 is empty, level 1 takes all
    for (let i = 0; i < 5; i++) expect(((await (await request(url, { dispatcher: agent })).body.json()) as { name: string }).name).toBe('x')
    lb.update(x.url, { down: true })
    for (let i = 0; i < 3; i++) expect(((await (await request(url, { dispatcher: agent })).body.json()) as { name: string }).name).toBe('z')
  })

  it('refuses a priority that is not a whole number ≥ 0', () => {
    expect(() => createBalancer({ upstreams: [{ url: 'http://127.0.0.1:1', priority: -1 }] })).toThrow(/priority must be an integer >= 0/)
    expect(() => createBalancer({ upstreams: [{ url: 'http://127.0.0.1:1', priority: 1.5 }] })).toThrow(/priority/)
  })
})
