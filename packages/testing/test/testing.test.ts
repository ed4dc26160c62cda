import { createBalancer } from '@switchyard/core'
import { fakeUpstream, functionUpstream, inOrder, virtualClock } from '@switchyard/testing'
import { powerOfTwo, seededRandom } from '@switchyard/strategies'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'

async function call(lb: ReturnType<typeof createBalancer>, path = '/', init: { method?: string; body?: string } = {}) {
  const res = await request(`http://svc${path}`, { dispatcher: lb.dispatcher, method: (init.method ?? 'GET') as 'GET', body: init.body })
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers }
}

describe('fakeUpstream', () => {
  it('answers, counts and records over real sockets; scripts answers; kill and restart on the same port', async () => {
    const up = await fakeUpstream({ name: 'a' })
    onTestFinished(() => up.close())
    const lb = createBalancer({ upstreams: [up.url], retry: false, passive: false })
    onTestFinished(() => lb.close())
    expect(JSON.parse((await call(lb, '/x?y=1', { method: 'POST', body: 'hi' })).body)).toEqual({ name: 'a', method: 'POST', url: '/x?y=1' })
    expect(up.requests[0]).toMatchObject({ method: 'POST', url: '/x?y=1' })
    expect(up.requests[0]!.body.toString()).toBe('hi')

    up.script({ status: 503, body: 'busy', headers: { 'retry-after': '1' } }, 'reset')
    const busy = await call(lb)
    expect(busy.status).toBe(503)
    expect(busy.body).toBe('busy')
    expect(busy.headers['retry-after']).toBe('1')
    await expect(call(lb)).rejects.toMatchObject({ code: 'SWY_ERR_UPSTREAM' }) // the reset: on the dispatcher path the error is thrown
    expect((await call(lb)).status).toBe(200) // the script is spent: back to the standing answer
    expect(up.hits).toBe(4)

    const port = up.port
    await up.kill()
    await expect(call(lb)).rejects.toMatchObject({ code: 'SWY_ERR_UPSTREAM' }) // connection refused
    await up.restart()
    expect(up.port).toBe(port)
    expect((await call(lb)).status).toBe(200)
  })

  it('answers as a function of the request, with a delay or a slow body', async () => {
    const up = await fakeUpstream({ answer: (req) => (req.url === '/slow' ? { body: 'abcdef', slowBody: { chunks: 3, everyMs: 10 } } : { status: 404 }) })
    onTestFinished(() => up.close())
    const lb = createBalancer({ upstreams: [up.url] })
    onTestFinished(() => lb.close())
    expect((await call(lb, '/slow')).body).toBe('abcdef')
    expect((await call(lb, '/other')).status).toBe(404)
    up.answer = { delayMs: 30, body: 'late' }
    const t0 = performance.now()
    expect((await call(lb)).body).toBe('late')
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25)
  })
})

describe('functionUpstream', () => {
  it('is an upstream without a port: the balancer’s retries and passive health run on it', async () => {
    const a = functionUpstream('a', { status: 200, body: 'from a' })
    const b = functionUpstream('b', { body: 'from b' })
    const lb = createBalancer({ upstreams: [a, b], strategy: inOrder() })
    onTestFinished(() => lb.close())
    expect((await call(lb)).body).toBe('from a')
    expect((await call(lb)).body).toBe('from b')
    a.script('reset') // the next request to a fails: retried on b, and a is marked down
    expect((await call(lb)).body).toBe('from b')
    expect(lb.upstreams[0]).toMatchObject({ id: 'a', state: 'down', reason: 'max_fails' })
    expect(a.hits).toBe(2)
    expect(b.requests.map((r) => r.url)).toEqual(['/', '/'])
  })

  it('passes the request through: method, path, headers and body', async () => {
    const echo = functionUpstream('echo', (req) => ({ body: `${req.method} ${req.url} ${req.headers['x-k']} ${req.body.toString()}` }))
    const lb = createBalancer({ upstreams: [echo] })
    onTestFinished(() => lb.close())
    const res = await request('http://svc/p?q=1', { dispatcher: lb.dispatcher, method: 'PUT', body: 'data', headers: { 'x-k': 'v' } })
    expect(await res.body.text()).toBe('PUT /p?q=1 v data')
  })
})

describe('virtualClock', () => {
  it('drives the balancer’s time: an upstream out for failTimeout comes back when the clock says so', async () => {
    const clock = virtualClock()
    const a = functionUpstream('a')
    const b = functionUpstream('b')
    const lb = createBalancer({ upstreams: [a, b], clock, passive: { maxFails: 1, failTimeout: 30_000 } })
    onTestFinished(() => lb.close())
    a.script('reset')
    b.script('reset')
    await expect(call(lb)).rejects.toMatchObject({ code: 'SWY_ERR_UPSTREAM' }) // both fail once: both out for 30 s
    expect(lb.upstreams.map((u) => u.state)).toEqual(['down', 'down'])
    clock.advance(29_999)
    expect(lb.upstreams.map((u) => u.state)).toEqual(['down', 'down'])
    clock.advance(1)
    expect(lb.upstreams.map((u) => u.state)).toEqual(['up', 'up'])
    expect(clock.now()).toBe(1_000 + 30_000)
  })

  it('runs timers in time order, ties in the order they were set, and those set while advancing', () => {
    const clock = virtualClock(0)
    const seen: string[] = []
    clock.setTimeout(() => seen.push('b@20'), 20)
    clock.setTimeout(() => {
      seen.push('a@10')
      clock.setTimeout(() => seen.push('c@15'), 5)
    }, 10)
    const gone = clock.setTimeout(() => seen.push('never'), 12)
    clock.setTimeout(() => seen.push('b2@20'), 20)
    clock.clearTimeout(gone)
    expect(clock.dueIn(20)).toBe(2)
    clock.advance(20)
    expect(seen).toEqual(['a@10', 'c@15', 'b@20', 'b2@20'])
    expect(clock.pending).toBe(0)
  })
})

describe('deterministic mode (virtualClock + seededRandom)', () => {
  it('repeats a run exactly for one seed, and differs for another', async () => {
    const run = async (seed: number) => {
      const upstreams = ['a', 'b', 'c'].map((id) => functionUpstream(id, { body: id }))
      const lb = createBalancer({ upstreams, clock: virtualClock(), random: seededRandom(seed), strategy: powerOfTwo({ random: seededRandom(seed + 1) }) })
      onTestFinished(() => lb.close())
      let order = ''
      for (let i = 0; i < 30; i++) order += (await call(lb)).body
      return order
    }
    const first = await run(7)
    expect(await run(7)).toBe(first)
    expect(await run(8)).not.toBe(first)
    expect(new Set(first).size).toBe(3)
  })
})
