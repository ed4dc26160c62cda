import { createBalancer } from '@switchyard/core'
import { seededRandom } from '@switchyard/strategies'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { deadPort, fakeUpstream, serveBalancer } from '@switchyard/testing'

const agent = new Agent({ connections: 8 })
afterAll(() => agent.close())
const nameOf = async (url: string) => ((await (await request(url, { dispatcher: agent })).body.json()) as { name: string }).name

describe('zone-aware routing (locality; Envoy zone-aware routing)', () => {
  it('keeps traffic in its own zone while the zone has its share of the up upstreams', async () => {
    const ups = await Promise.all(['a1', 'a2', 'a3', 'b1', 'b2', 'b3'].map((name) => fakeUpstream({ name })))
    const { url } = await serveBalancer({
      upstreams: ups.map((u, i) => ({ url: u.url, zone: i < 3 ? 'eu-1a' : 'eu-1b' })),
      locality: { zone: 'eu-1a' },
    })
    const names = new Set<string>()
    for (let i = 0; i < 30; i++) names.add(await nameOf(url))
    expect(names).toEqual(new Set(['a1', 'a2', 'a3']))
  })

  it('spills in proportion when its zone has fewer up: 1 of 3 up against 3 of 3 elsewhere sends half away', async () => {
    const live = await Promise.all(['a1', 'b1', 'b2', 'b3'].map((name) => fakeUpstream({ name })))
    const dead = [`http://127.0.0.1:${await deadPort()}`, `http://127.0.0.1:${await deadPort()}`]
    const { lb, url } = await serveBalancer({
      upstreams: [
        { url: live[0]!.url, zone: 'a' },
        ...dead.map((u) => ({ url: u, zone: 'a' })),
        ...live.slice(1).map((u) => ({ url: u.url, zone: 'b' })),
      ],
      locality: { zone: 'a' },
      random: seededRandom(7),
      passive: { maxFails: 1, failTimeout: 600_000 },
    })
    const names: string[] = []
    for (let i = 0; i < 300; i++) names.push(await nameOf(url))
    expect(lb.upstreams.filter((u) => u.state === 'down').length).toBe(2)
    const local = names.slice(20).filter((n) => n === 'a1').length / 280
    expect(local).toBeGreaterThan(0.4) // expected share 3/6, actual 1/4: half of the traffic stays local
    expect(local).toBeLessThan(0.6)
  })

  it('is off below minUpstreams, without a zone of its own among them, and refuses bad zones', async () => {
    const ups = await Promise.all(['a1', 'b1'].map((name) => fakeUpstream({ name })))
    const { url } = await serveBalancer({ upstreams: [{ url: ups[0]!.url, zone: 'a' }, { url: ups[1]!.url, zone: 'b' }], locality: { zone: 'a' } })
    const names = new Set<string>()
    for (let i = 0; i < 6; i++) names.add(await nameOf(url))
    expect(names).toEqual(new Set(['a1', 'b1'])) // 2 < 6: no zone-aware routing
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], locality: { zone: '' } })).toThrow(/locality\.zone must be a non-empty string/)
    expect(() => createBalancer({ upstreams: [{ url: 'http://127.0.0.1:1', zone: 3 as never }] })).toThrow(/upstreams\[0\]\.zone/)
    expect(createBalancer({ upstreams: [{ url: 'http://127.0.0.1:1', zone: 'a' }] }).upstreams[0]!.zone).toBe('a')
  })
})
