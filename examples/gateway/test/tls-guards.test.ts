import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { Agent, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { makeTestPki, type TestPki } from '../../../test/helpers/tls.js'
import { type GatewayConfig, loadConfig, startGateway } from '../src/index.js'
import { deadPort, fakeUpstream, redisServer } from '@switchyard/testing'

/** Writes a PKI's server certificate and key to files, as a gateway config names them. */
function certFiles(pki: TestPki, dir = mkdtempSync(join(tmpdir(), 'gw-tls-'))): { cert: string; key: string; dir: string } {
  const cert = join(dir, 'server.crt')
  const key = join(dir, 'server.key')
  writeFileSync(cert, pki.server.cert)
  writeFileSync(key, pki.server.key)
  return { cert, key, dir }
}

async function gateway(config: Partial<GatewayConfig>) {
  const backend = await fakeUpstream({ name: 'backend' })
  const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), upstreams: [backend.url], port: 0, host: '127.0.0.1', ...config })
  onTestFinished(() => gw.close())
  return { gw, backend }
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to `port` is served. */
async function servedFingerprint(port: number, ca: string[]): Promise<string> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'upstream.test' })
  await once(socket, 'secureConnect')
  const fp = socket.getPeerCertificate().fingerprint256
  socket.destroy()
  return fp
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256

describe('gateway TLS termination', () => {
  it('serves HTTPS over HTTP/1.1 and HTTP/2 (ALPN) on one port, with a certificate made at test time', async () => {
    const pki = makeTestPki()
    const files = certFiles(pki)
    const { gw, backend } = await gateway({ tls: { cert: files.cert, key: files.key } })
    expect(gw.url).toMatch(/^https:\/\//)

    const agent = new Agent({ connect: { ca: pki.ca, servername: 'upstream.test' } })
    onTestFinished(() => agent.close())
    const res = await request(`https://127.0.0.1:${gw.port}/over-h1`, { dispatcher: agent })
    expect(res.statusCode).toBe(200)
    expect(((await res.body.json()) as { name: string }).name).toBe('backend')
    expect(backend.requests.at(-1)!.headers['x-forwarded-proto']).toBe('https')

    const session = http2.connect(`https://127.0.0.1:${gw.port}`, { ca: pki.ca, servername: 'upstream.test' })
    onTestFinished(() => session.close())
    await once(session, 'connect')
    expect(session.alpnProtocol).toBe('h2')
    const stream = session.request({ ':path': '/over-h2', ':method': 'GET' })
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
    let text = ''
    for await (const chunk of stream) text += chunk
    expect(headers[':status']).toBe(200)
    expect(JSON.parse(text).name).toBe('backend')
    expect(backend.requests.at(-1)!.url).toBe('/over-h2')
  })

  it('on close (SIGTERM), HTTP/2 sessions are told GOAWAY: the stream in flight finishes, no new one is taken, close() does not wait for clients to hang up (issue 22)', async () => {
    const pki = makeTestPki()
    const files = certFiles(pki)
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    const backend = await fakeUpstream({ name: 'slow', handler: (_req, res) => void held.then(() => res.end('late')) })
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), upstreams: [backend.url], port: 0, host: '127.0.0.1', tls: { cert: files.cert, key: files.key } })
    const session = http2.connect(`https://127.0.0.1:${gw.port}`, { ca: pki.ca, servername: 'upstream.test' })
    session.on('error', () => {})
    onTestFinished(() => session.destroy())
    await once(session, 'connect')
    const inFlight = session.request({ ':path': '/slow', ':method': 'GET' })
    await expect.poll(() => backend.hits).toBe(1)
    const goaway = once(session, 'goaway')
    const closed = gw.close()
    await goaway // sent at once, not when the client leaves
    // A new stream on the session is refused after GOAWAY: Node 20 throws at once; Node 22 and
    // later queue it and fail it. Either way it never reaches the backend.
    let refused = false
    try {
      const late = session.request({ ':path': '/new' })
      late.on('error', () => (refused = true))
      late.on('close', () => (refused ||= late.rstCode !== 0))
    } catch {
      refused = true
    }
    release()
    const [head] = (await once(inFlight, 'response')) as [http2.IncomingHttpHeaders]
    let text = ''
    for await (const chunk of inFlight) text += chunk
    expect([head[':status'], text]).toEqual([200, 'late'])
    const started = performance.now()
    await closed // the session ends with its last stream; the client never hung up
    expect(performance.now() - started).toBeLessThan(2_000)
    await expect.poll(() => refused).toBe(true)
    expect(backend.hits).toBe(1)
  })

  it('redirects plain HTTP to HTTPS: 301 for GET, 308 for POST, 400 without a Host', async () => {
    const pki = makeTestPki()
    const files = certFiles(pki)
    const { gw } = await gateway({ tls: { cert: files.cert, key: files.key, redirectFrom: 0 } })
    const from = `http://127.0.0.1:${gw.redirect!.port}`
    const get = await request(`${from}/shop/cart?x=1`, { headers: { host: 'app.example:8080' } })
    expect(get.statusCode).toBe(301)
    expect(get.headers.location).toBe(`https://app.example:${gw.port}/shop/cart?x=1`)
    await get.body.dump()
    const post = await request(`${from}/orders`, { method: 'POST', body: '{}', headers: { host: 'app.example' } })
    expect(post.statusCode).toBe(308) // the method is kept
    expect(post.headers.location).toBe(`https://app.example:${gw.port}/orders`)
    await post.body.dump()
    const raw = net.connect(gw.redirect!.port, '127.0.0.1')
    raw.end('GET / HTTP/1.0\r\n\r\n')
    let answer = ''
    for await (const chunk of raw) answer += chunk
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
  })

  it('reloads the certificate without a restart (reloadTls, as SIGHUP does), and keeps the old one when the new pair is bad', async () => {
    const first = makeTestPki()
    const second = makeTestPki()
    const files = certFiles(first)
    const { gw } = await gateway({ tls: { cert: files.cert, key: files.key, watchInterval: 0 } })
    const cas = [first.ca, second.ca]
    expect(await servedFingerprint(gw.port, cas)).toBe(fingerprintOf(first.server.cert))

    // A key that is not the certificate's: refused, and the old pair keeps serving.
    writeFileSync(files.cert, second.server.cert)
    expect(() => gw.reloadTls()).toThrow(expect.objectContaining({ code: 'SWY_ERR_INVALID_OPTION', field: 'tls' }))
    expect(await servedFingerprint(gw.port, cas)).toBe(fingerprintOf(first.server.cert))

    writeFileSync(files.key, second.server.key)
    gw.reloadTls()
    expect(await servedFingerprint(gw.port, cas)).toBe(fingerprintOf(second.server.cert))
  })

  it('watches the certificate files and reloads when a renewal replaces them', async () => {
    const first = makeTestPki()
    const second = makeTestPki()
    const files = certFiles(first)
    const { gw } = await gateway({ tls: { cert: files.cert, key: files.key, watchInterval: 50 } })
    const cas = [first.ca, second.ca]
    expect(await servedFingerprint(gw.port, cas)).toBe(fingerprintOf(first.server.cert))
    await new Promise((r) => setTimeout(r, 60)) // a later mtime than the first write, on coarse clocks
    writeFileSync(files.key, second.server.key)
    writeFileSync(files.cert, second.server.cert)
    await expect.poll(() => servedFingerprint(gw.port, cas), { timeout: 5_000 }).toBe(fingerprintOf(second.server.cert))
  })

  it('refuses a missing certificate file at start, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-'))
    const file = join(dir, 'gw.json')
    writeFileSync(file, JSON.stringify({ tls: { cert: join(dir, 'nope.crt'), key: join(dir, 'nope.key') } }))
    const config = loadConfig(['--config', file], {})
    return expect(startGateway({ ...config, port: 0, host: '127.0.0.1' })).rejects.toMatchObject({
      code: 'SWY_ERR_INVALID_OPTION',
      field: 'tls.cert',
      message: expect.stringContaining('nope.crt'),
    })
  })
})

describe('gateway guards by name', () => {
  it('ipFilter, requestFilter and rateLimit from a config file, in front of the balancer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-'))
    const file = join(dir, 'gw.json')
    writeFileSync(
      file,
      JSON.stringify({
        guards: {
          rateLimit: { rate: 1, burst: 2, nodelay: true },
          ipFilter: { allow: ['127.0.0.0/8', '::1'] },
          requestFilter: { starter: true, rules: [{ name: 'no-admin', denyPath: '^/admin' }] },
        },
      }),
    )
    const { gw, backend } = await gateway({ guards: loadConfig(['--config', file], {}).guards })
    expect(gw.guards).toEqual(['ipFilter', 'requestFilter', 'rateLimit']) // a fixed order, whatever the file's
    const url = `http://127.0.0.1:${gw.port}`
    const status = async (path: string) => {
      const res = await request(`${url}${path}`)
      await res.body.dump()
      return res.statusCode
    }
    expect(await status('/ADMIN/users')).toBe(403) // the config's own rule, case-insensitive
    expect(await status("/search?q=1'%20OR%201=1")).toBe(403) // a starter rule
    expect(backend.hits).toBe(0) // blocked requests used no tokens and reached nobody
    expect([await status('/'), await status('/'), await status('/'), await status('/')]).toEqual([200, 200, 200, 429])
    expect(backend.hits).toBe(3)
  })

  it('rateLimit "headers": "never" keeps the policy private: no RateLimit fields, a 429 still says Retry-After', async () => {
    const { gw } = await gateway({ guards: { rateLimit: { rate: 1, headers: 'never' } } })
    const first = await request(`http://127.0.0.1:${gw.port}/`)
    await first.body.dump()
    expect(first.statusCode).toBe(200)
    expect(first.headers['ratelimit-limit']).toBeUndefined()
    const second = await request(`http://127.0.0.1:${gw.port}/`)
    await second.body.dump()
    expect(second.statusCode).toBe(429)
    expect(second.headers['retry-after']).toBe('1')
    expect(second.headers['ratelimit-remaining']).toBeUndefined()
  })

  it('denies by address before anything else', async () => {
    const { gw, backend } = await gateway({ guards: { ipFilter: { deny: ['127.0.0.1'] } } })
    const res = await request(`http://127.0.0.1:${gw.port}/`)
    expect(res.statusCode).toBe(403)
    await res.body.dump()
    expect(backend.hits).toBe(0)
  })

  it('names the guard and option of a bad config, and suggests the nearest guard name', async () => {
    const start = (guards: unknown) =>
      startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), upstreams: ['http://127.0.0.1:1'], port: 0, host: '127.0.0.1', guards: guards as GatewayConfig['guards'] })
    await expect(start({ rateLimits: { rate: 1 } })).rejects.toThrow(/did you mean guards.rateLimit\?/)
    await expect(start({ rateLimit: { rate: 1, burst: -1 } })).rejects.toMatchObject({ field: 'guards.rateLimit.burst' })
    await expect(start({ rateLimit: { rate: 1, headers: 'no' } })).rejects.toMatchObject({ field: 'guards.rateLimit.headers' })
    await expect(start({ requestFilter: { rules: [{ name: 'x', denyPath: '(' }] } })).rejects.toMatchObject({
      field: 'guards.requestFilter.rules[0].denyPath',
    })
  })

  it('two gateways sharing one Redis share one rate limit', async () => {
    const redis = await redisServer()
    const guards = { rateLimit: { rate: 1, burst: 2, nodelay: true, store: { redis: redis.url } } }
    const a = await gateway({ guards })
    const b = await gateway({ guards })
    const status = async (port: number) => {
      const res = await request(`http://127.0.0.1:${port}/`)
      await res.body.dump()
      return res.statusCode
    }
    // 1 + burst 2 for the one client address, across both gateways.
    expect([await status(a.gw.port), await status(b.gw.port), await status(a.gw.port), await status(b.gw.port)]).toEqual([200, 200, 200, 429])
  })

  it('a rate-limit Redis that cannot be reached fails the start at once, and a reload keeps the old config (issue 22)', async () => {
    const port = await deadPort()
    const bad = { rateLimit: { rate: 1, store: { redis: `redis://127.0.0.1:${port}` } } }
    const started = performance.now()
    await expect(gateway({ guards: bad })).rejects.toMatchObject({ code: 'SWY_ERR_INVALID_OPTION', field: 'guards.rateLimit.store.redis' })
    expect(performance.now() - started).toBeLessThan(3_000)

    const { gw } = await gateway({ guards: { rateLimit: { rate: 1_000 } } })
    const config = { ...loadConfig([], { ACCESS_LOG: 'off' }), upstreams: gw.lb.upstreams.map((u) => u.url), port: gw.port, host: '127.0.0.1' }
    await expect(gw.reload({ ...config, guards: bad })).rejects.toMatchObject({ field: 'guards.rateLimit.store.redis' })
    const res = await request(`http://127.0.0.1:${gw.port}/`)
    expect(res.statusCode).toBe(200) // the old config serves on
    await res.body.dump()
    // A later reload does not queue behind the failed one forever, and close() still finishes.
    await gw.reload({ ...config, guards: { requestFilter: { starter: true } } })
    expect(gw.guards).toEqual(['requestFilter'])
  })

  it('the demo runs the starter request filter', async () => {
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => gw.close())
    expect(gw.guards).toEqual(['requestFilter'])
    const probe = await request(`http://127.0.0.1:${gw.port}/?q=%3Cscript%3Ealert(1)%3C/script%3E`)
    expect(probe.statusCode).toBe(403)
    await probe.body.dump()
    const plain = await request(`http://127.0.0.1:${gw.port}/`)
    expect(plain.statusCode).toBe(200)
    await plain.body.dump()
  })
})

describe('gateway WebSockets', () => {
  async function echoUpstream() {
    const server = http.createServer()
    const wss = new WebSocketServer({ server })
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo:${data}`)))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    onTestFinished(async () => {
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    })
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`
  }

  async function echo(url: string, options?: ConstructorParameters<typeof WebSocket>[2]): Promise<string> {
    const ws = new WebSocket(url, options)
    onTestFinished(() => ws.terminate())
    await once(ws, 'open')
    const reply = once(ws, 'message')
    ws.send('hi')
    return String((await reply)[0])
  }

  it('proxies WebSockets, behind the guards too', async () => {
    const upstream = await echoUpstream()
    const open = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), upstreams: [upstream], port: 0, host: '127.0.0.1' })
    onTestFinished(() => open.close())
    expect(await echo(`ws://127.0.0.1:${open.port}/`)).toBe('echo:hi')

    const guarded = await startGateway({
      ...loadConfig([], { ACCESS_LOG: 'off' }),
      upstreams: [upstream],
      port: 0,
      host: '127.0.0.1',
      guards: { requestFilter: { starter: true }, rateLimit: { rate: 1, burst: 1, nodelay: true } },
    })
    onTestFinished(() => guarded.close())
    const ws = `ws://127.0.0.1:${guarded.port}`
    expect(await echo(`${ws}/`)).toBe('echo:hi')
    const refusedWith = async (url: string) => {
      const client = new WebSocket(url)
      client.on('error', () => {})
      const [, res] = (await once(client, 'unexpected-response')) as [unknown, http.IncomingMessage]
      res.resume()
      client.terminate()
      return res.statusCode
    }
    expect(await refusedWith(`${ws}/?q=%3Cscript%3E`)).toBe(403) // the request filter sees the handshake
    expect(await echo(`${ws}/`)).toBe('echo:hi') // the burst's second token
    expect(await refusedWith(`${ws}/`)).toBe(429) // and the rate limit counts handshakes
  })

  it('proxies wss:// through TLS termination', async () => {
    const upstream = await echoUpstream()
    const pki = makeTestPki()
    const files = certFiles(pki)
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), upstreams: [upstream], port: 0, host: '127.0.0.1', tls: { cert: files.cert, key: files.key } })
    onTestFinished(() => gw.close())
    expect(await echo(`wss://127.0.0.1:${gw.port}/`, { ca: pki.ca, servername: 'upstream.test' })).toBe('echo:hi')
  })
})
