import { createBalancer } from '@switchyard/core'
import { Agent, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream, get, inOrder, serveBalancer, virtualClock } from '@switchyard/testing'

/** An upstream answering `status` (with a body and optional headers) to everything. */
const answering = (name: string, status: number, headers: Record<string, string> = {}) =>
  fakeUpstream({
    name,
    handler: (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify({ name, status }))
    },
  })

const first = { strategy: inOrder() } // a, then b: the test knows who goes first

describe('retries on status (retry.on)', () => {
  it('sends an idempotent request on to the next upstream when one answers a listed status', async () => {
    const a = await answering('a', 503)
    const b = await answering('b', 200)
    const { url } = await serveBalancer({ ...first, upstreams: [a.url, b.url], retry: { on: [502, 503, 504], backoff: { base: 0 } } })
    const res = await get(url)
    expect(res.status).toBe(200)
    expect(res.json()).toEqual({ name: 'b', status: 200 })
    expect(a.hits).toBe(1)

    const { url: plain } = await serveBalancer({ ...first, upstreams: [a.url, b.url] })
    expect((await get(plain)).status).toBe(503) // by default a status is an answer, relayed (nginx)
  })

  it('relays the answer when the request may not be retried or nobody else is left', async () => {
    const a = await answering('a', 503)
    const b = await answering('b', 503)
    const { url } = await serveBalancer({ ...first, upstreams: [a.url, b.url], retry: { on: [503], backoff: { base: 0 } } })
    const post = await get(url, { method: 'POST', body: '{}' })
    expect(post.status).toBe(503)
    expect(post.json()).toEqual({ name: 'a', status: 503 }) // the upstream's own answer, not ours
    const all = await get(url)
    expect(all.status).toBe(503)
    expect(all.json()).toEqual({ name: 'a', status: 503 }) // b's turn, then a: a answered last, and its answer is relayed
    expect(a.hits + b.hits).toBe(3)
  })

  it('honours a short Retry-After on 429 and relays a long one', async () => {
    const short = await answering('short', 429, { 'retry-after': '0' })
    const long = await answering('long', 429, { 'retry-after': '30' })
    const ok = await answering('ok', 200)
    const { url } = await serveBalancer({ ...first, upstreams: [short.url, ok.url], retry: { on: [429] } })
    expect((await get(url)).status).toBe(200)
    const { url: url2 } = await serveBalancer({ ...first, upstreams: [long.url, ok.url], retry: { on: [429] } })
    const res = await get(url2)
    expect(res.status).toBe(429)
    expect(res.headers['retry-after']).toBe('30')
  })

  it('waits its back-off on the balancer clock', async () => {
    const clock = virtualClock()
    const a = await answering('a', 502)
    const b = await answering('b', 200)
    const { url } = await serveBalancer({ ...first, clock, upstreams: [a.url, b.url], retry: { on: [502], backoff: { base: 1_000, max: 1_000 } }, random: () => 0.5 })
    const pending = get(url)
    await expect.poll(() => a.hits).toBe(1)
    await expect.poll(() => clock.dueIn(500)).toBe(1) // full jitter: 0.5 × 1 000 ms
    expect(b.hits).toBe(0)
    clock.advance(500)
    expect((await pending).status).toBe(200)
    expect(b.hits).toBe(1)
  })

  it('the retry budget holds under a 100% failure: retries stay within 20% of the requests in progress', async () => {
    const gates: (() => void)[] = []
    const failing = (name: string) =>
      fakeUpstream({
        name,
        recordBodies: false,
        handler: (_req, res) =>
          void gates.push(() => {
            res.writeHead(503)
            res.end()
          }),
      })
    const run = async (budget: { percent: number } | false) => {
      gates.length = 0
      const ups = await Promise.all([failing('a'), failing('b')])
      const { url } = await serveBalancer({ upstreams: ups.map((u) => u.url), retry: { on: [503], backoff: { base: 0 }, budget } })
      const agent = new Agent({ connections: 100 })
      onTestFinished(() => agent.close())
      const requests = Array.from({ length: 100 }, () => request(url, { dispatcher: agent }).then((r) => r.body.dump().then(() => r.statusCode)))
      await expect.poll(() => gates.length).toBe(100) // all 100 in progress at once
      while (gates.length > 0 || ups[0]!.hits + ups[1]!.hits < 100) {
        gates.shift()?.()
        await new Promise((r) => setImmediate(r))
      }
      for (;;) {
        // release retries as they arrive, until every request has its answer
        const done = await Promise.race([Promise.all(requests).then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))])
        if (done) break
        while (gates.length > 0) gates.shift()!()
      }
      expect((await Promise.all(requests)).every((s) => s === 503)).toBe(true)
      return ups[0]!.hits + ups[1]!.hits
    }
    const unbudgeted = await run(false)
    const budgeted = await run({ percent: 20 })
    expect(unbudgeted).toBe(200) // every request tried both upstreams
    expect(budgeted).toBeLessThanOrEqual(100 + 25) // 20% of 100 in progress (120 seen), give or take those finishing meanwhile
    expect(budgeted).toBeGreaterThanOrEqual(100 + 3)
  })

  it('refuses a bad retry.on', () => {
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], retry: { on: [200] } })).toThrow(expect.objectContaining({ field: 'retry.on' }))
  })
})

describe('timeouts.total', () => {
  it('answers 504 when the whole request outlasts it, on the balancer clock', async () => {
    const clock = virtualClock()
    const hang = await fakeUpstream({ answer: 'hang' })
    const { url, lb } = await serveBalancer({ upstreams: [hang.url], clock, timeouts: { total: 5_000 } })
    const pending = get(url)
    await expect.poll(() => hang.hits).toBe(1)
    clock.advance(4_999)
    expect(lb.stats().active).toBe(1)
    clock.advance(1)
    const res = await pending
    expect(res.status).toBe(504)
    expect(res.json()).toMatchObject({ code: 'SWY_ERR_UPSTREAM_TIMEOUT' })
    expect(lb.upstreams[0]!.state).toBe('up') // the deadline is the request's, not the upstream's failure
  })
})
