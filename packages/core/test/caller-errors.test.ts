import { BadRequestError, SwitchyardError } from '@switchyard/core'
import { type Dispatcher, request } from 'undici'
import { describe, expect, it } from 'vitest'
import { fakeUpstream, serveBalancer } from '@switchyard/testing'

/** Dispatches straight on `dispatcher` (undici's `request()` checks some options itself first). */
function dispatch(dispatcher: Dispatcher, options: Partial<Dispatcher.DispatchOptions>): Promise<{ status?: number; error?: unknown }> {
  return new Promise((resolve) => {
    let status: number | undefined
    dispatcher.dispatch({ method: 'GET', path: '/', ...options } as Dispatcher.DispatchOptions, {
      onConnect() {},
      onHeaders(statusCode: number) {
        status = statusCode
        return true
      },
      onData: () => true,
      onComplete: () => resolve({ status }),
      onError: (error: unknown) => resolve({ error }),
    } as unknown as Dispatcher.DispatchHandler)
  })
}

/** What the dispatcher's caller did wrong: a typed error at once, nothing sent, nobody marked down. */
describe('lb.dispatcher refuses a bad request as the caller’s error', () => {
  const cases: Array<[string, Partial<Dispatcher.DispatchOptions>]> = [
    ['a CR/LF header value', { headers: { 'x-note': 'a\r\nInjected: yes' } }],
    ['a header name that is not a token', { headers: { 'x note': 'a' } }],
    ['an invalid method', { method: 'GE T' as 'GET' }],
    ['a path with a space', { path: '/a b' }],
    ['a path that is not a path', { path: 'users' }],
    ['CONNECT', { method: 'CONNECT', path: 'app.example:443' }],
  ]
  for (const [name, options] of cases) {
    it(`${name}: SWY_ERR_BAD_REQUEST, nothing sent, every upstream up`, async () => {
      const a = await fakeUpstream()
      const b = await fakeUpstream()
      const { lb } = await serveBalancer({ upstreams: [a.url, b.url], panicThreshold: 0 })
      const { error: err } = await dispatch(lb.dispatcher, { origin: 'http://service', ...options })
      expect(err).toBeInstanceOf(SwitchyardError)
      expect(err).toBeInstanceOf(BadRequestError)
      expect((err as SwitchyardError).code).toBe('SWY_ERR_BAD_REQUEST')
      expect(a.hits + b.hits).toBe(0)
      expect(lb.stats().retries).toBe(0)
      expect(lb.upstreams.map((u) => [u.state, u.failures])).toEqual([
        ['up', 0],
        ['up', 0],
      ])
      const ok = await request('http://service/x', { dispatcher: lb.dispatcher })
      expect(ok.statusCode).toBe(200)
      await ok.body.dump()
    })
  }

  it('sends an absolute-form path in origin-form', async () => {
    const a = await fakeUpstream()
    const { lb } = await serveBalancer({ upstreams: [a.url] })
    const res = await dispatch(lb.dispatcher, { origin: a.url, path: 'HTTP://elsewhere.example/y?z=1' })
    expect(res.status).toBe(200)
    expect(a.requests[0]!.url).toBe('/y?z=1')
  })

  it('a request body stream that fails is the caller’s, not the upstream’s', async () => {
    const a = await fakeUpstream()
    const b = await fakeUpstream()
    const { lb } = await serveBalancer({ upstreams: [a.url, b.url], panicThreshold: 0 })
    const { Readable } = await import('node:stream')
    const body = new Readable({
      read() {
        this.push('part')
        this.destroy(Object.assign(new Error('disk read failed'), { code: 'EIO' }))
      },
    })
    const err = await request('http://service/upload', { dispatcher: lb.dispatcher, method: 'PUT', body }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((err as SwitchyardError).code).toBe('SWY_ERR_BAD_REQUEST')
    expect(lb.upstreams.map((u) => [u.state, u.failures])).toEqual([
      ['up', 0],
      ['up', 0],
    ])
    expect(lb.stats().retries).toBe(0)
  })
})
