import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fakeUpstream, get, rawExchange, statusOf } from '@switchyard/testing'
import { describe, expect, it, onTestFinished } from 'vitest'
import { loadConfig, startGateway } from '../src/index.js'

const CRS = '/usr/share/modsecurity-crs'

describe('the gateway with guards.waf (Debian CRS)', () => {
  it('blocks attacks in the query and the body, passes clean traffic, and counts and logs blocks by rule', async () => {
    const app = await fakeUpstream({ name: 'app' })
    const log = join(mkdtempSync(join(tmpdir(), 'gw-waf-')), 'access.log')
    const gw = await startGateway({
      ...loadConfig([], { ACCESS_LOG: log, STATUS_PATH: 'off' }),
      port: 0,
      host: '127.0.0.1',
      upstreams: [app.url],
      guards: { waf: { crs: CRS, exclusions: [{ path: '/api/snippets', target: 'ARGS:json.code' }] } },
    })
    onTestFinished(() => gw.close())
    expect(gw.guards).toEqual(['waf'])
    const base = `http://127.0.0.1:${gw.port}`
    expect((await get(`${base}/search?q=blue%20shoes`)).status).toBe(200)
    expect((await get(`${base}/items?id=1%27%20OR%20%271%27%3D%271`)).status).toBe(403)
    const json = { method: 'POST', headers: { 'content-type': 'application/json' } } as const
    expect((await get(`${base}/api/comments`, { ...json, body: JSON.stringify({ text: '<script>alert(1)</script>' }) })).status).toBe(403)
    const snippet = JSON.stringify({ code: "SELECT name FROM users WHERE id = 1 OR name = 'admin'" })
    expect((await get(`${base}/api/snippets`, { ...json, body: snippet })).status).toBe(200)
    expect(app.requests.at(-1)!.body.toString()).toBe(snippet)
    expect(app.hits).toBe(2)

    const metrics = await (await get(`${base}/metrics`)).text
    expect(metrics).toMatch(/^switchyard_waf_requests_total\{rule="942100",outcome="blocked"\} 1$/m)
    expect(metrics).toMatch(/^switchyard_waf_requests_total\{rule="941100",outcome="blocked"\} 1$/m)
    expect(metrics).toMatch(/^switchyard_waf_requests_total\{rule="949110",outcome="blocked"\} 2$/m)
    await gw.close()
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const waf = lines.filter((l) => l.msg === 'waf')
    expect(waf.filter((l) => l.outcome === 'blocked').map((l) => [l.url, l.rule, l.level])).toEqual([
      ['/items?id=1%27%20OR%20%271%27%3D%271', 949110, 40],
      ['/api/comments', 949110, 40],
    ])
    expect(waf.find((l) => l.outcome === 'blocked')!.rules).toContain(942100)
    // Under the threshold, logged at info: here 920350, a Host that is an IP address (3 points).
    expect(waf.filter((l) => l.outcome === 'passed').map((l) => [l.url, l.rules, l.level])).toEqual([
      ['/search?q=blue%20shoes', [920350], 30],
      ['/api/snippets', [920350], 30],
    ])
    expect(lines.filter((l) => l.msg === 'request')).toHaveLength(2)
  })

  it('a gateway without guards.waf has no WAF metric and writes no WAF lines', async () => {
    const app = await fakeUpstream({ name: 'app' })
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off', STATUS_PATH: 'off' }), port: 0, host: '127.0.0.1', upstreams: [app.url] })
    onTestFinished(() => gw.close())
    expect((await get(`http://127.0.0.1:${gw.port}/items?id=1%27%20OR%20%271%27%3D%271`)).status).toBe(200)
    expect((await get(`http://127.0.0.1:${gw.port}/metrics`)).text).not.toMatch(/switchyard_waf/)
  })

  it('a bad guards.waf is a typed error naming the key', async () => {
    const start = (waf: Record<string, unknown>) => startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1', upstreams: ['http://127.0.0.1:9'], guards: { waf } as never })
    await expect(start({ crs: CRS, mode: 'loud' })).rejects.toMatchObject({ code: 'SWY_ERR_INVALID_OPTION', field: 'guards.waf.mode' })
    await expect(start({ crs: CRS, onMatch: 'x' })).rejects.toMatchObject({ field: 'guards.waf.onMatch' })
    await expect(start({ crs: '/nowhere' })).rejects.toMatchObject({ code: 'SWY_ERR_WAF_RULE' })
  })

  it('judges each request as its balancer will send it: a header the balancer drops is not judged, one it keeps is', async () => {
    const app = await fakeUpstream({ name: 'app' })
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off', STATUS_PATH: 'off' }), port: 0, host: '127.0.0.1', upstreams: [app.url], guards: { waf: { crs: CRS } } })
    onTestFinished(() => gw.close())
    const java = 'java.lang.Runtime.getRuntime().exec("id")' // CRS 944100, in any header
    const send = async (headers: string) => statusOf((await rawExchange(`http://127.0.0.1:${gw.port}`, `GET /a HTTP/1.1\r\nHost: app.example\r\n${headers}Connection: close\r\n\r\n`)).text)
    expect(await send(`X_Payload: ${java}\r\n`)).toBe(200)
    expect(await send(`X-Payload: ${java}\r\n`)).toBe(403)
    expect(app.requests.map((r) => JSON.stringify(r.rawHeaders).includes('java.lang'))).toEqual([false])
    await expect(startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, upstreams: [app.url], guards: { waf: { crs: CRS, view: 'x' } } as never })).rejects.toMatchObject({ code: 'SWY_ERR_INVALID_OPTION', field: 'guards.waf.view' })
  })
})
