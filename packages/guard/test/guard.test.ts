import { once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import net, { type AddressInfo } from 'node:net'
import { createBalancer } from '@switchyard/core'
import { bodyLimit, compose, connectionLimit, ipFilter, KEY_BYTES, memoryStore, rateLimit } from '@switchyard/guard'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream, virtualClock } from '@switchyard/testing'

/** Serves compose(...guards, lb.handler) on 127.0.0.1:0 in front of one test upstream (answering `ok <body length>`). */
function guarded(...guards: Parameters<typeof compose>) {
  return guardedWith({ handler: (_req, res, self) => res.end(`ok ${self.requests.at(-1)!.bodyLength}`) }, ...guards)
}

async function guardedWith(upstream: Parameters<typeof fakeUpstream>[0], ...guards: Parameters<typeof compose>) {
  const up = await fakeUpstream(upstream)
  const lb = createBalancer({ upstreams: [up.url] })
  const server = http.createServer(compose(...guards, lb.handler))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    server.closeAllConnections()
    server.close()
    await lb.close({ timeout: 1_000 })
  })
  return { up, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

async function send(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  const res = await request(url, { method, headers, body })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text }
}

describe('ipFilter', () => {
  const cases: Array<[string, Parameters<typeof ipFilter>[0], Record<string, string>, number]> = [
    ['allowed by CIDR', { allow: ['127.0.0.0/8'] }, {}, 200],
    ['not in allow', { allow: ['10.0.0.0/8'] }, {}, 403],
    ['denied beats allowed', { allow: ['127.0.0.0/8'], deny: ['127.0.0.1'] }, {}, 403],
    ['IPv4-mapped IPv6 in the list matches the IPv4 client', { allow: ['::ffff:127.0.0.0/104'] }, {}, 200],
    ['a range name (ipaddr.js)', { allow: ['loopback'] }, {}, 200],
    ['IPv6 lists do not match an IPv4 client', { allow: ['::1/128', 'fe80::/10'] }, {}, 403],
    ['a spoofed X-Forwarded-For is ignored when nobody is trusted', { allow: ['203.0.113.0/24'] }, { 'x-forwarded-for': '203.0.113.9' }, 403],
    ['X-Forwarded-For believed from a trusted proxy', { allow: ['203.0.113.0/24'], trustProxy: ['127.0.0.1'] }, { 'x-forwarded-for': '203.0.113.9' }, 200],
    ['only as many hops as trusted', { deny: ['198.51.100.7'], trustProxy: 1 }, { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' }, 200],
    ['two trusted hops reach the client', { deny: ['198.51.100.7'], trustProxy: 2 }, { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' }, 403],
  ]
  for (const [name, options, headers, status] of cases) {
    it(`${name}: ${status}`, async () => {
      const { url, up } = await guarded(ipFilter(options))
      const res = await send(url, headers)
      expect(res.status).toBe(status)
      expect(up.hits).toBe(status === 200 ? 1 : 0)
      if (status === 403) expect(JSON.parse(res.text)).toMatchObject({ code: 'SWY_ERR_FORBIDDEN' })
    })
  }

  it('refuses bad entries at creation, naming them', () => {
    expect(() => ipFilter({ allow: ['10.0.0.0/33'] })).toThrow(/ipFilter\(\)\.allow\[0\] is not an address or CIDR range/)
    expect(() => ipFilter({ alow: [] } as never)).toThrow(/did you mean ipFilter\(\)\.allow/)
  })
})

describe('rateLimit (nginx limit_req semantics, on a virtual clock)', () => {
  it('rate 10/s, burst 0: one request per 100 ms; the next in less is 429 with Retry-After', async () => {
    const clock = virtualClock()
    const { url } = await guarded(rateLimit({ rate: 10, clock }))
    expect((await send(url)).status).toBe(200)
    const refused = await send(url)
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    expect(JSON.parse(refused.text)).toMatchObject({ code: 'SWY_ERR_RATE_LIMITED' })
    clock.advance(100)
    expect((await send(url)).status).toBe(200)
  })

  it('burst 2 with nodelay: three at once pass, the fourth is refused; one more 100 ms later', async () => {
    const clock = virtualClock()
    const { url } = await guarded(rateLimit({ rate: 10, burst: 2, nodelay: true, clock }))
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await send(url)).status)
    expect(statuses).toEqual([200, 200, 200, 429])
    clock.advance(100)
    expect((await send(url)).status).toBe(200)
    expect((await send(url)).status).toBe(429)
  })

  it('burst without nodelay: burst requests are delayed to the rate, not refused', async () => {
    const clock = virtualClock()
    const { url, up } = await guarded(rateLimit({ rate: 10, burst: 5, clock }))
    expect((await send(url)).status).toBe(200)
    const second = send(url) // excess 1: waits 100 ms of the limiter's clock
    await new Promise((r) => setTimeout(r, 50))
    expect(up.hits).toBe(1) // held back
    clock.advance(100)
    expect((await second).status).toBe(200)
    expect(up.hits).toBe(2)
  })

  it('headers: "always" sets the RateLimit fields on every answer', async () => {
    const { url } = await guarded(rateLimit({ rate: 5, burst: 3, nodelay: true, headers: 'always' }))
    const res = await send(url)
    expect(res.status).toBe(200)
    expect(res.headers['ratelimit-limit']).toBe('8')
    expect(res.headers['ratelimit-remaining']).toBe('3')
    expect(res.headers['ratelimit-reset']).toBe('0')
  })

  it('by default only a 429 carries the RateLimit fields, beside Retry-After', async () => {
    const clock = virtualClock()
    const { url } = await guarded(rateLimit({ rate: 10, burst: 1, nodelay: true, clock }))
    const passed = [await send(url), await send(url)]
    expect(passed.map((r) => r.status)).toEqual([200, 200])
    for (const r of passed) expect(Object.keys(r.headers).filter((h) => h.startsWith('ratelimit'))).toEqual([])
    const refused = await send(url)
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    expect(refused.headers['ratelimit-limit']).toBe('11')
    expect(refused.headers['ratelimit-remaining']).toBe('0')
    expect(refused.headers['ratelimit-reset']).toBe('1')
  })

  it('headers: "refused" sends the RateLimit fields on 429s only, "never" on none (Retry-After stays); a bad mode is refused', async () => {
    const clock = virtualClock()
    for (const mode of ['refused', 'never'] as const) {
      const { url } = await guarded(rateLimit({ rate: 10, headers: mode, clock }))
      const passed = await send(url)
      expect(passed.status).toBe(200)
      expect(passed.headers['ratelimit-limit']).toBeUndefined()
      const refused = await send(url)
      expect(refused.status).toBe(429)
      expect(refused.headers['retry-after']).toBe('1')
      expect(refused.headers['ratelimit-limit']).toBe(mode === 'refused' ? '10' : undefined)
      expect(refused.headers['ratelimit-remaining']).toBe(mode === 'refused' ? '0' : undefined)
    }
    expect(() => rateLimit({ rate: 10, headers: 'sometimes' as never })).toThrow(/rateLimit\(\)\.headers must be 'always', 'refused' or 'never', got "sometimes" \(string\)/)
  })

  it('the memory store stays within its bound under 10 000 distinct keys', () => {
    const store = memoryStore({ max: 1_000 })
    for (let i = 0; i < 10_000; i++) store.hit(`10.0.${i >> 8}.${i & 255}`, i, 10, 0)
    expect(store.size).toBe(1_000)
    // The most recent keys are the ones kept: the last is still limited.
    expect(store.hit('10.0.39.15', 10_000, 10, 0).allowed).toBe(false)
  })

  it('the memory store, when full, forgets the oldest key not seen again: a key hit since it was added gets a second chance', () => {
    const store = memoryStore({ max: 3 })
    // rate 1/s, burst 0: within a second a kept key's hit is refused, a forgotten key's passes.
    const kept = (key: string, now: number) => !store.hit(key, now, 1, 0).allowed
    for (const key of ['a', 'b', 'c']) store.hit(key, 0, 1, 0)
    expect(kept('a', 1)).toBe(true) // a is seen again
    store.hit('d', 2, 1, 0) // full: a is the oldest but was seen, so b goes
    expect(store.size).toBe(3)
    expect([kept('a', 3), kept('c', 3), kept('d', 3)]).toEqual([true, true, true]) // each seen again
    // b was forgotten: it starts afresh. Every key was seen since it last came up, so one pass
    // unmarks and moves them all (c, a, d), and then the oldest, c, goes.
    expect(kept('b', 4)).toBe(false)
    expect(store.size).toBe(3)
    // That pass left a and d unmarked, and a is now the oldest: the next newcomer takes its place.
    expect(kept('c', 5)).toBe(false)
    expect([kept('d', 6), kept('b', 6), kept('c', 6)]).toEqual([true, true, true])
    expect(kept('a', 6)).toBe(false)
    expect(store.size).toBe(3)
  })

  it('the memory store is bounded in bytes too: 100 000 keys of 8 KB stay within maxBytes (issue 22)', () => {
    const store = memoryStore({ maxBytes: 1024 * 1024 })
    const pad = 'z'.repeat(8_000)
    for (let i = 0; i < 100_000; i++) store.hit(`${i}-${pad}`, i, 10, 0)
    expect(store.bytes).toBeLessThanOrEqual(1024 * 1024)
    expect(store.size).toBe(Math.floor((1024 * 1024) / (KEY_BYTES + `99999-${pad}`.length)))
    // Short keys fill to the key bound first, as before.
    const short = memoryStore({ max: 100 })
    for (let i = 0; i < 1_000; i++) short.hit(`10.0.${i >> 8}.${i & 255}`, i, 10, 0)
    expect(short.size).toBe(100)
    expect(() => memoryStore({ maxBytes: 10 })).toThrow(/memoryStore\(\)\.maxBytes/)
  })

  it('with trustProxy, forged spellings of one address are one key; a kilobyte zone id is no key at all (issue 22)', async () => {
    const store = memoryStore()
    const { url } = await guarded(rateLimit({ rate: 1, burst: 0, nodelay: true, trustProxy: true, store }))
    expect((await send(url, { 'x-forwarded-for': '2001:db8::1' })).status).toBe(200)
    // The same client, written another way: limited by the same bucket.
    expect((await send(url, { 'x-forwarded-for': '2001:DB8:0:0:0:0:0:1' })).status).toBe(429)
    expect((await send(url, { 'x-forwarded-for': '2001:db8::1%eth0' })).status).toBe(429)
    // Not an address a proxy writes: the client is the proxy that sent it (the socket's peer).
    expect((await send(url, { 'x-forwarded-for': `fe80::1%${'z'.repeat(8_000)}` })).status).toBe(200)
    expect((await send(url, { 'x-forwarded-for': '001.002.003.004' })).status).toBe(429) // the peer again
    expect(store.size).toBe(2)
    expect(store.bytes).toBeLessThan(2 * (KEY_BYTES + 40))
  })
})

describe('connectionLimit (nginx limit_conn)', () => {
  it('max 2: a third request while two are in progress gets 503; after they end, it passes', async () => {
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    const { url, up } = await guardedWith({ handler: (_req, res) => void held.then(() => res.end('done')) }, connectionLimit({ max: 2 }))
    const a = send(url)
    const b = send(url)
    await expect.poll(() => up.hits).toBe(2)
    const third = await send(url)
    expect(third.status).toBe(503)
    expect(JSON.parse(third.text)).toMatchObject({ code: 'SWY_ERR_TOO_MANY_CONNECTIONS' })
    release()
    expect((await a).status).toBe(200)
    expect((await b).status).toBe(200)
    expect((await send(url)).status).toBe(200)
  })
})

describe('bodyLimit (nginx client_max_body_size)', () => {
  it('a declared Content-Length over the limit: 413 before the body is read; the upstream hears nothing', async () => {
    const { url, up } = await guarded(bodyLimit({ max: 1_000 }))
    const res = await send(url, { 'content-length': '5000' }, 'POST', 'x'.repeat(5_000))
    expect(res.status).toBe(413)
    expect(up.hits).toBe(0)
  })

  it('a body within the limit passes, whole', async () => {
    const { url } = await guarded(bodyLimit({ max: 1_000 }))
    const res = await send(url, {}, 'POST', 'x'.repeat(900))
    expect(res.text).toBe('ok 900')
  })

  it('a chunked upload that grows past the limit is cut there, without being buffered', async () => {
    const { url, up } = await guarded(bodyLimit({ max: 64 * 1024 }))
    const { port } = new URL(url)
    const socket = net.connect(Number(port), '127.0.0.1')
    await once(socket, 'connect')
    socket.on('error', () => {})
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => (text += c))
    socket.write('POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n')
    const chunk = 'y'.repeat(16 * 1024)
    let sent = 0
    // Sends up to 1 MiB in 16 KiB chunks; the server cuts it at 64 KiB.
    while (sent < 1024 * 1024 && !socket.destroyed && !text.includes('413')) {
      socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
      sent += chunk.length
      await new Promise((r) => setTimeout(r, 2))
    }
    await expect.poll(() => text.includes('HTTP/1.1 413')).toBe(true)
    socket.destroy()
    expect(sent).toBeLessThan(1024 * 1024) // it did not wait for the whole body
    expect(up.requests.every((r) => r.bodyLength <= 64 * 1024)).toBe(true)
  })
})

describe('bodyLimit over HTTP/2 (issue 22: h2 bodies need no Content-Length)', () => {
  /** `compose(bodyLimit, lb.handler)` on a cleartext HTTP/2 server, and a session to it. */
  async function h2Guarded(max: number) {
    const up = await fakeUpstream({ handler: (_req, res, self) => res.end(`ok ${self.requests.at(-1)!.bodyLength}`) })
    const lb = createBalancer({ upstreams: [up.url] })
    const handler = compose(bodyLimit({ max }), lb.handler) as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void
    const server = http2.createServer(handler)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    client.on('error', () => {})
    onTestFinished(async () => {
      client.destroy()
      await new Promise<void>((r) => server.close(() => r()))
      await lb.close({ timeout: 1_000 })
    })
    const post = async (body: Buffer, headers: http2.OutgoingHttpHeaders = {}) => {
      const stream = client.request({ ':method': 'POST', ':path': '/upload', ...headers })
      stream.on('error', () => {})
      stream.end(body)
      const [head] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
      let text = ''
      stream.setEncoding('utf8')
      stream.on('data', (c: string) => (text += c))
      await new Promise((r) => stream.once('close', r))
      return { status: head[':status'], text }
    }
    return { up, post, lb }
  }

  it('a 64 KiB POST with no Content-Length over max 1 024: 413, and no more than the limit reaches the upstream', async () => {
    const { up, post, lb } = await h2Guarded(1_024)
    const res = await post(Buffer.alloc(64 * 1024, 'x'))
    expect(res.status).toBe(413)
    expect(res.text).toContain('SWY_ERR_PAYLOAD_TOO_LARGE')
    // The upstream never got a whole request: the cut body failed upstream, it did not end.
    await expect.poll(() => lb.stats().active).toBe(0)
    expect(up.requests).toEqual([])
  })

  it('a body within the limit passes whole; a declared length over it is refused before the body', async () => {
    const { up, post } = await h2Guarded(1_024)
    expect(await post(Buffer.alloc(1_000, 'x'))).toEqual({ status: 200, text: 'ok 1000' })
    const declared = await post(Buffer.alloc(2_000, 'x'), { 'content-length': '2000' })
    expect(declared.status).toBe(413)
    expect(up.hits).toBe(1)
  })
})

describe('compose', () => {
  it('runs the chain in order and stops at the first answer', async () => {
    const order: string[] = []
    const { url, up } = await guarded(
      (_req, _res, next) => {
        order.push('a')
        next()
      },
      ipFilter({ deny: ['127.0.0.1'] }),
      (_req, _res, next) => {
        order.push('never')
        next()
      },
    )
    expect((await send(url)).status).toBe(403)
    expect(order).toEqual(['a'])
    expect(up.hits).toBe(0)
  })

  it('an error passed to next() is a 500', async () => {
    const { url } = await guarded((_req, _res, next) => next(new Error('boom')))
    expect((await send(url)).status).toBe(500)
  })
})
