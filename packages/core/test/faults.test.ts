import { once } from 'node:events'
import http from 'node:http'
import { describe, expect, it } from 'vitest'
import { deadPort, fakeUpstream, get, inOrder, serveBalancer } from '@switchyard/testing'

const first = inOrder()

describe('faults', () => {
  it('fails over from a dead port with zero failed GETs, and marks it down (max_fails)', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`
    const live = await fakeUpstream({ name: 'live' })
    const { lb, url } = await serveBalancer({ upstreams: [dead, live.url], strategy: inOrder() })
    const down = once(lb, 'upstream:down')
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) statuses.push((await get(url)).status)
    expect(statuses.every((s) => s === 200)).toBe(true)
    expect(live.hits).toBe(20)
    const [event] = await down
    expect(event).toEqual({ id: dead, reason: 'max_fails' })
    expect(lb.upstreams[0]).toMatchObject({ state: 'down', failures: 1 })
    expect(lb.stats().retries).toBe(1)
  })

  it('answers quickly with JSON when every upstream is down (panic mode off)', async () => {
    const { lb, url } = await serveBalancer({
      upstreams: [`http://127.0.0.1:${await deadPort()}`, `http://127.0.0.1:${await deadPort()}`],
      panicThreshold: 0,
    })
    const errors: string[] = []
    lb.on('request:error', (e) => errors.push(e.error.code))
    const t0 = performance.now()
    const firstTry = await get(url)
    expect(firstTry.status).toBe(502)
    expect(firstTry.headers['content-type']).toMatch(/application\/json/)
    expect(firstTry.json()).toEqual({ error: 'Bad Gateway', code: 'SWY_ERR_UPSTREAM', message: 'the upstream failed to answer' })
    const next = await get(url)
    expect(next.status).toBe(503)
    expect(next.json()).toMatchObject({ code: 'SWY_ERR_NO_UPSTREAM' })
    expect(performance.now() - t0).toBeLessThan(2_000)
    expect(errors).toEqual(['SWY_ERR_UPSTREAM', 'SWY_ERR_NO_UPSTREAM'])
    // The body never names an upstream address.
    expect(firstTry.text).not.toContain('127.0.0.1')
  })

  it('answers 504 when an upstream hangs past the headers timeout', async () => {
    const hang = await fakeUpstream({ answer: 'hang' })
    const { url } = await serveBalancer({ upstreams: [hang.url], timeouts: { headers: 300 } })
    const t0 = performance.now()
    const res = await get(url)
    const elapsed = performance.now() - t0
    expect(res.status).toBe(504)
    expect(res.json()).toMatchObject({ code: 'SWY_ERR_UPSTREAM_TIMEOUT' })
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(3_000)
  })

  it('retries a GET that timed out on another upstream', async () => {
    const hang = await fakeUpstream({ answer: 'hang' })
    const ok = await fakeUpstream({ name: 'ok' })
    const { url } = await serveBalancer({ upstreams: [hang.url, ok.url], timeouts: { headers: 200 }, strategy: first })
    const res = await get(url)
    expect(res.status).toBe(200)
    expect(hang.hits).toBe(1)
    expect(ok.hits).toBe(1)
  })

  it('never replays a POST that reached a resetting upstream', async () => {
    const reset = await fakeUpstream({ answer: 'reset' })
    const ok = await fakeUpstream({ name: 'ok' })
    const { url } = await serveBalancer({ upstreams: [reset.url, ok.url], strategy: inOrder() })
    const res = await get(url, { method: 'POST', body: 'charge the card' })
    expect(res.status).toBe(502)
    expect(reset.hits).toBe(1)
    expect(ok.hits).toBe(0)
  })

  it('retries a GET that was reset, on another upstream', async () => {
    const reset = await fakeUpstream({ answer: 'reset' })
    const ok = await fakeUpstream({ name: 'ok' })
    const { url } = await serveBalancer({ upstreams: [reset.url, ok.url], strategy: inOrder() })
    const res = await get(url)
    expect(res.status).toBe(200)
    expect(reset.hits).toBe(1)
    expect(ok.hits).toBe(1)
  })

  it('retries a POST that never reached an upstream (connection refused), body intact', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`
    const ok = await fakeUpstream({ handler: (_req, res, self) => res.end(self.requests.at(-1)!.body) })
    const { url } = await serveBalancer({ upstreams: [dead, ok.url], strategy: inOrder() })
    const res = await get(url, { method: 'POST', body: 'order #1' })
    expect(res.status).toBe(200)
    expect(res.text).toBe('order #1')
  })

  it('answers 502 for an upstream that sends garbage, and the process keeps serving', async () => {
    const bad = await fakeUpstream({ answer: 'garbage' })
    const { url } = await serveBalancer({ upstreams: [bad.url], retry: false })
    expect((await get(url)).status).toBe(502)
    bad.answer = {}
    expect((await get(url)).status).toBe(200)
  })

  it('does not retry when retry is false', async () => {
    const reset = await fakeUpstream({ answer: 'reset' })
    const ok = await fakeUpstream()
    const { url } = await serveBalancer({ upstreams: [reset.url, ok.url], strategy: inOrder(), retry: false })
    expect((await get(url)).status).toBe(502)
    expect(ok.hits).toBe(0)
  })

  it('cancels the upstream request when the client disconnects', async () => {
    let upstreamClosed!: () => void
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve))
    const up = await fakeUpstream({
      handler: (_req, res) => {
        res.writeHead(200)
        res.write('partial')
        res.once('close', upstreamClosed)
      },
    })
    const { lb, url } = await serveBalancer({ upstreams: [up.url] })
    const clientReq = http.get(url)
    const [clientRes] = (await once(clientReq, 'response')) as [http.IncomingMessage]
    await once(clientRes, 'data')
    clientReq.destroy()
    await closed
    expect(up.aborted).toBe(1)
    await expect.poll(() => lb.stats().active).toBe(0)
    expect(lb.upstreams[0]!.failures).toBe(0) // a client that leaves is not the upstream's fault
  })

  it('cancels the upstream request when the client disconnects before the response starts', async () => {
    const up = await fakeUpstream({ answer: 'hang' })
    const { lb, url } = await serveBalancer({ upstreams: [up.url] })
    const clientReq = http.get(url)
    clientReq.on('error', () => {})
    await expect.poll(() => up.hits).toBe(1)
    clientReq.destroy()
    await expect.poll(() => up.aborted).toBe(1)
    await expect.poll(() => lb.stats().active).toBe(0)
    expect(lb.stats().inFlight).toBe(0)
  })
})
