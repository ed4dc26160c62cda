import { describe, expect, it, onTestFinished } from 'vitest'
import { BadRequestError, createBalancer, type UpstreamHead } from '@switchyard/core'
import { fakeUpstream, get, inOrder, loopbackServer, rawExchange, serveBalancer, statusOf } from '@switchyard/testing'

/** Two healthy upstreams behind a fail-fast balancer (no panic mode), and who heard what. */
async function setup(options: { underscoresInHeaders?: boolean; trustProxy?: string[] } = {}) {
  const a = await fakeUpstream({ name: 'a' })
  const b = await fakeUpstream({ name: 'b' })
  const { lb, url } = await serveBalancer({
    upstreams: [a.url, b.url],
    panicThreshold: 0,
    strategy: inOrder(),
    ...options,
  })
  const downs: string[] = []
  lb.on('upstream:down', (e) => downs.push(e.id))
  return { a, b, lb, url, downs, hits: () => a.hits + b.hits, last: () => [...a.requests, ...b.requests].at(-1)! }
}

const req = (line: string, headers = 'Host: app.example\r\n') => `${line}\r\n${headers}Connection: close\r\n\r\n`

describe('a request the proxy cannot forward faithfully is the client’s error', () => {
  // Each row: the raw request, the status the balancer answers itself. Nothing reaches an upstream.
  const refused: Array<[string, string, number]> = [
    ['GET *', req('GET * HTTP/1.1'), 400],
    ['ws:// target', req('GET ws://app.example/chat HTTP/1.1'), 400],
    ['ftp:// target', req('GET ftp://app.example/file HTTP/1.1'), 400],
    ['duplicate Host', req('GET / HTTP/1.1', 'Host: a.example\r\nHost: b.example\r\n'), 400],
    ['Host forging a Forwarded element', req('GET / HTTP/1.1', 'Host: a";for=6.6.6.6;by="x\r\n'), 400],
    ['Host with a comma', req('GET / HTTP/1.1', 'Host: a.example, for=6.6.6.6\r\n'), 400],
    ['Host with a semicolon', req('GET / HTTP/1.1', 'Host: a.example;proto=https\r\n'), 400],
    ['Host with a slash', req('GET / HTTP/1.1', 'Host: a.example/x\r\n'), 400],
    ['Host with userinfo', req('GET / HTTP/1.1', 'Host: user@a.example\r\n'), 400],
    ['empty Host', req('GET / HTTP/1.1', 'Host: \r\n'), 400],
    ['path above the root', req('GET /../etc/passwd HTTP/1.1'), 400],
    ['path above the root, later', req('GET /a/../../etc/passwd HTTP/1.1'), 400],
    ['path above the root, escaped', req('GET /%2e%2e/etc/passwd HTTP/1.1'), 400],
    ['path above the root, absolute-form', req('GET http://app.example/../x HTTP/1.1'), 400],
  ]

  for (const [name, bytes, status] of refused) {
    it(`${name}: ${status}, no upstream hears of it, every upstream stays up`, async () => {
      const { lb, url, downs, hits } = await setup()
      const errors: string[] = []
      lb.on('request:error', (e) => errors.push(e.error.code))
      const res = await rawExchange(url, bytes)
      expect(statusOf(res.text)).toBe(status)
      expect(res.text).toContain('"code":"SWY_ERR_BAD_REQUEST"')
      expect(hits()).toBe(0)
      expect(downs).toEqual([])
      expect(lb.upstreams.map((u) => [u.state, u.failures])).toEqual([
        ['up', 0],
        ['up', 0],
      ])
      expect(errors).toEqual(['SWY_ERR_BAD_REQUEST'])
      // With panic mode off, a good request after it is served.
      expect((await get(url)).status).toBe(200)
    })
  }

  it('OPTIONS * is answered by the balancer itself', async () => {
    const { url, hits, downs } = await setup()
    const res = await rawExchange(url, req('OPTIONS * HTTP/1.1'))
    expect(statusOf(res.text)).toBe(200)
    expect(res.text.toLowerCase()).toContain('allow: get, head, post, put, delete, options, patch')
    expect(hits()).toBe(0)
    expect(downs).toEqual([])
  })

  it('more header lines than the server keeps: 431, never a request missing its Content-Length', async () => {
    const { url, hits, lb } = await setup()
    let many = ''
    for (let i = 0; i < 1_100; i++) many += `x-h${i}: v\r\n`
    const res = await rawExchange(url, `POST / HTTP/1.1\r\nHost: app.example\r\n${many}Content-Length: 5\r\nConnection: close\r\n\r\nhello`)
    expect(statusOf(res.text)).toBe(431) // from the balancer (Node 20), or from Node itself (22 and later refuse them)
    expect(hits()).toBe(0)
    expect(lb.upstreams.every((u) => u.state === 'up' && u.failures === 0)).toBe(true)
  })
})

describe('targets and headers sent upstream', () => {
  const absolute: Array<[string, string]> = [
    ['GET http://other.example/x?q=1 HTTP/1.1', '/x?q=1'],
    ['GET HTTP://other.example/x?q=1 HTTP/1.1', '/x?q=1'],
    ['GET HtTpS://other.example:8443/a/b HTTP/1.1', '/a/b'],
    ['GET http://other.example HTTP/1.1', '/'],
    ['GET http://other.example?q=2 HTTP/1.1', '/?q=2'],
    ['GET /a/./b/../c?x=.. HTTP/1.1', '/a/./b/../c?x=..'],
  ]
  for (const [line, sent] of absolute) {
    it(`${line.split(' ')[1]} is sent upstream as ${sent}`, async () => {
      const { url, last } = await setup()
      const res = await rawExchange(url, req(line))
      expect(statusOf(res.text)).toBe(200)
      expect(last().url).toBe(sent)
    })
  }

  it('quotes the Host in Forwarded, so no client can add an element', async () => {
    const { url, last } = await setup({ trustProxy: ['loopback'] }) // trusted: its Forwarded is kept, ours appended
    await rawExchange(url, req('GET / HTTP/1.1', 'Host: app.example:8080\r\nForwarded: for=1.2.3.4\r\n'))
    expect(last().headers.forwarded).toBe('for=1.2.3.4, for=127.0.0.1;proto=http;host="app.example:8080"')
  })

  it('drops underscore header names by default (nginx underscores_in_headers off) and never forwards Proxy', async () => {
    const { url, last } = await setup()
    await rawExchange(url, req('GET / HTTP/1.1', 'Host: app.example\r\nX_User: admin\r\nX-User: alice\r\nProxy: http://evil.example:3128\r\n'))
    expect(last().headers['x-user']).toBe('alice')
    expect(last().rawHeaders.map((h) => h.toLowerCase())).not.toContain('x_user')
    expect(last().headers.proxy).toBeUndefined()
  })

  it('forwards underscore header names with underscoresInHeaders: true', async () => {
    const { url, last } = await setup({ underscoresInHeaders: true })
    await rawExchange(url, req('GET / HTTP/1.1', 'Host: app.example\r\nX_User: admin\r\nProxy: http://evil.example:3128\r\n'))
    expect(last().rawHeaders).toContain('X_User')
    expect(last().headers.proxy).toBeUndefined()
  })
})

describe('hideHeaders (nginx proxy_hide_header)', () => {
  const upstreamHeaders = (_req: unknown, res: import('node:http').ServerResponse) => {
    res.setHeader('server', 'gunicorn/22.0.0')
    res.setHeader('x-powered-by', 'Flask')
    res.setHeader('x-backend-host', 'app-7.internal')
    res.setHeader('x-kept', 'yes')
    res.end('ok')
  }

  it('off by default: every end-to-end header is relayed', async () => {
    const up = await fakeUpstream({ handler: upstreamHeaders })
    const { url } = await serveBalancer({ upstreams: [up.url] })
    const res = await get(url)
    expect(res.headers).toMatchObject({ server: 'gunicorn/22.0.0', 'x-powered-by': 'Flask', 'x-backend-host': 'app-7.internal' })
  })

  it('true hides Server and X-Powered-By; a list hides those and the ones named, in any case', async () => {
    const up = await fakeUpstream({ handler: upstreamHeaders })
    const on = await serveBalancer({ upstreams: [up.url], hideHeaders: true })
    const a = await get(on.url)
    expect(a.headers.server).toBeUndefined()
    expect(a.headers['x-powered-by']).toBeUndefined()
    expect(a.headers['x-backend-host']).toBe('app-7.internal')
    const listed = await serveBalancer({ upstreams: [up.url], hideHeaders: ['X-Backend-Host'] })
    const b = await get(listed.url)
    expect(b.headers.server).toBeUndefined()
    expect(b.headers['x-backend-host']).toBeUndefined()
    expect(b.headers['x-kept']).toBe('yes')
  })
})

describe('lb.upstreamHead: what the handler will send, told before it is sent', () => {
  /** A server that asks upstreamHead, then proxies the same request; both are compared. */
  async function previewed(options: Partial<import('@switchyard/core').BalancerOptions> = {}) {
    const up = await fakeUpstream({ name: 'up' })
    const lb = createBalancer({ upstreams: [up.url], ...options })
    onTestFinished(() => lb.close())
    const heads: (UpstreamHead | Error)[] = []
    const { url } = await loopbackServer((req, res) => {
      try {
        heads.push(lb.upstreamHead(req))
      } catch (err) {
        heads.push(err as Error)
      }
      lb.handler(req, res)
    })
    return { up, url, heads }
  }
  /** undici's own framing and the upstream's Host are added on the wire, after the head. */
  const WIRE = new Set(['host', 'connection', 'content-length', 'transfer-encoding'])
  const pairs = (flat: readonly string[]) => {
    const out: string[] = []
    for (let i = 0; i < flat.length; i += 2) out.push(`${flat[i]!.toLowerCase()}: ${flat[i + 1]}`)
    return out.sort()
  }

  it('gives the headers and path the upstream receives: hop-by-hop, Connection-listed, Proxy, _ names and untrusted forwarding headers out, ours in', async () => {
    const { up, url, heads } = await previewed({ rewritePath: { stripPrefix: '/api' } })
    const bytes =
      'POST http://app.example/api/items?id=7 HTTP/1.1\r\nHost: app.example\r\nConnection: x-drop, close\r\nX-Drop: 1\r\nKeep-Alive: timeout=5\r\n' +
      'X_Under: 1\r\nProxy: http://evil.example\r\nX-Forwarded-For: 6.6.6.6\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nhi'
    expect(statusOf((await rawExchange(url, bytes)).text)).toBe(200)
    const head = heads[0] as UpstreamHead
    const got = up.requests[0]!
    expect(head.method).toBe('POST')
    expect(head.path).toBe('/items?id=7')
    expect(got.url).toBe(head.path)
    expect(pairs(head.headers).filter((h) => !WIRE.has(h.split(':')[0]!))).toEqual(pairs(got.rawHeaders).filter((h) => !WIRE.has(h.split(':')[0]!)))
    const names = pairs(head.headers).map((h) => h.split(':')[0])
    for (const gone of ['x-drop', 'keep-alive', 'x_under', 'proxy']) expect(names).not.toContain(gone)
    expect(pairs(head.headers)).toContain('x-forwarded-for: 127.0.0.1')
    expect(pairs(head.headers)).toContain('x-kept: yes')
  })

  it('throws what the handler answers for a request it refuses', async () => {
    const { up, url, heads } = await previewed()
    const res = await rawExchange(url, 'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n')
    expect(statusOf(res.text)).toBe(400)
    expect(heads[0]).toBeInstanceOf(BadRequestError)
    expect((heads[0] as BadRequestError).code).toBe('SWY_ERR_BAD_REQUEST')
    expect(up.hits).toBe(0)
  })

  it('applies requestHeaders, as the handler does', async () => {
    const { up, url, heads } = await previewed({ requestHeaders: { set: { 'x-tenant': 'blue' } } })
    expect(statusOf((await rawExchange(url, 'GET /t HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n')).text)).toBe(200)
    expect(pairs((heads[0] as UpstreamHead).headers)).toContain('x-tenant: blue')
    expect(up.requests[0]!.headers['x-tenant']).toBe('blue')
  })
})
