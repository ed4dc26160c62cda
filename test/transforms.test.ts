import { type BalancerOptions, createBalancer, type SwitchyardError } from '@switchyard/core'
import express from 'express'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { deadPort, fakeUpstream, get, loopbackServer, serveBalancer } from '@switchyard/testing'
import { listenApp } from './helpers/app.js'

/** An upstream that answers with a redirect and cookies that name itself, to be rewritten. */
async function selfNaming() {
  const up = await fakeUpstream({
    name: 'app',
    handler: (req, res, self) => {
      const own = `http://127.0.0.1:${self.port}`
      res.setHeader('location', req.url?.endsWith('/relative') ? '/v1/next' : `${own}/v1/login?from=${encodeURIComponent(req.url ?? '')}`)
      res.setHeader('content-location', 'https://elsewhere.example/page')
      res.setHeader('set-cookie', ['sid=1; Domain=app.internal; Path=/v1/; HttpOnly', 'theme=dark; Path=/other'])
      res.setHeader('server', 'gunicorn')
      res.statusCode = 302
      res.end()
    },
  })
  return up
}

describe('transforms', () => {
  it('an upstream URL’s own path goes in front of every request’s (it was silently dropped)', async () => {
    const up = await fakeUpstream()
    const { url } = await serveBalancer({ upstreams: [`${up.url}/v1/`] })
    await get(`${url}/users?page=2`)
    expect(up.requests[0]!.url).toBe('/v1/users?page=2')
    const lb = createBalancer({ upstreams: [`${up.url}/v2`] })
    onTestFinished(() => lb.close())
    await (await request('http://svc/items', { dispatcher: lb.dispatcher })).body.dump()
    expect(up.requests[1]!.url).toBe('/v2/items') // the dispatcher path too
    expect(() => createBalancer({ upstreams: [`${up.url}/v1?x=1`] })).toThrow(expect.objectContaining({ field: 'upstreams[0].url' }))
  })

  it('rewritePath: stripPrefix and addPrefix, or a function', async () => {
    const up = await fakeUpstream()
    const { url } = await serveBalancer({ upstreams: [up.url], rewritePath: { stripPrefix: '/api', addPrefix: '/internal' } })
    for (const path of ['/api/users?x=1', '/api', '/api?q', '/apiary', '/other']) await get(`${url}${path}`)
    expect(up.requests.map((r) => r.url)).toEqual(['/internal/users?x=1', '/internal/', '/internal/?q', '/internal/apiary', '/internal/other'])
    const fn = await fakeUpstream()
    const { url: url2 } = await serveBalancer({ upstreams: [fn.url], rewritePath: (p) => p.replace(/^\/old\//, '/new/') })
    await get(`${url2}/old/a`)
    expect(fn.requests[0]!.url).toBe('/new/a')
    expect(() => createBalancer({ upstreams: [up.url], rewritePath: { stripPrefix: 'api' } })).toThrow(
      expect.objectContaining({ field: 'rewritePath.stripPrefix' }),
    )
  })

  it('requestHeaders and responseHeaders: set and remove, or a function', async () => {
    const up = await fakeUpstream({
      handler: (_req, res) => {
        res.setHeader('x-internal', 'secret')
        res.setHeader('x-keep', '1')
        res.end('ok')
      },
    })
    const { url } = await serveBalancer({
      upstreams: [up.url],
      requestHeaders: { set: { 'X-Env': 'prod', 'x-forwarded-proto': 'https' }, remove: ['Cookie'] },
      responseHeaders: (h) => {
        delete h['x-internal']
        h['strict-transport-security'] = 'max-age=63072000'
      },
    })
    const res = await get(url, { headers: { cookie: 'a=1', 'x-env': 'dev' } })
    const seen = up.requests[0]!.headers
    expect(seen['x-env']).toBe('prod') // set replaces what the client sent
    expect(seen.cookie).toBeUndefined()
    expect(seen['x-forwarded-proto']).toBe('https') // applied after the forwarding headers
    expect(res.headers['x-internal']).toBeUndefined()
    expect(res.headers['x-keep']).toBe('1')
    expect(res.headers['strict-transport-security']).toBe('max-age=63072000')
    expect(() => createBalancer({ upstreams: [up.url], requestHeaders: { set: { 'bad name': 'x' } } })).toThrow(
      expect.objectContaining({ field: 'requestHeaders.set' }),
    )
  })

  it('rewrites a Location that names the upstream (proxy_redirect default), and cookie domains and paths', async () => {
    const up = await selfNaming()
    const { url } = await serveBalancer({
      upstreams: [`${up.url}/v1`],
      rewritePath: { stripPrefix: '/shop' },
      cookieDomain: { 'app.internal': 'shop.example' },
      cookiePath: { '/v1/': '/shop/' },
      hideHeaders: true,
    })
    const res = await get(`${url}/shop/cart`)
    expect(up.requests[0]!.url).toBe('/v1/cart')
    expect(res.status).toBe(302)
    // The backend's own address and base path are gone, and the stripped prefix is back.
    expect(res.headers.location).toBe('/shop/login?from=%2Fv1%2Fcart')
    expect(res.headers['content-location']).toBe('https://elsewhere.example/page') // another host: untouched
    expect(res.headers['set-cookie']).toEqual(['sid=1; Domain=shop.example; Path=/shop/; HttpOnly', 'theme=dark; Path=/other'])
    expect(res.headers.server).toBeUndefined()
    const relative = await get(`${url}/shop/relative`)
    expect(relative.headers.location).toBe('/shop/next')

    const { url: off } = await serveBalancer({ upstreams: [up.url], rewriteLocation: false })
    expect((await get(`${off}/x`)).headers.location).toBe(`${up.url}/v1/login?from=%2Fx`)
  })
})

describe('custom error responses', () => {
  const dead = async (): Promise<BalancerOptions> => ({ upstreams: [`http://127.0.0.1:${await deadPort()}`], retry: { attempts: 1 } })

  it('onError answers the balancer’s own errors; one that throws falls back to the default', async () => {
    const seen: SwitchyardError[] = []
    const { url } = await serveBalancer({
      ...(await dead()),
      onError: (error, _req, res) => {
        seen.push(error)
        res.writeHead(error.statusCode ?? 502, { 'content-type': 'text/html' })
        res.end(`<h1>Sorry (${error.code})</h1>`)
      },
    })
    const res = await get(url)
    expect(res.status).toBe(502)
    expect(res.headers['content-type']).toBe('text/html')
    expect(res.text).toBe('<h1>Sorry (SWY_ERR_UPSTREAM)</h1>')
    expect(seen.map((e) => e.code)).toEqual(['SWY_ERR_UPSTREAM'])

    const { url: url2 } = await serveBalancer({
      ...(await dead()),
      onError: () => {
        throw new Error('bug in the error page')
      },
    })
    const fallback = await get(url2)
    expect(fallback.status).toBe(502)
    expect(fallback.json()).toMatchObject({ code: 'SWY_ERR_UPSTREAM' })
  })

  it("errors: 'next' hands the typed error to Express's error middleware", async () => {
    const lb = createBalancer({ ...(await dead()), errors: 'next' })
    const app = express()
    app.use('/api', lb.handler)
    app.use((err: SwitchyardError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.statusCode ?? 500).json({ handledBy: 'app', code: err.code })
    })
    const url = await listenApp(app, lb)
    const res = await get(`${url}/api/x`)
    expect(res.status).toBe(502)
    expect(res.json()).toEqual({ handledBy: 'app', code: 'SWY_ERR_UPSTREAM' })
    // On a plain http server there is no next: the default answer.
    const { url: plain } = await loopbackServer(lb.handler)
    expect((await get(plain)).json()).toMatchObject({ code: 'SWY_ERR_UPSTREAM' })
    const options = await dead()
    expect(() => createBalancer({ ...options, errors: 'throw' as never })).toThrow(expect.objectContaining({ field: 'errors' }))
  })
})
