import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@switchyard/core'
import { describe, expect, it, onTestFinished } from 'vitest'
import { rawExchange, serveBalancer, statusOf } from '@switchyard/testing'

/**
 * One request head, through every entry (issue 22 and 24): `lb.handler`, `lb.fetch`,
 * `lb.upgrade` and `lb.dispatcher` prepare it in one pass (entry/prepare.ts), so the upstream
 * receives the same header set from each. The dispatcher's request is one this process makes
 * itself: it gets the same hop-by-hop hygiene, and its caller's own forwarding headers and names
 * go as the caller wrote them (no client hop to describe; trusted code).
 */

/** A raw upstream recording each request's header names and values, as a plain request and as an upgrade. */
async function recordingUpstream() {
  const seen: Array<Record<string, string>> = []
  const record = (req: http.IncomingMessage) => {
    const headers: Record<string, string> = {}
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!.toLowerCase()
      headers[name] = headers[name] === undefined ? req.rawHeaders[i + 1]! : `${headers[name]}, ${req.rawHeaders[i + 1]}`
    }
    seen.push(headers)
  }
  const server = http.createServer((req, res) => {
    record(req)
    res.end('ok')
  })
  server.on('upgrade', (req, socket) => {
    record(req)
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(() => {
    server.closeAllConnections()
    return new Promise<void>((r) => server.close(() => r()))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

/** The client's headers: what each rule is about, and what must pass. */
const SENT: Array<[string, string]> = [
  ['Host', 'app.example'],
  ['X-Keep', 'yes'], // an ordinary header: passes
  ['X_Custom', '1'], // underscores: dropped (nginx underscores_in_headers off)
  ['X-Secret', 's'], // named by Connection: dropped
  ['Keep-Alive', 'timeout=5'], // hop-by-hop: dropped
  ['Proxy-Connection', 'keep-alive'], // hop-by-hop: dropped
  ['TE', 'gzip'], // hop-by-hop (only "trailers" passes): dropped
  ['Proxy', 'http://evil.example'], // httpoxy: dropped
  ['X-Forwarded-For', '6.6.6.6'], // from an untrusted client: replaced
  ['X-Forwarded-Host', 'evil.example'], // replaced
  ['Forwarded', 'for=evil'], // replaced
]

/** What the upstream must see from every entry (beside the entry's own: Upgrade and Connection on an upgrade). */
const EXPECTED = {
  host: 'app.example',
  'x-keep': 'yes',
  'x-forwarded-for': '127.0.0.1',
  'x-forwarded-proto': 'http',
  'x-forwarded-host': 'app.example',
  forwarded: 'for=127.0.0.1;proto=http;host="app.example"',
}

const GONE = ['x_custom', 'x-secret', 'keep-alive', 'proxy-connection', 'te', 'proxy']

async function proxy() {
  const up = await recordingUpstream()
  const lb = createBalancer({ upstreams: [up.url] })
  const { url } = await serveBalancer(lb)
  return { lb, up, url }
}

const head = (extra: string) => SENT.map(([n, v]) => `${n}: ${v}\r\n`).join('') + extra

describe('every entry sends the upstream the same header set', () => {
  const entries: Array<[string, (p: Awaited<ReturnType<typeof proxy>>) => Promise<unknown>]> = [
    ['lb.handler', ({ url }) => rawExchange(url, `GET /x HTTP/1.1\r\n${head('Connection: x-secret, close\r\n')}\r\n`)],
    [
      'lb.fetch',
      ({ lb }) =>
        lb.fetch(new Request('http://app.example/x', { headers: [...SENT, ['Connection', 'x-secret']] }), { remoteAddress: '127.0.0.1' }).then((r) => r.text()),
    ],
    [
      'lb.upgrade',
      ({ url }) =>
        rawExchange(url, `GET /x HTTP/1.1\r\n${head('Connection: upgrade, x-secret\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n')}\r\n`),
    ],
  ]
  for (const [entry, send] of entries) {
    it(entry, async () => {
      const p = await proxy()
      await send(p)
      expect(p.up.seen).toHaveLength(1)
      const got = p.up.seen[0]!
      expect(got).toMatchObject(EXPECTED)
      for (const name of GONE) expect(got[name], name).toBeUndefined()
      if (entry === 'lb.upgrade') expect(got.upgrade).toBe('websocket')
      else expect(got.connection ?? 'keep-alive').toMatch(/^keep-alive$|^close$/i)
    })
  }

  it('lb.dispatcher: the same hygiene; the caller’s forwarding headers and names kept, none added', async () => {
    const p = await proxy()
    const { request } = await import('undici')
    const res = await request('http://app.example/x', { dispatcher: p.lb.dispatcher, headers: [...SENT.flat(), 'Connection', 'x-secret'] })
    await res.body.dump()
    expect(p.up.seen).toHaveLength(1)
    const got = p.up.seen[0]!
    for (const name of ['x-secret', 'keep-alive', 'proxy-connection', 'te', 'proxy']) expect(got[name], name).toBeUndefined()
    expect(got).toMatchObject({
      host: 'app.example',
      'x-keep': 'yes',
      x_custom: '1',
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-host': 'evil.example',
      forwarded: 'for=evil',
    })
    expect(got['x-forwarded-proto']).toBeUndefined()
  })

  it('a malformed Host is refused with 400 by lb.handler and lb.fetch alike, never copied into X-Forwarded-Host', async () => {
    const p = await proxy()
    const viaHandler = await rawExchange(p.url, 'GET /x HTTP/1.1\r\nHost: a"b\r\nConnection: close\r\n\r\n')
    expect(statusOf(viaHandler.text)).toBe(400)
    const viaFetch = await p.lb.fetch(new Request('http://app.example/x', { headers: { host: 'a"b' } }))
    expect(viaFetch.status).toBe(400)
    expect(((await viaFetch.json()) as { code: string }).code).toBe('SWY_ERR_BAD_REQUEST')
    expect(p.up.seen).toHaveLength(0)
  })
})
