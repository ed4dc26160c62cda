import { Agent, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type GatewayConfig, loadConfig, startGateway } from '../src/index.js'
import { fakeUpstream } from '@switchyard/testing'

const TOKEN = 'admin-token-0123456789'
const API = '/__switchyard/api'

async function gateway(config: Partial<GatewayConfig>, upstreams: string[]) {
  const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off', ADMIN_TOKEN: TOKEN }), upstreams, port: 0, host: '127.0.0.1', ...config })
  onTestFinished(() => gw.close())
  const agent = new Agent({ connections: 16 })
  onTestFinished(() => agent.close())
  const base = `http://127.0.0.1:${gw.port}`
  /** One admin call with the token (or `token`), JSON in and out. */
  const call = async (method: string, path: string, body?: unknown, token: string | null = TOKEN) => {
    const res = await request(`${base}${API}${path}`, {
      dispatcher: agent,
      method: method as 'GET',
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as Record<string, unknown> }
  }
  const name = async () => ((await (await request(`${base}/`, { dispatcher: agent })).body.json()) as { name: string }).name
  const metrics = async () => (await (await request(`${base}/metrics`, { dispatcher: agent })).body.text())
  return { gw, base, call, name, metrics, agent }
}

const enc = encodeURIComponent

describe('the admin API', () => {
  it('refuses every call without the token (401), and is off without one', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const { call, base } = await gateway({}, [a.url])
    const none = await call('GET', '/upstreams', undefined, null)
    expect(none.status).toBe(401)
    expect(none.headers['www-authenticate']).toBe('Bearer')
    expect((await call('GET', '/upstreams', undefined, 'wrong-token-0123456789')).status).toBe(401)
    expect((await call('DELETE', `/upstreams/${enc(a.url)}`, undefined, null)).status).toBe(401)
    expect(a.hits).toBe(0) // nothing was proxied either
    // Without ADMIN_TOKEN there is no API: the path is the status page's (which has no such page).
    const off = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), upstreams: [a.url], port: 0, host: '127.0.0.1' })
    onTestFinished(() => off.close())
    const res = await request(`http://127.0.0.1:${off.port}${API}/upstreams`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.statusCode).toBe(404)
    expect(await res.body.text()).toBe('not found\n')
    void base
  })

  it('lists, adds, re-weights and marks down; the traffic, the status page and /metrics follow', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const { call, name, metrics, base, agent } = await gateway({}, [a.url])
    expect((await call('GET', '/upstreams')).json.upstreams).toMatchObject([{ id: a.url, state: 'up', weight: 1 }])
    const added = await call('POST', '/upstreams', { url: b.url, weight: 3 })
    expect(added.status).toBe(201)
    expect(added.json).toMatchObject({ id: b.url, weight: 3, state: 'up' })
    const names: string[] = []
    for (let i = 0; i < 8; i++) names.push(await name())
    expect(names.filter((n) => n === 'b')).toHaveLength(6) // weight 3 of 4
    expect(await metrics()).toContain(`switchyard_upstream_weight{upstream="${b.url}"} 3`)
    expect((await call('PATCH', `/upstreams/${enc(b.url)}`, { weight: 1 })).json).toMatchObject({ weight: 1 })
    expect(await metrics()).toContain(`switchyard_upstream_weight{upstream="${b.url}"} 1`)
    expect((await call('PATCH', `/upstreams/${enc(a.url)}`, { down: true })).json).toMatchObject({ state: 'down', reason: 'configured' })
    for (let i = 0; i < 4; i++) expect(await name()).toBe('b')
    expect(await metrics()).toContain(`switchyard_upstream_state{upstream="${a.url}",state="down"} 1`)
    expect((await call('GET', `/upstreams/${enc(a.url)}`)).json).toMatchObject({ id: a.url, state: 'down' })
    // The status page's next sample names both, as they are now.
    await expect
      .poll(async () => {
        const data = (await (await request(`${base}/__switchyard/data`, { dispatcher: agent })).body.json()) as { history: { upstreams: { id: string; state: string }[] }[] }
        return data.history.at(-1)?.upstreams.map((u) => `${u.id} ${u.state}`)
      }, { timeout: 3_000 })
      .toEqual([`${a.url} down`, `${b.url} up`])
  })

  it('drain: the requests in flight on the upstream finish, and no new one goes to it', async () => {
    const held: (() => void)[] = []
    const slow = await fakeUpstream({ name: 'slow', handler: (_req, res) => held.push(() => res.end(JSON.stringify({ name: 'slow' }))) })
    const other = await fakeUpstream({ name: 'other' })
    const { call, name, base, agent } = await gateway({ strategy: { name: 'first' } }, [slow.url, other.url])
    // Three requests in flight on the first upstream.
    const inFlight = [0, 1, 2].map(() => request(`${base}/`, { dispatcher: agent }).then(async (r) => [r.statusCode, ((await r.body.json()) as { name: string }).name]))
    await expect.poll(() => held.length).toBe(3)
    const drained = await call('DELETE', `/upstreams/${enc(slow.url)}?drain=1`)
    expect(drained.status).toBe(202)
    expect(drained.json).toEqual({ id: slow.url, draining: true })
    for (let i = 0; i < 5; i++) expect(await name()).toBe('other') // none new to the draining one
    expect(slow.hits).toBe(3)
    for (const release of held.splice(0)) release()
    expect(await Promise.all(inFlight)).toEqual([
      [200, 'slow'],
      [200, 'slow'],
      [200, 'slow'],
    ])
    await expect.poll(async () => ((await call('GET', '/upstreams')).json.upstreams as { id: string }[]).map((u) => u.id)).toEqual([other.url])
  })

  it('answers bad calls as the caller’s: 400, 404, 405, 409, 413 — never a 500', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const { call } = await gateway({}, [a.url])
    expect(await call('POST', '/upstreams', { url: 'ftp://nope' })).toMatchObject({ status: 400, json: { code: 'SWY_ERR_INVALID_OPTION' } })
    expect(await call('POST', '/upstreams', a.url)).toMatchObject({ status: 400 }) // a bare string is not JSON
    expect(await call('POST', '/upstreams', JSON.stringify(a.url))).toMatchObject({ status: 409, json: { code: 'SWY_ERR_DUPLICATE_UPSTREAM' } })
    expect(await call('PATCH', `/upstreams/${enc('http://127.0.0.1:1')}`, { weight: 2 })).toMatchObject({ status: 404, json: { code: 'SWY_ERR_UNKNOWN_UPSTREAM' } })
    expect(await call('PATCH', `/upstreams/${enc(a.url)}`, { weight: 0 })).toMatchObject({ status: 400, json: { code: 'SWY_ERR_INVALID_OPTION' } })
    expect(await call('DELETE', `/upstreams/${enc('http://127.0.0.1:1')}`)).toMatchObject({ status: 404 })
    expect(await call('PUT', '/upstreams', {})).toMatchObject({ status: 405 })
    expect(await call('GET', '/nothing')).toMatchObject({ status: 404 })
    expect(await call('GET', '/upstreams/%E0%A4%A')).toMatchObject({ status: 400 })
    expect(await call('POST', '/upstreams', { url: 'http://127.0.0.1:2', note: 'x'.repeat(20_000) })).toMatchObject({ status: 413 })
    // And the fleet is as it was.
    expect((await call('GET', '/upstreams')).json.upstreams).toMatchObject([{ id: a.url }])
  })

  it('DELETE without drain removes at once; a short token or a bad path refuses to start', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const { call, name } = await gateway({}, [a.url, b.url])
    expect(await call('DELETE', `/upstreams/${enc(a.url)}`)).toEqual({ status: 200, headers: expect.anything(), json: { id: a.url, removed: true } })
    for (let i = 0; i < 3; i++) expect(await name()).toBe('b')
    const start = (admin: GatewayConfig['admin']) => startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), upstreams: [a.url], port: 0, host: '127.0.0.1', admin })
    await expect(start({ token: 'short' })).rejects.toMatchObject({ code: 'SWY_ERR_INVALID_OPTION', field: 'admin.token' })
    await expect(start({ token: TOKEN, path: 'api' })).rejects.toMatchObject({ code: 'SWY_ERR_INVALID_OPTION', field: 'admin.path' })
  })

  it('is open to loopback only unless allow says more', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const { call } = await gateway({ admin: { token: TOKEN, allow: ['10.0.0.0/8'] } }, [a.url])
    expect(await call('GET', '/upstreams')).toMatchObject({ status: 403 })
  })
})
