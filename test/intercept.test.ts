import { createBalancer, InvalidOptionError } from '@switchyard/core'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { fakeUpstream, get, inOrder, serveBalancer, virtualClock } from '@switchyard/testing'

/** An upstream answering `body` (JSON) with `status`. */
const answering = (body: unknown, status = 200, extra: Record<string, string> = {}) =>
  fakeUpstream({
    handler: (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-from': 'upstream', ...extra })
      res.end(typeof body === 'string' ? body : JSON.stringify(body))
    },
  })

describe('the buffered response interceptor (onResponse)', () => {
  it('reads a whole body and may change status, headers and body; Content-Length follows the new body', async () => {
    const up = await answering({ ok: false, error: 'quota' })
    const seen: { status: number; upstream: string; path: string; body: string }[] = []
    const { url } = await serveBalancer({
      upstreams: [{ id: 'a', url: up.url }],
      onResponse: {
        handle(res) {
          seen.push({ status: res.status, upstream: res.upstream, path: res.path, body: res.body.toString() })
          const payload = JSON.parse(res.body.toString()) as { ok: boolean }
          if (payload.ok) return
          return { status: 502, headers: { ...res.headers, 'x-intercepted': 'yes' }, body: '{"error":"upstream said no"}' }
        },
      },
    })
    const res = await get(`${url}/q?x=1`)
    expect(res.status).toBe(502)
    expect(res.text).toBe('{"error":"upstream said no"}')
    expect(res.headers['content-length']).toBe(String(res.text.length))
    expect(res.headers['x-intercepted']).toBe('yes')
    expect(res.headers['x-from']).toBe('upstream')
    expect(seen).toEqual([{ status: 200, upstream: 'a', path: '/q?x=1', body: '{"ok":false,"error":"quota"}' }])
  })

  it('relays the response unchanged when handle returns nothing, and streams what `when` leaves out', async () => {
    const up = await fakeUpstream({
      handler: (req, res) => {
        res.writeHead(200, { 'content-type': req.url === '/json' ? 'application/json' : 'text/plain' })
        res.end(req.url === '/json' ? '{"a":1}' : 'plain')
      },
    })
    let handled = 0
    const { url } = await serveBalancer({
      upstreams: [up.url],
      onResponse: {
        when: (head) => String(head.headers['content-type']).startsWith('application/json'),
        handle() {
          handled++
        },
      },
    })
    const json = await get(`${url}/json`)
    expect(json.text).toBe('{"a":1}')
    expect(json.headers['content-length']).toBe('7')
    const text = await get(`${url}/text`)
    expect(text.text).toBe('plain')
    expect(text.headers['transfer-encoding']).toBe('chunked') // streamed as it came
    expect(handled).toBe(1)
  })

  it('answers 502 SWY_ERR_RESPONSE_TOO_LARGE past maxBytes, aborts the upstream, and does not blame it', async () => {
    const big = await fakeUpstream({
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.write(Buffer.alloc(4096, 'a'))
        setTimeout(() => res.end(Buffer.alloc(4096, 'b')), 50) // never sent: the balancer aborts first
      },
    })
    const { lb, url } = await serveBalancer({ upstreams: [{ id: 'big', url: big.url }], onResponse: { maxBytes: 1024, handle: () => undefined } })
    const res = await get(url)
    expect(res.status).toBe(502)
    expect(res.json()).toMatchObject({ code: 'SWY_ERR_RESPONSE_TOO_LARGE' })
    await expect.poll(() => big.aborted).toBe(1)
    expect(lb.upstreams[0]!.failures).toBe(0)
  })

  it('answers 500 SWY_ERR_ON_RESPONSE when handle throws or returns an invalid status', async () => {
    const up = await answering({ ok: true })
    const { url } = await serveBalancer({
      upstreams: [up.url],
      onResponse: {
        handle(res) {
          if (res.path === '/throw') throw new Error('bug in the app')
          return { status: 42 }
        },
      },
    })
    for (const path of ['/throw', '/bad-status']) {
      const res = await get(`${url}${path}`)
      expect(res.status).toBe(500)
      expect(res.json()).toMatchObject({ code: 'SWY_ERR_ON_RESPONSE' })
    }
  })

  it('waits for an async handler; a timeouts.total deadline still answers the client', async () => {
    const clock = virtualClock()
    const up = await answering({ ok: true })
    let release: (() => void) | undefined
    const { url } = await serveBalancer({
      upstreams: [up.url],
      clock,
      timeouts: { total: 1_000 },
      onResponse: {
        handle: (res) =>
          new Promise((resolve) => {
            release = () => resolve({ body: `${res.body.toString()}!` })
          }),
      },
    })
    const first = get(url)
    await expect.poll(() => release).toBeDefined()
    release!()
    expect((await first).text).toBe('{"ok":true}!')
    release = undefined
    const second = get(url)
    await expect.poll(() => release).toBeDefined()
    clock.advance(1_000)
    expect((await second).status).toBe(504)
    release!() // too late: nothing more is written
  })

  it('lets an application verdict reach health: a 200 carrying an error is reported as a failure', async () => {
    const bad = await answering({ error: 'db down' })
    const good = await answering({ ok: true })
    const lb = createBalancer({
      upstreams: [
        { id: 'bad', url: bad.url },
        { id: 'good', url: good.url },
      ],
      strategy: inOrder(),
      passive: { maxFails: 1, failTimeout: 10_000 },
      onResponse: {
        handle(res) {
          if (res.body.includes('"error"')) lb.report(res.upstream, 'failure')
        },
      },
    })
    try {
      const res = await request('http://svc/', { dispatcher: lb.dispatcher })
      await res.body.text()
      expect(lb.upstreams.find((u) => u.id === 'bad')!.state).toBe('down')
    } finally {
      await lb.close()
    }
  })

  it('is validated', () => {
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], onResponse: {} as never })).toThrow(InvalidOptionError)
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], onResponse: { handle: () => {}, maxBytes: -1 } })).toThrow(/onResponse.maxBytes/)
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], onResponse: { handle: () => {}, limit: 1 } as never })).toThrow(/unknown option onResponse.limit/)
  })
})
