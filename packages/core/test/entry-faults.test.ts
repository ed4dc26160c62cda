import { once } from 'node:events'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { channel } from 'node:diagnostics_channel'
import { type Balancer, type BalancerOptions, createBalancer, type SwitchyardError } from '@switchyard/core'
import { consistentHash, type Strategy } from '@switchyard/strategies'
import { type Dispatcher, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type FakeUpstream, fakeUpstream, rawExchange, serveBalancer, statusOf } from '@switchyard/testing'

/**
 * Issue 22: one request must never end the process, and what throws while it is handled fails it
 * alone. Each case sends what broke a process before (raw bytes where a client would), then checks
 * that this client got its answer, that the next client is served, and that no upstream was blamed.
 */

/** Every uncaught exception while a test runs (vitest would report one too; this names it). */
function watchUncaught(): unknown[] {
  const seen: unknown[] = []
  const listener = (err: unknown) => seen.push(err)
  process.on('uncaughtException', listener)
  onTestFinished(() => void process.off('uncaughtException', listener))
  return seen
}

async function healthy(lb: Balancer, url: string, ups: FakeUpstream[]): Promise<void> {
  const res = await request(`${url}/next`)
  expect(res.statusCode).toBe(200)
  await res.body.dump()
  for (const u of lb.upstreams) expect(u).toMatchObject({ state: 'up', failures: 0 })
  expect(ups.every((u) => u.isListening)).toBe(true)
}

function errorBodyOf(text: string): { code: string; message: string } {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))
}

describe('a request line the connection does not speak (issue 22)', () => {
  for (const version of ['HTTP/2.0', 'HTTP/0.9']) {
    it(`GET / ${version} on an HTTP/1 connection: 505 SWY_ERR_HTTP_VERSION, connection closed, nothing sent upstream`, async () => {
      const uncaught = watchUncaught()
      const up = await fakeUpstream()
      const { lb, url } = await serveBalancer({ upstreams: [up.url] })
      const { text, ended } = await rawExchange(url, `GET / ${version}\r\nHost: app.example\r\n\r\n`)
      expect(statusOf(text)).toBe(505)
      expect(errorBodyOf(text).code).toBe('SWY_ERR_HTTP_VERSION')
      expect(text).toMatch(/\r\nConnection: close\r\n/i)
      expect(ended).toBe('end')
      expect(up.hits).toBe(0)
      await healthy(lb, url, [up])
      expect(uncaught).toEqual([])
    })
  }

  it('the same line on an upgrade (lb.upgrade): 505 on the socket', async () => {
    const up = await fakeUpstream()
    const { url } = await serveBalancer(createBalancer({ upstreams: [up.url] }))
    const { text } = await rawExchange(url, 'GET /ws HTTP/2.0\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n')
    expect([statusOf(text), errorBodyOf(text).code]).toEqual([505, 'SWY_ERR_HTTP_VERSION'])
    expect(up.hits).toBe(0)
  })
})

describe('CONNECT (issue 22)', () => {
  it('lb.connect on the server’s connect event answers 501 SWY_ERR_METHOD_NOT_SUPPORTED and closes', async () => {
    const up = await fakeUpstream()
    const lb = createBalancer({ upstreams: [up.url] })
    const errors: SwitchyardError[] = []
    lb.on('request:error', (e) => errors.push(e.error))
    const { url } = await serveBalancer(lb)
    const { text, ended } = await rawExchange(url, 'CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n')
    expect(statusOf(text)).toBe(501)
    expect(errorBodyOf(text).code).toBe('SWY_ERR_METHOD_NOT_SUPPORTED')
    expect(ended).toBe('end')
    expect(up.hits).toBe(0)
    expect(errors.map((e) => e.code)).toEqual(['SWY_ERR_METHOD_NOT_SUPPORTED'])
    expect(lb.stats()).toMatchObject({ requests: 1, errors: 1, active: 0 })
  })

  it('HTTP/2 CONNECT: Node answers 405 itself; given to lb.handler (the h2 server’s connect event), 501', async () => {
    const up = await fakeUpstream()
    const lb = createBalancer({ upstreams: [up.url] })
    onTestFinished(() => lb.close({ timeout: 1_000 }))
    const handler = lb.handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void
    const statuses: unknown[] = []
    for (const onConnect of [false, true]) {
      const server = http2.createServer(handler)
      if (onConnect) server.on('connect', handler)
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
      const stream = client.request({ ':method': 'CONNECT', ':authority': 'db.internal:5432' })
      const [head] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
      stream.resume()
      statuses.push(head[':status'])
      client.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    }
    expect(statuses).toEqual([405, 501])
    expect(up.hits).toBe(0)
  })
})

/** A balancer whose function `fn` throws for one client (the header `x-poison`), with two upstreams. */
async function poisoned(options: (fail: <T>(value?: T) => T) => Partial<BalancerOptions>) {
  const uncaught = watchUncaught()
  const a = await fakeUpstream({ name: 'a' })
  const b = await fakeUpstream({ name: 'b' })
  let poison = false
  /** Passes `value` through, or throws the URIError for the poisoned client. */
  const fail = <T>(value?: T): T => {
    if (poison) decodeURIComponent('%E0%A4%A')
    return value as T
  }
  const { lb, url } = await serveBalancer({ upstreams: [a.url, b.url], ...options(fail) })
  const errors: SwitchyardError[] = []
  lb.on('request:error', (e) => errors.push(e.error))
  const poisonedGet = async (path = '/') => {
    poison = true
    try {
      return await rawExchange(url, `GET ${path} HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n`)
    } finally {
      poison = false
    }
  }
  return { lb, url, a, b, errors, uncaught, poisonedGet }
}

describe('a function of the options that throws on one client’s request (issue 22)', () => {
  const cases: Array<[string, (fail: <T>(value?: T) => T) => Partial<BalancerOptions>, string]> = [
    ['requestHeaders', (fail) => ({ requestHeaders: () => fail() }), 'requestHeaders threw'],
    ['rewritePath', (fail) => ({ rewritePath: (p: string) => fail(p) }), 'rewritePath threw'],
    ['a hash strategy’s key', (fail) => ({ strategy: consistentHash({ key: () => fail('k') }) }), "strategy's key threw"],
  ]
  for (const [name, options, message] of cases) {
    it(`${name}: that client gets 500 SWY_ERR_CALLBACK; nothing goes upstream; everyone else is served`, async () => {
      const { lb, url, a, b, errors, uncaught, poisonedGet } = await poisoned(options)
      const { text } = await poisonedGet()
      expect(statusOf(text)).toBe(500)
      expect(errorBodyOf(text)).toEqual({ error: 'Internal Server Error', code: 'SWY_ERR_CALLBACK', message: 'the request could not be processed' })
      expect(a.hits + b.hits).toBe(0)
      expect(errors.map((e) => e.code)).toEqual(['SWY_ERR_CALLBACK'])
      expect(errors[0]!.message).toContain(message)
      expect((errors[0]!.cause as Error).name).toBe('URIError')
      await healthy(lb, url, [a, b])
      expect(lb.stats()).toMatchObject({ errors: 1, active: 0, retries: 0 })
      expect(uncaught).toEqual([])
    })
  }

  it('responseHeaders throws on the answer: 500, the upstream that answered is not blamed, and no retry', async () => {
    const { lb, url, a, b, errors, uncaught, poisonedGet } = await poisoned((fail) => ({ responseHeaders: () => fail(), retry: { attempts: 2 } }))
    const { text } = await poisonedGet()
    expect(statusOf(text)).toBe(500)
    expect(errorBodyOf(text).code).toBe('SWY_ERR_CALLBACK')
    expect(a.hits + b.hits).toBe(1)
    expect(errors[0]!.message).toContain('responseHeaders threw')
    await healthy(lb, url, [a, b])
    expect(lb.stats().retries).toBe(0)
    expect(uncaught).toEqual([])
  })

  it('a header value with a line break set by requestHeaders: 500 SWY_ERR_CALLBACK, not the client’s 400', async () => {
    const { errors, poisonedGet, a, b } = await poisoned((fail) => ({
      requestHeaders: (h) => {
        try {
          fail()
        } catch {
          h['x-note'] = 'a\r\nInjected: yes'
        }
      },
    }))
    const { text } = await poisonedGet()
    expect(statusOf(text)).toBe(500)
    expect(errors[0]!.code).toBe('SWY_ERR_CALLBACK')
    expect(a.hits + b.hits).toBe(0)
  })

  it('a strategy whose pick throws: 500 SWY_ERR_CALLBACK naming it', async () => {
    let throws = false
    const picky: Strategy = {
      name: 'picky',
      pick(eligible) {
        if (throws) throw new TypeError('cannot read properties of undefined')
        return eligible[0]
      },
    }
    const up = await fakeUpstream()
    const { lb, url } = await serveBalancer({ upstreams: [up.url], strategy: picky })
    const errors: SwitchyardError[] = []
    lb.on('request:error', (e) => errors.push(e.error))
    throws = true
    const { text } = await rawExchange(url, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    throws = false
    expect(statusOf(text)).toBe(500)
    expect(errors[0]!.message).toContain("picky strategy's pick threw")
    await healthy(lb, url, [up])
  })

  it('a diagnostics_channel subscriber that sets an invalid header fails that request (500), not the process', async () => {
    const uncaught = watchUncaught()
    const up = await fakeUpstream()
    const { lb, url } = await serveBalancer({ upstreams: [up.url] })
    const attempts = channel('switchyard:attempt:start')
    const subscriber = (message: unknown) => (message as { setHeader(n: string, v: string): void }).setHeader('x-bad', 'a\nb')
    attempts.subscribe(subscriber)
    onTestFinished(() => void attempts.unsubscribe(subscriber))
    const res = await request(`${url}/x`)
    expect(res.statusCode).toBe(500)
    expect(((await res.body.json()) as { code: string }).code).toBe('SWY_ERR_CALLBACK')
    attempts.unsubscribe(subscriber)
    await healthy(lb, url, [up])
    expect(up.hits).toBe(1) // the healthy() request only
    expect(uncaught).toEqual([])
  })
})

describe('the other entry points hold the same line (issue 22)', () => {
  it('lb.fetch: a throwing requestHeaders resolves to a 500 Response (it never rejects)', async () => {
    const up = await fakeUpstream()
    const lb = createBalancer({
      upstreams: [up.url],
      requestHeaders: (h) => {
        if (h['x-poison'] !== undefined) decodeURIComponent('%E0%A4%A')
      },
    })
    onTestFinished(() => lb.close({ timeout: 1_000 }))
    const res = await lb.fetch(new Request('http://app.example/x', { headers: { 'x-poison': '1' } }))
    expect(res.status).toBe(500)
    expect(((await res.json()) as { code: string }).code).toBe('SWY_ERR_CALLBACK')
    const ok = await lb.fetch(new Request('http://app.example/x'))
    expect(ok.status).toBe(200)
    await ok.arrayBuffer()
    expect(up.hits).toBe(1)
  })

  it('lb.upgrade: a throwing requestHeaders answers 500 on the socket', async () => {
    const up = await fakeUpstream()
    const lb = createBalancer({
      upstreams: [up.url],
      requestHeaders: () => {
        throw new Error('boom')
      },
    })
    const { url } = await serveBalancer(lb)
    const { text } = await rawExchange(url, 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n')
    expect([statusOf(text), errorBodyOf(text).code]).toEqual([500, 'SWY_ERR_CALLBACK'])
    expect(up.hits).toBe(0)
  })

  it('lb.dispatcher: the caller’s onHeaders that throws gets its own error in onError; the upstream is not blamed', async () => {
    const a = await fakeUpstream()
    const b = await fakeUpstream()
    const { lb } = await serveBalancer({ upstreams: [a.url, b.url], retry: { attempts: 2 } })
    const thrown = new RangeError('the caller’s own bug')
    const got = await new Promise<unknown>((resolve) => {
      lb.dispatcher.dispatch({ origin: 'http://service', method: 'GET', path: '/' }, {
        onConnect() {},
        onHeaders() {
          throw thrown
        },
        onData: () => true,
        onComplete: () => resolve('completed'),
        onError: (err: unknown) => resolve(err),
      } as unknown as Dispatcher.DispatchHandler)
    })
    expect(got).toBe(thrown)
    expect(a.hits + b.hits).toBe(1) // not retried: the caller's error
    expect(lb.upstreams.map((u) => [u.state, u.failures])).toEqual([
      ['up', 0],
      ['up', 0],
    ])
  })

  it('lb.dispatcher: a caller’s onConnect that throws is told through onError, and nothing is sent', async () => {
    const up = await fakeUpstream()
    const { lb } = await serveBalancer({ upstreams: [up.url] })
    const thrown = new Error('onConnect bug')
    const got = await new Promise<unknown>((resolve) => {
      const ok = lb.dispatcher.dispatch({ origin: 'http://service', method: 'GET', path: '/' }, {
        onConnect() {
          throw thrown
        },
        onError: (err: unknown) => resolve(err),
      } as unknown as Dispatcher.DispatchHandler)
      expect(ok).toBe(false)
    })
    expect(got).toBe(thrown)
    expect(up.hits).toBe(0)
  })
})
