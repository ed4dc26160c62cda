import type { ServerResponse } from 'node:http'
import { createBalancer, InvalidOptionError, type RequestTrace } from '@switchyard/core'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { fakeUpstream, get, inOrder, serveBalancer, virtualClock } from '@switchyard/testing'

/** An upstream that holds every request until the test answers it: `answer(status)` the oldest. */
async function held(name: string) {
  const waiting: ServerResponse[] = []
  const up = await fakeUpstream({ name, handler: (_req, res) => void waiting.push(res) })
  return Object.assign(up, {
    waiting,
    answer(status = 200) {
      const res = waiting.shift()!
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ name, status }))
    },
    cut() {
      waiting.shift()!.socket!.destroy()
    },
  })
}

/** a first, then b; hedge after 100 ms on a virtual clock; traces kept. */
async function hedged(extra: object = {}) {
  const clock = virtualClock()
  const a = await held('a')
  const b = await held('b')
  const { lb, url } = await serveBalancer({
    upstreams: [
      { id: 'a', url: a.url },
      { id: 'b', url: b.url },
    ],
    strategy: inOrder(),
    clock,
    hedge: { delay: 100 },
    trace: 10,
    ...extra,
  })
  return { clock, a, b, lb, url }
}

const failsOf = (lb: ReturnType<typeof createBalancer>, id: string) => lb.upstreams.find((u) => u.id === id)!.failures

describe('hedged requests (hedge)', () => {
  it('sends a second attempt after the delay; the first head wins and the slow one is aborted, not blamed', async () => {
    const { clock, a, b, lb, url } = await hedged()
    const pending = get(url)
    await expect.poll(() => a.waiting.length).toBe(1)
    expect(b.hits).toBe(0)
    clock.advance(99)
    expect(b.hits).toBe(0)
    clock.advance(1)
    await expect.poll(() => b.waiting.length).toBe(1)
    b.answer(200)
    const res = await pending
    expect(res.json()).toEqual({ name: 'b', status: 200 })
    await expect.poll(() => a.aborted).toBe(1) // the loser's request was cancelled at the upstream
    const [trace] = lb.trace() as RequestTrace[]
    expect(trace!.attempts).toEqual([
      { upstream: 'a', judged: false, lost: true, ms: 100 },
      { upstream: 'b', status: 200, judged: true, hedge: true, ms: 0, passed: [{ upstream: 'a', reason: 'tried' }] },
    ])
    expect(lb.stats().hedges).toBe(1)
    expect(failsOf(lb, 'a')).toBe(0)
    expect(lb.stats().inFlight).toBe(0)
  })

  it('sends no hedge when the first answers within the delay', async () => {
    const { clock, a, b, lb, url } = await hedged()
    const pending = get(url)
    await expect.poll(() => a.waiting.length).toBe(1)
    a.answer(200)
    expect((await pending).json()).toEqual({ name: 'a', status: 200 })
    expect(clock.dueIn(1_000)).toBe(0) // the hedge timer is gone
    expect(b.hits).toBe(0)
    expect(lb.stats().hedges).toBe(0)
  })

  it('relays the first attempt when it answers first after the hedge went; the hedge is aborted', async () => {
    const { clock, a, b, lb, url } = await hedged()
    const pending = get(url)
    await expect.poll(() => a.waiting.length).toBe(1)
    clock.advance(100)
    await expect.poll(() => b.waiting.length).toBe(1)
    a.answer(200)
    expect((await pending).json()).toEqual({ name: 'a', status: 200 })
    await expect.poll(() => b.aborted).toBe(1)
    expect(lb.trace()[0]!.attempts.map((t) => [t.upstream, t.lost ?? false, t.hedge ?? false])).toEqual([
      ['b', true, true],
      ['a', false, false],
    ])
    expect(lb.stats().inFlight).toBe(0)
  })

  it('a racer that fails drops out (counted against its upstream) and the other goes on', async () => {
    const { clock, a, b, lb, url } = await hedged()
    const pending = get(url)
    await expect.poll(() => a.waiting.length).toBe(1)
    clock.advance(100)
    await expect.poll(() => b.waiting.length).toBe(1)
    a.cut()
    await expect.poll(() => failsOf(lb, 'a')).toBe(1)
    b.answer(200)
    expect((await pending).json()).toEqual({ name: 'b', status: 200 })
    expect(lb.trace()[0]!.attempts).toEqual([
      { upstream: 'a', error: 'UND_ERR_SOCKET', judged: true, ms: 100 },
      { upstream: 'b', status: 200, judged: true, hedge: true, ms: 0, passed: [{ upstream: 'a', reason: 'tried' }] },
    ])
  })

  it('a racer answering a retry.on status drops out while the other is out', async () => {
    const { clock, a, b, lb, url } = await hedged({ retry: { on: [503] } })
    const pending = get(url)
    await expect.poll(() => a.waiting.length).toBe(1)
    clock.advance(100)
    await expect.poll(() => b.waiting.length).toBe(1)
    a.answer(503)
    await expect.poll(() => lb.upstreams.find((u) => u.id === 'a')!.requests).toBe(1) // a's 503 came, and was not relayed
    b.answer(200)
    expect((await pending).json()).toEqual({ name: 'b', status: 200 })
    expect(lb.trace()[0]!.attempts.map((t) => [t.upstream, t.status])).toEqual([
      ['a', 503],
      ['b', 200],
    ])
  })

  it('never hedges a request with a streamed body, or a method not in retry.methods', async () => {
    const { clock, a, b, url } = await hedged()
    const post = get(url, { method: 'POST', body: 'x' })
    const put = get(url, { method: 'PUT', body: 'y' })
    await expect.poll(() => a.waiting.length + b.waiting.length).toBe(2)
    expect(clock.dueIn(100)).toBe(0)
    a.answer(201)
    b.answer(201)
    expect((await post).status).toBe(201)
    expect((await put).status).toBe(201)
  })

  it('a client that leaves during the race aborts both attempts, neither blamed', async () => {
    const { clock, a, b, lb, url } = await hedged()
    const ac = new AbortController()
    const pending = request(url, { signal: ac.signal }).catch((e: Error) => e)
    await expect.poll(() => a.waiting.length).toBe(1)
    clock.advance(100)
    await expect.poll(() => b.waiting.length).toBe(1)
    ac.abort()
    await pending
    await expect.poll(() => a.aborted + b.aborted).toBe(2)
    await expect.poll(() => lb.stats().inFlight).toBe(0)
    expect(failsOf(lb, 'a') + failsOf(lb, 'b')).toBe(0)
    expect(lb.stats().active).toBe(0)
  })

  it('hedges on the dispatcher path too', async () => {
    const { clock, a, b, lb } = await hedged()
    const pending = request('http://svc/', { dispatcher: lb.dispatcher })
    await expect.poll(() => a.waiting.length).toBe(1)
    clock.advance(100)
    await expect.poll(() => b.waiting.length).toBe(1)
    b.answer(200)
    const res = await pending
    expect(await res.body.json()).toEqual({ name: 'b', status: 200 })
  })

  it('is refused without retry attempts to spend, or without a delay', () => {
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], retry: false, hedge: { delay: 50 } })).toThrow(InvalidOptionError)
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], hedge: {} as never })).toThrow(/hedge.delay is required/)
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], hedge: { delay: 0 } })).toThrow(InvalidOptionError)
  })
})
