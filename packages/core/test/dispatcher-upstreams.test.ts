import { createBalancer } from '@switchyard/core'
import { activeHealthCheck } from '@switchyard/health'
import { Agent, Dispatcher, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream, get, inOrder, serveBalancer } from '@switchyard/testing'

/** A function upstream: answers every request itself, with no socket (legacy handler callbacks). */
class FunctionUpstream extends Dispatcher {
  readonly seen: Array<{ origin: unknown; method: string; path: string }> = []
  status = 200
  constructor(readonly name: string) {
    super()
  }
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = handler as unknown as {
      onConnect(abort: () => void): void
      onHeaders(status: number, headers: Buffer[], resume: () => void, text: string): boolean
      onData(chunk: Buffer): boolean
      onComplete(trailers: Buffer[]): void
    }
    this.seen.push({ origin: options.origin, method: options.method, path: options.path })
    const body = Buffer.from(JSON.stringify({ name: this.name, path: options.path }))
    queueMicrotask(() => {
      h.onConnect(() => {})
      h.onHeaders(this.status, [Buffer.from('content-length'), Buffer.from(String(body.length))], () => {}, 'OK')
      h.onData(body)
      h.onComplete([])
    })
    return true
  }
  override async close(): Promise<void> {}
  override async destroy(): Promise<void> {}
}

describe('upstreams given as a dispatcher ({ id, dispatcher })', () => {
  it('function upstreams: balanced, counted, with no port', async () => {
    const a = new FunctionUpstream('a')
    const b = new FunctionUpstream('b')
    const { lb, url } = await serveBalancer({
      upstreams: [
        { id: 'a', dispatcher: a },
        { id: 'b', dispatcher: b },
      ],
      strategy: inOrder(),
    })
    const names = []
    for (let i = 0; i < 4; i++) names.push((await get(`${url}/x/${i}`)).json())
    expect(names.map((n) => (n as { name: string }).name)).toEqual(['a', 'b', 'a', 'b'])
    expect(a.seen[0]).toEqual({ origin: 'http://a.invalid', method: 'GET', path: '/x/0' })
    expect(lb.upstreams.map((u) => [u.id, u.requests])).toEqual([
      ['a', 2],
      ['b', 2],
    ])
  })

  it('the dispatcher path too, and the caller’s origin is replaced by the upstream’s', async () => {
    const fn = new FunctionUpstream('fn')
    const lb = createBalancer({ upstreams: [{ id: 'fn', dispatcher: fn, url: 'http://fn.internal:8080' }] })
    onTestFinished(() => lb.close())
    const res = await request('http://service/y', { dispatcher: lb.dispatcher })
    expect(await res.body.json()).toEqual({ name: 'fn', path: '/y' })
    expect(fn.seen[0]!.origin).toBe('http://fn.internal:8080')
  })

  it('an undici Agent with a url: real requests to the url’s origin', async () => {
    const up = await fakeUpstream({ name: 'real' })
    const agent = new Agent()
    const { url } = await serveBalancer({ upstreams: [{ id: 'via-agent', url: up.url, dispatcher: agent }] })
    expect((await get(url)).json()).toMatchObject({ name: 'real' })
    expect(up.hits).toBe(1)
  })

  it('active health checks probe through the dispatcher', async () => {
    const fn = new FunctionUpstream('fn')
    fn.status = 503
    const lb = createBalancer({
      upstreams: [{ id: 'fn', dispatcher: fn }, 'http://127.0.0.1:1'],
      health: activeHealthCheck({ path: '/healthz', interval: 60_000, unhealthyThreshold: 1 }),
    })
    onTestFinished(() => lb.close())
    await expect.poll(() => lb.upstreams[0]!.state).toBe('down')
    expect(fn.seen[0]).toMatchObject({ path: '/healthz' })
  })

  it('validates: a dispatcher needs an id, is a Dispatcher, and takes no tls', () => {
    const fn = new FunctionUpstream('fn')
    expect(() => createBalancer({ upstreams: [{ dispatcher: fn }] })).toThrow(/upstreams\[0\]\.id must be a non-empty string for a dispatcher upstream/)
    expect(() => createBalancer({ upstreams: [{ id: 'x', dispatcher: {} as never }] })).toThrow(/must be an undici Dispatcher/)
    expect(() => createBalancer({ upstreams: [{ id: 'x', dispatcher: fn, tls: {} }] })).toThrow(/tls does not apply/)
  })
})
