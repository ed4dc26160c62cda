import { once } from 'node:events'
import { errors } from 'undici'
import { describe, expect, it } from 'vitest'
import { BLAME_BY_CODE, blameOf } from '../src/exchange/blame.js'
import { deadPort, fakeUpstream, get, inOrder, serveBalancer } from '@switchyard/testing'

const first = () => inOrder()

describe('one classification of every error', () => {
  it('names every error class undici exports, so a new one is a decision, not a default', () => {
    const skip = new Set(['UndiciError', 'HTTPParserError', 'AbortError']) // base classes; HPE_* codes are the upstream's
    for (const [name, Cls] of Object.entries(errors)) {
      if (skip.has(name)) continue
      const Make = Cls as new (m: string, ...rest: unknown[]) => { code: string }
      let code: string
      try {
        code = new Make('x').code
      } catch {
        code = new Make('x', 500, {}).code // RequestRetryError needs its response
      }
      expect(BLAME_BY_CODE[code], `${name} (${code})`).toBeDefined()
    }
  })

  // A case table: code → side. Unknown codes and parser errors are the upstream's.
  const table: Array<[string, string, boolean]> = [
    ['UND_ERR_INVALID_ARG', 'request', false],
    ['UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'request', false],
    ['UND_ERR_ABORTED', 'request', false],
    ['UND_ERR_DESTROYED', 'local', false],
    ['UND_ERR_CLOSED', 'local', false],
    ['ECONNREFUSED', 'unsent', false],
    ['UND_ERR_CONNECT_TIMEOUT', 'unsent', true],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'unsent', false],
    ['ECONNRESET', 'upstream', false],
    ['UND_ERR_SOCKET', 'upstream', false],
    ['UND_ERR_HEADERS_TIMEOUT', 'upstream', true],
    ['UND_ERR_BODY_TIMEOUT', 'upstream', true],
    ['HPE_INVALID_CONSTANT', 'upstream', false],
    ['SOMETHING_NEW', 'upstream', false],
  ]
  for (const [code, side, timeout] of table) {
    it(`${code} blames ${side}${timeout ? ' (a timeout)' : ''}`, () => {
      expect(blameOf(code)).toEqual({ side, timeout })
    })
  }
})

describe('each side, on real sockets', () => {
  it('request: a bad request is the client’s (400), no upstream hears of it', async () => {
    const a = await fakeUpstream()
    const { lb, url } = await serveBalancer({ upstreams: [a.url], retry: false })
    const res = await get(url, { headers: { host: 'a"b' } })
    expect(res.status).toBe(400)
    expect(a.hits).toBe(0)
    expect(lb.upstreams[0]).toMatchObject({ state: 'up', requests: 0, failures: 0 })
  })

  it('unsent: a refused connection counts against the upstream and goes elsewhere, POST included', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`
    const ok = await fakeUpstream()
    const { lb, url } = await serveBalancer({ upstreams: [dead, ok.url], strategy: first() })
    expect((await get(url, { method: 'POST', body: 'x' })).status).toBe(200)
    expect(lb.upstreams[0]).toMatchObject({ state: 'down', failures: 1 })
  })

  it('upstream: a reset after the request went out counts, and a POST is not replayed', async () => {
    const reset = await fakeUpstream({ answer: 'reset' })
    const ok = await fakeUpstream()
    const { lb, url } = await serveBalancer({ upstreams: [reset.url, ok.url], strategy: first() })
    expect((await get(url, { method: 'POST', body: 'x' })).status).toBe(502)
    expect(ok.hits).toBe(0)
    expect(lb.upstreams[0]).toMatchObject({ state: 'down', failures: 1 })
  })

  it('local: a pool the balancer destroyed (remove without drain) is not held against the upstream; the GET goes elsewhere', async () => {
    const hang = await fakeUpstream({ answer: 'hang' })
    const ok = await fakeUpstream({ name: 'ok' })
    const { lb, url } = await serveBalancer({ upstreams: [hang.url, ok.url], strategy: first() })
    const pending = get(url)
    await expect.poll(() => hang.hits).toBe(1)
    const failures = () => lb.stats().upstreams.reduce((n, u) => n + u.failures, 0)
    await lb.remove(hang.url, { drain: false })
    const res = await pending
    expect(res.status).toBe(200)
    expect(ok.hits).toBe(1)
    expect(failures()).toBe(0)
  })

  it('local while closing: close({ timeout }) expiring answers 503 SWY_ERR_CLOSED, not 502', async () => {
    const hang = await fakeUpstream({ answer: 'hang' })
    const { lb, url } = await serveBalancer({ upstreams: [hang.url] })
    const pending = get(url)
    await expect.poll(() => hang.hits).toBe(1)
    await lb.close({ timeout: 100 })
    const res = await pending
    expect(res.status).toBe(503)
    expect(res.json()).toMatchObject({ code: 'SWY_ERR_CLOSED' })
  })
})

describe('stats().retries counts attempts actually sent again', () => {
  it('a failure with nobody left to retry on is no retry', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`
    const spare = await fakeUpstream()
    const { lb, url } = await serveBalancer({
      upstreams: [dead, { url: spare.url, down: true }],
      panicThreshold: 0,
    })
    const retries: number[] = []
    lb.on('request:retry', (e) => retries.push(e.attempt))
    expect((await get(url)).status).toBe(502)
    expect(lb.stats().retries).toBe(0)
    expect(retries).toEqual([])
  })

  it('a retry sent is counted once, with the failed upstream in the event', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`
    const ok = await fakeUpstream()
    const { lb, url } = await serveBalancer({ upstreams: [dead, ok.url], strategy: first() })
    const events: Array<{ upstream: string; attempt: number }> = []
    lb.on('request:retry', (e) => events.push({ upstream: e.upstream, attempt: e.attempt }))
    const done = once(lb, 'request:retry')
    expect((await get(url)).status).toBe(200)
    await done
    expect(lb.stats().retries).toBe(1)
    expect(events).toEqual([{ upstream: dead, attempt: 2 }])
  })
})
