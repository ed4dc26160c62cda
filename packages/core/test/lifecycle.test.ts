import { once } from 'node:events'
import { createBalancer, DuplicateUpstreamError, UnknownUpstreamError } from '@switchyard/core'
import { Agent, request } from 'undici'
import { describe, expect, it } from 'vitest'
import { fakeUpstream, get, inOrder, loopbackServer, serveBalancer } from '@switchyard/testing'

const names = async (url: string, n: number) => {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(((await get(url)).json() as { name: string }).name)
  return out
}

describe('add, remove, drain', () => {
  it('adds an upstream that takes traffic at once, and rejects a duplicate', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const { lb, url } = await serveBalancer({ upstreams: [a.url], strategy: inOrder() })
    const up = once(lb, 'upstream:up')
    const snap = lb.add({ url: b.url, id: 'b' })
    expect(snap).toMatchObject({ id: 'b', state: 'up', weight: 1 })
    expect((await up)[0]).toEqual({ id: 'b', reason: 'added' })
    expect(new Set(await names(url, 4))).toEqual(new Set(['a', 'b']))
    expect(() => lb.add({ url: b.url, id: 'b' })).toThrow(DuplicateUpstreamError)
    expect(() => lb.add({ url: 'nope' })).toThrow(/upstream\.url is not a valid URL/)
    // Removed, its id is free again and no longer found; added back, it is found and takes traffic.
    await lb.remove('b')
    expect(() => lb.update('b', { weight: 2 })).toThrow(expect.objectContaining({ code: 'SWY_ERR_UNKNOWN_UPSTREAM' }))
    expect(lb.add({ url: b.url, id: 'b' })).toMatchObject({ id: 'b', state: 'up' })
    expect(lb.update('b', { weight: 2 })).toMatchObject({ id: 'b', weight: 2 })
    expect(new Set(await names(url, 4))).toEqual(new Set(['a', 'b']))
  })

  it('removes an upstream with drain: in-flight requests finish, new ones go elsewhere', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const slow = await fakeUpstream({
      name: 'slow',
      handler: (_req, res) => void gate.then(() => res.end('{"name":"slow"}')),
    })
    const fast = await fakeUpstream({ name: 'fast' })
    const { lb, url } = await serveBalancer({ upstreams: [slow.url, fast.url], strategy: inOrder() })
    const inFlight = get(url)
    await expect.poll(() => slow.hits).toBe(1)
    let removed = false
    const removing = lb.remove(slow.url, { drain: true }).then(() => (removed = true))
    expect(lb.upstreams.map((u) => u.id)).toEqual([fast.url])
    expect(await names(url, 3)).toEqual(['fast', 'fast', 'fast'])
    expect(removed).toBe(false)
    release()
    expect((await inFlight).status).toBe(200)
    await removing
    expect(removed).toBe(true)
    await expect(lb.remove('nope')).rejects.toBeInstanceOf(UnknownUpstreamError)
  })

  it('removes an upstream without drain: its in-flight requests are cut', async () => {
    const hang = await fakeUpstream({ answer: 'hang' })
    const { lb, url } = await serveBalancer({ upstreams: [hang.url], retry: false })
    const pending = get(url).catch((err: Error) => err)
    await expect.poll(() => hang.hits).toBe(1)
    await lb.remove(hang.url, { drain: false })
    const result = await pending
    expect(result instanceof Error ? 502 : result.status).toBe(502)
  })
})

describe('maxConnections and the queue', () => {
  async function gated(name: string) {
    let open!: () => void
    const gate = new Promise<void>((r) => (open = r))
    const up = await fakeUpstream({ name, handler: (_req, res) => void gate.then(() => res.end(`{"name":"${name}"}`)) })
    return { up, open }
  }

  it('caps in-flight requests; over the cap they wait, then run', async () => {
    const { up, open } = await gated('a')
    const { lb, url } = await serveBalancer({ upstreams: [{ url: up.url, maxConnections: 2 }] })
    const pending = Array.from({ length: 5 }, () => get(url))
    await expect.poll(() => up.hits).toBe(2)
    await expect.poll(() => lb.stats().queued).toBe(3)
    expect(lb.upstreams[0]!.inFlight).toBe(2)
    open()
    const results = await Promise.all(pending)
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    expect(up.hits).toBe(5)
  })

  it('answers 503 when the queue is full', async () => {
    const { up, open } = await gated('a')
    const { lb, url } = await serveBalancer({ upstreams: [{ url: up.url, maxConnections: 1 }], queue: { size: 2 } })
    const pending = Array.from({ length: 3 }, () => get(url))
    await expect.poll(() => up.hits).toBe(1)
    await expect.poll(() => lb.stats().queued).toBe(2)
    const overflow = await get(url)
    expect(overflow.status).toBe(503)
    expect(overflow.json()).toMatchObject({ code: 'SWY_ERR_QUEUE_FULL' })
    open()
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200, 200])
  })

  it('answers 503 when the wait exceeds queue.timeout', async () => {
    const { up, open } = await gated('a')
    const { url } = await serveBalancer({ upstreams: [{ url: up.url, maxConnections: 1 }], queue: { timeout: 150 } })
    const first = get(url)
    await expect.poll(() => up.hits).toBe(1)
    const waited = await get(url)
    expect(waited.status).toBe(503)
    expect(waited.json()).toMatchObject({ code: 'SWY_ERR_QUEUE_TIMEOUT' })
    open()
    expect((await first).status).toBe(200)
  })

  it('prefers an upstream with room over queueing on a full one', async () => {
    const a = await gated('a')
    const b = await fakeUpstream({ name: 'b' })
    const { url } = await serveBalancer({
      upstreams: [{ url: a.up.url, maxConnections: 1 }, b.url],
      strategy: inOrder(),
    })
    const held = get(url)
    await expect.poll(() => a.up.hits).toBe(1)
    expect(await names(url, 4)).toEqual(['b', 'b', 'b', 'b'])
    a.open()
    expect((await held).status).toBe(200)
  })
})

describe('load and close', () => {
  it('serves 3 000 requests at 64 concurrent with no error', async () => {
    const ups = await Promise.all(['a', 'b', 'c'].map((name) => fakeUpstream({ name, recordBodies: false })))
    const { lb, url } = await serveBalancer({ upstreams: ups.map((u) => u.url) })
    const agent = new Agent({ connections: 64 })
    let next = 0
    let failed = 0
    const worker = async () => {
      while (next < 3_000) {
        next++
        const res = await request(url, { dispatcher: agent })
        await res.body.dump()
        if (res.statusCode !== 200) failed++
      }
    }
    await Promise.all(Array.from({ length: 64 }, worker))
    await agent.close()
    expect(failed).toBe(0)
    expect(ups.reduce((n, u) => n + u.hits, 0)).toBe(3_000)
    for (const u of ups) expect(u.hits).toBe(1_000)
    const stats = lb.stats()
    expect(stats.requests).toBe(3_000)
    expect(stats.errors).toBe(0)
    expect(stats.upstreams.every((u) => u.responses['2xx'] === 1_000 && u.ewmaMs > 0)).toBe(true)
  })

  it('close() lets in-flight requests finish, refuses new ones, and leaves no open handle', async () => {
    const resources = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const up = await fakeUpstream({ handler: (_req, res) => void gate.then(() => res.end('late')) })
    const lb = createBalancer({ upstreams: [up.url] })
    const { url } = await loopbackServer(lb.handler)
    const baseline = resources()
    const inFlight = get(url)
    await expect.poll(() => up.hits).toBe(1)
    let closed = false
    const closing = lb.close().then(() => (closed = true))
    const refused = await get(url)
    expect(refused.status).toBe(503)
    expect(refused.json()).toMatchObject({ code: 'SWY_ERR_CLOSED' })
    expect(closed).toBe(false)
    release()
    expect((await inFlight).text).toBe('late')
    await closing
    await expect(request('http://x/', { dispatcher: lb.dispatcher })).rejects.toMatchObject({ code: 'SWY_ERR_CLOSED' })
    // The balancer's pool sockets and timers are gone: no more than before it served.
    await expect.poll(resources).toBeLessThanOrEqual(baseline)
  })
})
