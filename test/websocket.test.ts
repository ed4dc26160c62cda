import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { type BalancerOptions, createBalancer } from '@switchyard/core'
import { ipHash } from '@switchyard/strategies'
import { WebSocket as UndiciWebSocket } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { deadPort, serveBalancer } from '@switchyard/testing'

/** A WebSocket upstream on 127.0.0.1:0 that echoes, names itself, and can be made to misbehave. */
async function wsUpstream(name: string, options: { refuse?: number } = {}) {
  const server = http.createServer((_req, res) => res.end(name))
  const wss = new WebSocketServer({
    server,
    verifyClient: options.refuse === undefined ? undefined : (_info, cb) => cb(false, options.refuse),
  })
  const sockets = new Set<WebSocket>()
  const handshakes: http.IncomingMessage[] = []
  wss.on('connection', (ws, req) => {
    sockets.add(ws)
    handshakes.push(req)
    ws.on('close', () => sockets.delete(ws))
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? undefined : data.toString()
      if (text === 'who') ws.send(name)
      else if (text?.startsWith('close:')) ws.close(Number(text.slice(6)), 'bye')
      else ws.send(data, { binary: isBinary })
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    for (const ws of wss.clients) ws.terminate()
    wss.close()
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  })
  const { port } = server.address() as AddressInfo
  return { name, url: `http://127.0.0.1:${port}`, sockets, handshakes, wss }
}

/** A proxy server with the balancer's handler and its upgrade listener. */
async function wsProxy(options: BalancerOptions, withUpgrade = true) {
  const lb = createBalancer(options)
  const { url, server } = await serveBalancer(lb)
  if (!withUpgrade) server.removeAllListeners('upgrade')
  return { lb, ws: url.replace(/^http/, 'ws'), http: url }
}

async function connect(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url)
  onTestFinished(() => ws.terminate())
  await once(ws, 'open')
  return ws
}

/** A handshake the proxy or the upstream refuses: the HTTP response the client got instead of a 101. */
async function refused(url: string): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url)
  ws.on('error', () => {}) // 'unexpected-response' is the answer; the abort after it is expected
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage]
  let body = ''
  for await (const chunk of res) body += chunk
  ws.terminate()
  return { status: res.statusCode!, body }
}

async function roundTrip(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  const reply = once(ws, 'message') as Promise<[Buffer, boolean]>
  ws.send(data)
  const [got, isBinary] = await reply
  return { data: got, isBinary }
}

describe('WebSocket through lb.upgrade', () => {
  it('echoes text and binary frames, and forwards the handshake with forwarding headers', async () => {
    const up = await wsUpstream('a')
    const { ws: url, lb } = await wsProxy({ upstreams: [up.url] })
    const ws = await connect(`${url}/chat?room=1`)
    expect((await roundTrip(ws, 'hello')).data.toString()).toBe('hello')
    const binary = Buffer.from([0, 1, 2, 255, 254])
    const back = await roundTrip(ws, binary)
    expect(back.isBinary).toBe(true)
    expect(Buffer.compare(back.data, binary)).toBe(0)
    const big = Buffer.alloc(1024 * 1024, 7) // spans many TCP segments both ways
    expect((await roundTrip(ws, big)).data.length).toBe(big.length)
    const handshake = up.handshakes[0]!
    expect(handshake.url).toBe('/chat?room=1')
    expect(handshake.headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(lb.upstreams[0]!.inFlight).toBe(1) // the open tunnel holds its slot
    ws.close(1000)
    await once(ws, 'close')
    await expect.poll(() => lb.upstreams[0]!.inFlight).toBe(0)
    expect(lb.stats().requests).toBe(1)
  })

  it('works with undici’s WebSocket client too', async () => {
    const up = await wsUpstream('a')
    const { ws: url } = await wsProxy({ upstreams: [up.url] })
    const ws = new UndiciWebSocket(url)
    onTestFinished(() => ws.close())
    await new Promise((resolve, reject) => {
      ws.onopen = resolve
      ws.onerror = reject
    })
    const reply = new Promise<string>((resolve) => {
      ws.onmessage = (e) => resolve(String(e.data))
    })
    ws.send('via undici')
    expect(await reply).toBe('via undici')
  })

  it('passes close codes both ways', async () => {
    const up = await wsUpstream('a')
    const { ws: url } = await wsProxy({ upstreams: [up.url] })
    const ws = await connect(url)
    const closed = once(ws, 'close') as Promise<[number, Buffer]>
    ws.send('close:4001')
    const [code, reason] = await closed
    expect(code).toBe(4001)
    expect(reason.toString()).toBe('bye')

    const ws2 = await connect(url)
    await expect.poll(() => up.sockets.size).toBe(1)
    const server = [...up.sockets][0]!
    const seen = once(server, 'close') as Promise<[number, Buffer]>
    ws2.close(4002, 'client done')
    const [code2, reason2] = await seen
    expect(code2).toBe(4002)
    expect(reason2.toString()).toBe('client done')
  })

  it('an upstream dying mid-session closes the client’s side and frees the slot', async () => {
    const up = await wsUpstream('a')
    const { ws: url, lb } = await wsProxy({ upstreams: [up.url] })
    const ws = await connect(url)
    await roundTrip(ws, 'ping')
    const closed = once(ws, 'close') as Promise<[number, Buffer]>
    for (const s of up.sockets) s.terminate() // the TCP connection is cut, no close frame
    const [code] = await closed
    expect(code).toBe(1006) // abnormal closure, as a direct connection would see
    await expect.poll(() => lb.upstreams[0]!.inFlight).toBe(0)
    expect(lb.upstreams[0]!.state).toBe('up') // a closed tunnel is not a failed request
  })

  it('timeouts.tunnelIdle: a tunnel with no bytes either way closes and frees its slot; one in use stays open (issue 22)', async () => {
    const up = await wsUpstream('a')
    const { ws: url, lb } = await wsProxy({ upstreams: [up.url], timeouts: { tunnelIdle: 300 } })
    const busy = await connect(url)
    const quiet = await connect(url)
    const quietClosed = once(quiet, 'close')
    const started = performance.now()
    const ping = setInterval(() => busy.send('ping'), 50)
    onTestFinished(() => clearInterval(ping))
    await quietClosed
    expect(performance.now() - started).toBeGreaterThanOrEqual(250)
    expect(performance.now() - started).toBeLessThan(1_500)
    let echoes = 0
    busy.on('message', () => echoes++)
    await new Promise((r) => setTimeout(r, 400)) // past the limit again: the busy one lives on
    clearInterval(ping)
    expect(busy.readyState).toBe(WebSocket.OPEN)
    expect(echoes).toBeGreaterThan(3)
    await expect.poll(() => lb.upstreams[0]!.inFlight).toBe(1)
    expect(lb.upstreams[0]!.state).toBe('up')
  })

  it('timeouts.send: a client that stops reading its tunnel is cut off, and the upstream slot freed (issue 22)', async () => {
    const up = await wsUpstream('a')
    const { http: base, lb } = await wsProxy({ upstreams: [up.url], timeouts: { send: 300, tunnelIdle: 60_000 } })
    // A raw client: it completes the handshake, asks for a flood, then never reads again.
    const { port } = new URL(base)
    const socket = net.connect(Number(port), '127.0.0.1')
    socket.on('error', () => {})
    onTestFinished(() => void socket.destroy())
    await once(socket, 'connect')
    socket.write('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
    await once(socket, 'data')
    socket.pause()
    await expect.poll(() => up.sockets.size).toBe(1)
    const server = [...up.sockets][0]!
    const flood = setInterval(() => server.send(Buffer.alloc(256 * 1024)), 5)
    onTestFinished(() => clearInterval(flood))
    const closed = once(server, 'close')
    const started = performance.now()
    await closed
    clearInterval(flood)
    expect(performance.now() - started).toBeLessThan(3_000)
    await expect.poll(() => lb.upstreams[0]!.inFlight).toBe(0)
    expect(lb.upstreams[0]!.state).toBe('up')
  })

  it('retries the handshake on another upstream when the first refuses the connection', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`
    const up = await wsUpstream('b')
    const { ws: url } = await wsProxy({ upstreams: [dead, up.url], strategy: ipHash(), passive: { maxFails: 0 } })
    for (let i = 0; i < 4; i++) {
      const ws = await connect(url)
      expect((await roundTrip(ws, 'who')).data.toString()).toBe('b')
      ws.close()
    }
  })

  it('relays an upstream’s refusal (403) and closes the connection', async () => {
    const up = await wsUpstream('a', { refuse: 403 })
    const { ws: url, lb } = await wsProxy({ upstreams: [up.url] })
    expect((await refused(url)).status).toBe(403)
    await expect.poll(() => lb.upstreams[0]!.inFlight).toBe(0)
  })

  it('answers the JSON error (502) when the only upstream refuses the connection, and 503 when none is up', async () => {
    const dead = [`http://127.0.0.1:${await deadPort()}`, `http://127.0.0.1:${await deadPort()}`]
    const { ws: url } = await wsProxy({ upstreams: dead, retry: { attempts: 1 }, panicThreshold: 0 })
    for (let i = 0; i < 2; i++) {
      const first = await refused(url)
      expect(first.status).toBe(502)
      expect(JSON.parse(first.body)).toMatchObject({ code: 'SWY_ERR_UPSTREAM' })
    }
    const next = await refused(url) // passive health took both out (max_fails 1)
    expect(next.status).toBe(503)
    expect(JSON.parse(next.body)).toMatchObject({ code: 'SWY_ERR_NO_UPSTREAM' })
  })

  it('a hash strategy keeps a client on one upstream for its WebSockets (Socket.IO needs it)', async () => {
    const ups = await Promise.all(['a', 'b', 'c'].map((n) => wsUpstream(n)))
    const { ws: url } = await wsProxy({ upstreams: ups.map((u) => u.url), strategy: ipHash() })
    const names = new Set<string>()
    for (let i = 0; i < 6; i++) {
      const ws = await connect(url)
      names.add((await roundTrip(ws, 'who')).data.toString())
      ws.close()
    }
    expect(names.size).toBe(1)
  })

  it('respects maxConnections: tunnels spread, and a full upstream is passed over', async () => {
    const ups = await Promise.all(['a', 'b'].map((n) => wsUpstream(n)))
    const { ws: url, lb } = await wsProxy({ upstreams: ups.map((u) => ({ url: u.url, maxConnections: 1 })) })
    const one = await connect(url)
    const two = await connect(url)
    const names = [(await roundTrip(one, 'who')).data.toString(), (await roundTrip(two, 'who')).data.toString()]
    expect(new Set(names)).toEqual(new Set(['a', 'b']))
    expect(lb.upstreams.map((u) => u.inFlight)).toEqual([1, 1])
  })

  it('close() ends tunnels still open after its grace period', async () => {
    const up = await wsUpstream('a')
    const lb = createBalancer({ upstreams: [up.url] })
    const server = http.createServer(lb.handler).on('upgrade', lb.upgrade).listen(0, '127.0.0.1')
    await once(server, 'listening')
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())))
    const ws = await connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)
    await roundTrip(ws, 'x')
    const closed = once(ws, 'close')
    const t0 = performance.now()
    await lb.close({ timeout: 200 })
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150) // it waited for the tunnel first
    await closed
  })

  it('without an upgrade listener, a WebSocket handshake reaching lb.handler is refused with 501, never relayed as a GET', async () => {
    const up = await wsUpstream('a')
    const { ws: url } = await wsProxy({ upstreams: [up.url] }, false)
    const answer = await refused(url)
    expect(answer.status).toBe(501)
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'SWY_ERR_UPGRADE_UNHANDLED' })
    expect(up.handshakes).toHaveLength(0)
  })

  it('an h2c upgrade (curl --http2) is ignored, as RFC 9110 allows, and proxied as a plain request', async () => {
    const up = await wsUpstream('a')
    const { http: base } = await wsProxy({ upstreams: [up.url] }, false)
    const socket = net.connect(Number(new URL(base).port), '127.0.0.1')
    onTestFinished(() => void socket.destroy())
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n')
    let answer = ''
    socket.on('data', (chunk) => {
      answer += chunk
    })
    await expect.poll(() => answer).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\na$/)
  })

  it('carries 1 000 concurrent tunnels', async () => {
    const ups = await Promise.all(['a', 'b'].map((n) => wsUpstream(n)))
    const { ws: url, lb } = await wsProxy({ upstreams: ups.map((u) => u.url) })
    const clients = await Promise.all(Array.from({ length: 1_000 }, () => connect(url)))
    expect(lb.upstreams.reduce((n, u) => n + u.inFlight, 0)).toBe(1_000)
    const replies = await Promise.all(clients.map((ws, i) => roundTrip(ws, `m${i}`)))
    expect(replies.every((r, i) => r.data.toString() === `m${i}`)).toBe(true)
    await Promise.all(
      clients.map((ws) => {
        const closed = once(ws, 'close')
        ws.close()
        return closed
      }),
    )
    await expect.poll(() => lb.upstreams.reduce((n, u) => n + u.inFlight, 0)).toBe(0)
  })
})
