import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { type HttpBindings, serve as honoServe } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { createBalancer } from '@switchyard/core'
import { Hono } from 'hono'
import { describe, expect, it, onTestFinished } from 'vitest'
import { deadPort, fakeUpstream } from '@switchyard/testing'

function balancer(upstreams: string[]) {
  const lb = createBalancer({ upstreams })
  onTestFinished(() => lb.close({ timeout: 100 }))
  return lb
}

describe('lb.fetch (Fetch-API handler)', () => {
  it('proxies a Request and resolves a streaming Response', async () => {
    const up = await fakeUpstream({ name: 'a' })
    const lb = balancer([up.url])
    const res = await lb.fetch(new Request('http://shop.example/users?page=2', { headers: { 'x-trace': '1', connection: 'keep-alive' } }), {
      remoteAddress: '203.0.113.7',
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { name: string }).name).toBe('a')
    const seen = up.requests[0]!
    expect(seen.url).toBe('/users?page=2')
    expect(seen.headers.host).toBe('shop.example')
    expect(seen.headers['x-trace']).toBe('1')
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7')
    expect(seen.headers['x-forwarded-proto']).toBe('http')
  })

  it('streams a request body up and a large body down; keeps every Set-Cookie', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 'x')
    const up = await fakeUpstream({
      handler: (_req, res, self) => {
        // The helper has read the body by now: its length is recorded.
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/'])
        res.setHeader('x-received', String(self.requests.at(-1)!.bodyLength))
        res.end(big)
      },
      recordBodies: false,
    })
    const lb = balancer([up.url])
    const upload = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 16; i++) controller.enqueue(new Uint8Array(64 * 1024).fill(1))
        controller.close()
      },
    })
    const res = await lb.fetch(new Request('http://svc/upload', { method: 'POST', body: upload, duplex: 'half' } as RequestInit))
    expect(res.headers.get('x-received')).toBe(String(16 * 64 * 1024))
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/'])
    expect((await res.arrayBuffer()).byteLength).toBe(big.length)
  })

  it('answers the balancer’s errors as JSON Responses, and a 204 with no body', async () => {
    const lb = balancer([`http://127.0.0.1:${await deadPort()}`])
    const res = await lb.fetch(new Request('http://svc/'))
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ code: 'SWY_ERR_UPSTREAM' })
    const empty = await fakeUpstream({
      handler: (_req, r) => {
        r.statusCode = 204
        r.end()
      },
    })
    const lb2 = balancer([empty.url])
    const none = await lb2.fetch(new Request('http://svc/'))
    expect(none.status).toBe(204)
    expect(none.body).toBeNull()
  })

  it('aborting the request signal aborts the upstream request', async () => {
    const up = await fakeUpstream({ answer: 'hang' })
    const lb = balancer([up.url])
    const controller = new AbortController()
    const pending = lb.fetch(new Request('http://svc/slow', { signal: controller.signal }))
    await expect.poll(() => up.hits).toBe(1)
    controller.abort()
    await pending
    await expect.poll(() => lb.stats().active).toBe(0)
    expect(lb.upstreams[0]!.state).toBe('up') // the client's doing, not the upstream's
  })

  it('mounts in Hono in one line (on @hono/node-server), with the client address', async () => {
    const up = await fakeUpstream({ name: 'a' })
    const lb = balancer([up.url])
    const app = new Hono<{ Bindings: HttpBindings }>()
    app.get('/health', (c) => c.text('ok'))
    app.all('/api/*', (c) => lb.fetch(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }))
    const server = honoServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await once(server, 'listening')
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const res = await fetch(`${base}/api/items?q=1`)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { name: string }).name).toBe('a')
    expect(up.requests[0]!.url).toBe('/api/items?q=1')
    expect(up.requests[0]!.headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(await (await fetch(`${base}/health`)).text()).toBe('ok')
  })
})
