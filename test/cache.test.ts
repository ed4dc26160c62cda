import { createBalancer } from '@switchyard/core'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { fakeUpstream, serveBalancer } from '@switchyard/testing'

const agent = new Agent({ connections: 8 })
afterAll(() => agent.close())

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { dispatcher: agent, headers })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

describe('cache (nginx proxy_cache, on undici’s cache interceptor)', () => {
  it('serves a fresh response without asking the upstream, and counts hits and misses', async () => {
    let n = 0
    const up = await fakeUpstream({ handler: (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }).end(`version ${++n}`) })
    const trace: string[] = []
    const { lb, url } = await serveBalancer({ upstreams: [up.url], cache: true })
    lb.on('request:end', (t) => trace.push(t.attempts.map((a) => a.cache).join(',')))
    expect((await get(`${url}/page`)).text).toBe('version 1')
    expect((await get(`${url}/page`)).text).toBe('version 1')
    expect((await get(`${url}/page`)).text).toBe('version 1')
    expect(up.hits).toBe(1)
    expect(lb.stats().cache).toEqual({ hits: 2, misses: 1, revalidated: 0 })
    expect(trace).toEqual(['miss', 'hit', 'hit'])
    expect(lb.upstreams[0]!.requests).toBe(1) // a hit is not the upstream's
  })

  it('revalidates a stale response with its validator: a 304 serves the stored body', async () => {
    const seen: (string | undefined)[] = []
    const up = await fakeUpstream({
      handler: (req, res) => {
        seen.push(req.headers['if-none-match'] as string | undefined)
        if (req.headers['if-none-match'] === '"v1"') return res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0' }).end()
        res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"', 'cache-control': 'max-age=0' }).end('the body')
      },
    })
    const { lb, url } = await serveBalancer({ upstreams: [up.url], cache: true })
    expect((await get(`${url}/doc`)).text).toBe('the body')
    const again = await get(`${url}/doc`)
    expect(again).toMatchObject({ status: 200, text: 'the body' })
    expect(seen).toEqual([undefined, '"v1"'])
    expect(lb.stats().cache).toEqual({ hits: 0, misses: 1, revalidated: 1 })
  })

  it('respects Vary, never stores no-store, and keeps virtual hosts apart', async () => {
    let n = 0
    const up = await fakeUpstream({
      handler: (req, res) => {
        n++
        if (req.url === '/secret') return res.writeHead(200, { 'cache-control': 'no-store' }).end(`secret ${n}`)
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' }).end(`${req.headers.host} ${req.headers['accept-language']}`)
      },
    })
    const { url } = await serveBalancer({ upstreams: [up.url], cache: true, preserveHost: true })
    expect((await get(`${url}/v`, { 'accept-language': 'en' })).text).toMatch(/ en$/)
    expect((await get(`${url}/v`, { 'accept-language': 'fr' })).text).toMatch(/ fr$/) // another variant
    expect((await get(`${url}/v`, { 'accept-language': 'en' })).text).toMatch(/ en$/) // stored
    expect(n).toBe(2)
    expect((await get(`${url}/v`, { host: 'a.test', 'accept-language': 'en' })).text).toBe('a.test en')
    expect((await get(`${url}/v`, { host: 'b.test', 'accept-language': 'en' })).text).toBe('b.test en')
    expect(n).toBe(4)
    expect((await get(`${url}/secret`)).text).not.toBe((await get(`${url}/secret`)).text)
  })

  it('does not serve a response to an Authorization request from the shared store, nor store one without public', async () => {
    let n = 0
    const up = await fakeUpstream({ handler: (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end(`answer ${++n}`) })
    const { url } = await serveBalancer({ upstreams: [up.url], cache: true })
    expect((await get(`${url}/me`, { authorization: 'Bearer alice' })).text).toBe('answer 1')
    expect((await get(`${url}/me`, { authorization: 'Bearer bob' })).text).toBe('answer 2')
    expect((await get(`${url}/me`)).text).toBe('answer 3') // nothing of alice's or bob's was kept
  })

  it('purge(url) forgets a response; bad options and purge without a cache are typed errors', async () => {
    let n = 0
    const up = await fakeUpstream({ handler: (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end(`v${++n}`) })
    const { lb, url } = await serveBalancer({ upstreams: [up.url], cache: true })
    const host = new URL(url).host
    expect((await get(`${url}/a?x=1`)).text).toBe('v1')
    expect((await get(`${url}/a?x=1`)).text).toBe('v1')
    await lb.purge(`http://${host}/a?x=1`)
    expect((await get(`${url}/a?x=1`)).text).toBe('v2')
    const plain = createBalancer({ upstreams: [up.url] })
    await expect(plain.purge('http://x/')).rejects.toMatchObject({ code: 'SWY_ERR_INVALID_OPTION', field: 'cache' })
    await plain.close()
    expect(() => createBalancer({ upstreams: [up.url], cache: { maxSize: 0 } })).toThrow(/cache\.maxSize/)
    expect(() => createBalancer({ upstreams: [up.url], cache: { store: {} as never } })).toThrow(/cache\.store must be an undici cache store/)
  })
})
