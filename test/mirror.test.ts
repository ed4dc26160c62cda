import { Readable } from 'node:stream'
import { createBalancer } from '@switchyard/core'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream, inOrder, serveBalancer } from '@switchyard/testing'

const agent = new Agent({ connections: 32 })

async function send(url: string, opts: { method?: string; body?: string | Readable; path?: string } = {}) {
  const res = await request(`${url}${opts.path ?? '/'}`, { dispatcher: agent, method: (opts.method ?? 'GET') as 'GET', body: opts.body })
  return { status: res.statusCode, json: (await res.body.json()) as { name: string } }
}

describe('mirror (nginx mirror, Envoy request mirroring)', () => {
  afterAll(() => agent.close())

  it('copies a GET with its path and headers; the client gets the upstream’s answer; the copy’s answer is dropped', async () => {
    const app = await fakeUpstream({ name: 'app' })
    const shadow = await fakeUpstream({ name: 'shadow', answer: { status: 500 } })
    const { lb, url } = await serveBalancer({ upstreams: [app.url], mirror: { to: shadow.url } })
    expect(await send(url, { path: '/items?id=7' })).toEqual({ status: 200, json: expect.objectContaining({ name: 'app' }) })
    await expect.poll(() => shadow.requests.length).toBe(1)
    const [copy] = shadow.requests
    expect(copy).toMatchObject({ method: 'GET', url: '/items?id=7' })
    expect(copy!.headers['x-forwarded-for']).toBe(app.requests[0]!.headers['x-forwarded-for'])
    await expect.poll(() => lb.stats().mirror).toEqual({ sent: 1, failed: 0, skipped: 0, inFlight: 0 }) // a 500 is an answer, not a failure
    expect(lb.stats().upstreams.map((u) => u.id)).toEqual([app.url]) // the mirror is no upstream
  })

  it('copies a streamed POST body whole, as it goes to the upstream, and a body held in memory (lb.fetch)', async () => {
    const app = await fakeUpstream({ name: 'app' })
    const shadow = await fakeUpstream({ name: 'shadow' })
    const { lb, url } = await serveBalancer({ upstreams: [app.url], mirror: { to: `${shadow.url}/shadow` } })
    const parts = ['{"order":', '42,', '"items":[1,2,3]}']
    expect((await send(url, { method: 'POST', path: '/orders', body: Readable.from(parts.map((p) => Buffer.from(p))) })).status).toBe(200)
    await expect.poll(() => shadow.requests.length).toBe(1)
    expect(app.requests[0]!.body.toString()).toBe(parts.join(''))
    expect(shadow.requests[0]).toMatchObject({ method: 'POST', url: '/shadow/orders' }) // under the mirror URL's path
    expect(shadow.requests[0]!.body.toString()).toBe(parts.join(''))
    const res = await lb.fetch(new Request('http://shop.test/cart', { method: 'PUT', body: 'one item' }))
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    await expect.poll(() => shadow.requests.length).toBe(2)
    expect(shadow.requests[1]!.body.toString()).toBe('one item')
  })

  it('never delays or fails the client: a hanging mirror and a dead one', async () => {
    const app = await fakeUpstream({ name: 'app' })
    const hanging = await fakeUpstream({ name: 'hanging', answer: 'hang' })
    const { lb, url } = await serveBalancer({ upstreams: [app.url], mirror: { to: hanging.url }, timeouts: { headers: 60_000 } })
    const t0 = performance.now()
    for (let i = 0; i < 3; i++) expect((await send(url)).status).toBe(200)
    expect(performance.now() - t0).toBeLessThan(1_000)
    expect(lb.stats().mirror).toMatchObject({ sent: 3, inFlight: 3 })
    // Port 1: never handed to a server a test starts. (A freed ephemeral port once was: lb2's own,
    // and a mirror pointing at its own balancer copies forever — one CI run counted 2 282 copies.)
    const dead = 'http://127.0.0.1:1'
    const { lb: lb2, url: url2 } = await serveBalancer({ upstreams: [app.url], mirror: { to: dead } })
    expect((await send(url2, { method: 'POST', body: 'x' })).status).toBe(200)
    await expect.poll(() => lb2.stats().mirror).toEqual({ sent: 1, failed: 1, skipped: 0, inFlight: 0 })
  })

  it('share and when choose what is copied; maxBody and maxConcurrent bound it', async () => {
    const app = await fakeUpstream({ name: 'app' })
    const shadow = await fakeUpstream({ name: 'shadow' })
    let draw = 0
    const draws = [0.1, 0.6, 0.3, 0.9] // with share 0.5: copied, not, copied, not
    const { lb, url } = await serveBalancer({
      upstreams: [app.url],
      random: () => draws[draw++ % draws.length]!,
      mirror: { to: shadow.url, share: 0.5, when: (req) => req.method !== 'DELETE', maxBody: 8 },
    })
    for (const path of ['/1', '/2', '/3', '/4']) await send(url, { path })
    await send(url, { method: 'DELETE', path: '/5' }) // drawn 0.1, but `when` says no
    await send(url, { method: 'POST', path: '/6', body: Readable.from([Buffer.from('0123456789')]) }) // drawn 0.6: not chosen
    await send(url, { method: 'POST', path: '/7', body: Readable.from([Buffer.from('0123'), Buffer.from('456789')]) }) // chosen, 10 bytes > maxBody
    await expect.poll(() => shadow.requests.map((r) => r.url)).toEqual(['/1', '/3'])
    expect(app.requests.at(-1)!.body.toString()).toBe('0123456789') // the upstream got it all
    expect(lb.stats().mirror).toMatchObject({ sent: 2, skipped: 1 })
    const hanging = await fakeUpstream({ name: 'hanging', answer: 'hang' })
    const { lb: bounded, url: boundedUrl } = await serveBalancer({ upstreams: [app.url], mirror: { to: hanging.url, maxConcurrent: 2 } })
    for (let i = 0; i < 5; i++) await send(boundedUrl)
    expect(bounded.stats().mirror).toMatchObject({ sent: 2, skipped: 3, inFlight: 2 })
  })

  it('a streamed POST retried after a refused connection reaches the next upstream whole, and is copied once', async () => {
    // Port 1: never handed to a test's server, so the connection is refused whatever runs beside.
    const dead = 'http://127.0.0.1:1'
    const app = await fakeUpstream({ name: 'app' })
    const shadow = await fakeUpstream({ name: 'shadow' })
    const { url } = await serveBalancer({ upstreams: [dead, app.url], strategy: inOrder(), mirror: { to: shadow.url } })
    expect((await send(url, { method: 'POST', body: Readable.from([Buffer.from('never lost')]) })).status).toBe(200)
    expect(app.requests.map((r) => r.body.toString())).toEqual(['never lost'])
    await expect.poll(() => shadow.requests.map((r) => r.body.toString())).toEqual(['never lost'])
  })

  it('to another balancer: its upstreams take the copies', async () => {
    const app = await fakeUpstream({ name: 'app' })
    const s1 = await fakeUpstream({ name: 's1' })
    const s2 = await fakeUpstream({ name: 's2' })
    const shadows = createBalancer({ upstreams: [s1.url, s2.url] })
    onTestFinished(() => shadows.close())
    const { url } = await serveBalancer({ upstreams: [app.url], mirror: { to: shadows } })
    for (let i = 0; i < 4; i++) await send(url, { path: `/${i}` })
    await expect.poll(() => s1.hits + s2.hits).toBe(4)
    expect(s1.hits).toBe(2)
  })

  it('refuses bad options with typed errors', () => {
    const up = 'http://127.0.0.1:1'
    expect(() => createBalancer({ upstreams: [up], mirror: { to: 'ftp://x' } })).toThrow(expect.objectContaining({ code: 'SWY_ERR_INVALID_OPTION', field: 'mirror.to' }))
    expect(() => createBalancer({ upstreams: [up], mirror: { to: [] } })).toThrow(/mirror\.to must be/)
    expect(() => createBalancer({ upstreams: [up], mirror: { to: up, share: 2 } })).toThrow(/mirror\.share/)
    expect(() => createBalancer({ upstreams: [up], mirror: { to: up, maxConcurrent: 0 } })).toThrow(/mirror\.maxConcurrent/)
    expect(() => createBalancer({ upstreams: [up], mirror: { to: up, copies: 1 } as never })).toThrow(/unknown option/)
  })
})
