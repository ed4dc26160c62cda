import { once } from 'node:events'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@switchyard/core'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startUpstream } from '../../../test/helpers/upstream.js'

/** Serves `lb.handler` on a cleartext HTTP/2 server (h2c) and returns a connected client session. */
async function h2Proxy(upstreams: string[]) {
  const lb = createBalancer({ upstreams })
  const server = http2.createServer(lb.handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  onTestFinished(async () => {
    client.close()
    await lb.close({ timeout: 1_000 })
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { lb, client }
}

async function send(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string) {
  const req = client.request(headers, { endStream: body === undefined })
  if (body !== undefined) req.end(body)
  const [head] = (await once(req, 'response')) as [http2.IncomingHttpHeaders]
  let text = ''
  req.setEncoding('utf8')
  req.on('data', (c: string) => (text += c))
  await once(req, 'end')
  return { status: head[':status'], head, text }
}

describe('requests through node:http2 compat (http2.createServer(lb.handler))', () => {
  it('a GET is proxied over HTTP/1.1 with :authority as Host; no pseudo-header goes upstream', async () => {
    const up = await startUpstream()
    const { client, lb } = await h2Proxy([up.url])
    const res = await send(client, { ':method': 'GET', ':path': '/items?x=1', ':authority': 'app.example', 'x-trace': 't1' })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.text)).toMatchObject({ method: 'GET', url: '/items?x=1' })
    const seen = up.requests[0]!
    expect(seen.headers.host).toBe('app.example')
    expect(seen.headers['x-trace']).toBe('t1')
    expect(seen.rawHeaders.some((h) => h.startsWith(':'))).toBe(false)
    expect(seen.headers.forwarded).toContain('host="app.example"')
    expect(lb.upstreams[0]).toMatchObject({ state: 'up', failures: 0 })
  })

  it('a POST body without Content-Length streams upstream', async () => {
    const up = await startUpstream({ handler: (_req, res, self) => res.end(self.requests.at(-1)!.body) })
    const { client } = await h2Proxy([up.url])
    const res = await send(client, { ':method': 'POST', ':path': '/echo', ':authority': 'app.example' }, 'hello over h2')
    expect(res.status).toBe(200)
    expect(res.text).toBe('hello over h2')
  })

  it('response headers (multi-valued ones too) reach the h2 client; hop-by-hop ones do not', async () => {
    const up = await startUpstream({
      handler: (_req, res) => {
        res.setHeader('set-cookie', ['a=1', 'b=2'])
        res.setHeader('keep-alive', 'timeout=5')
        res.end('ok')
      },
    })
    const { client } = await h2Proxy([up.url])
    const res = await send(client, { ':method': 'GET', ':path': '/', ':authority': 'app.example' })
    expect(res.status).toBe(200)
    expect(res.head['set-cookie']).toEqual(['a=1', 'b=2'])
    expect(res.head['keep-alive']).toBeUndefined()
  })
})
