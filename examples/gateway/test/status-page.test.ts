import { mkdirSync } from 'node:fs'
import type http from 'node:http'
import { chromium } from 'playwright-core'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { loadConfig, serverUrl, startGateway, startHelloBackend } from '../src/index.js'

/** Debian's chromium (`.ci/run` installs it), started as the machine's notes say it must be here. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const ARTIFACTS = new URL('../../../test-results/', import.meta.url).pathname

/** Sends requests through the gateway until stopped, one after the other. */
function traffic(url: string): () => Promise<void> {
  let running = true
  const loop = (async () => {
    while (running) {
      try {
        await (await request(url)).body.dump()
      } catch {}
    }
  })()
  return async () => {
    running = false
    await loop
  }
}

function kill(server: http.Server): void {
  server.closeAllConnections()
  server.close()
}

describe('the live status page (/__switchyard/)', () => {
  it('shows numbers that move while traffic flows, and turns a killed upstream red, in a real browser', async () => {
    const a = await startHelloBackend('a')
    const b = await startHelloBackend('b')
    onTestFinished(() => {
      kill(a)
      kill(b)
    })
    const gw = await startGateway({
      ...loadConfig([], { ACCESS_LOG: 'off', METRICS_PATH: 'off' }),
      upstreams: [serverUrl(a), serverUrl(b)],
      port: 0,
      host: '127.0.0.1',
      status: { intervalMs: 200 },
      balancer: { passive: { maxFails: 1, failTimeout: 60_000 }, retry: { attempts: 2 } },
    })
    onTestFinished(() => gw.close())
    const stop = traffic(`http://127.0.0.1:${gw.port}/`)
    onTestFinished(stop)

    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS })
    onTestFinished(() => browser.close())
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${gw.port}/__switchyard/`)
    await expect.poll(() => page.textContent('#conn'), { timeout: 10_000 }).toBe('live')
    const count = async () => Number(await page.textContent('#requests'))
    await expect.poll(count, { timeout: 10_000 }).toBeGreaterThan(0)
    const first = await count()
    await expect.poll(count, { timeout: 10_000 }).toBeGreaterThan(first) // live: the numbers move
    const rows = page.locator('#upstreams tr')
    await expect.poll(() => rows.count()).toBe(2)
    const bRow = page.locator(`tr[data-upstream="${serverUrl(b)}"]`)
    await expect.poll(() => bRow.getAttribute('class')).toBe('state-up')
    // A rate is per tick: polled, since the tick in view may be the first, with nothing to compare against.
    await expect.poll(async () => Number(await page.locator(`tr[data-upstream="${serverUrl(a)}"] td.rate`).textContent()), { timeout: 10_000 }).toBeGreaterThan(0)
    // Rows are updated in place, not rebuilt each tick (a rebuilt row would drop a click that straddles a tick).
    const held = await bRow.elementHandle()
    const now = await count()
    await expect.poll(count, { timeout: 10_000 }).toBeGreaterThan(now)
    expect(await held!.evaluate((tr) => tr.isConnected)).toBe(true)

    kill(b) // the next request to it fails: passive max_fails takes it out
    await expect.poll(() => bRow.getAttribute('class'), { timeout: 10_000 }).toBe('state-down')
    expect(await bRow.locator('td.state').evaluate((td) => getComputedStyle(td).color)).toBe('rgb(200, 0, 0)')
    expect(await bRow.locator('td.state').textContent()).toBe('down (max_fails)')
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}status-page.png`, fullPage: true })
  }, 60_000)

  it('is for loopback clients only unless allowed, and serves the samples as JSON', async () => {
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1', status: { allow: ['10.0.0.0/8'], intervalMs: 100 } })
    onTestFinished(() => gw.close())
    expect((await request(`http://127.0.0.1:${gw.port}/__switchyard/`)).statusCode).toBe(403)
    const open = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1', status: { intervalMs: 100 } })
    onTestFinished(() => open.close())
    await (await request(`http://127.0.0.1:${open.port}/`)).body.dump()
    await expect.poll(() => open.status!.history.length).toBeGreaterThan(1)
    const data = (await (await request(`http://127.0.0.1:${open.port}/__switchyard/data`)).body.json()) as { history: { requests: number; upstreams: unknown[] }[] }
    expect(data.history.at(-1)!.requests).toBeGreaterThanOrEqual(1)
    expect(data.history.at(-1)!.upstreams).toHaveLength(2)
    const off = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off', STATUS_PATH: 'off' }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => off.close())
    expect(off.status).toBeUndefined()
  })

  it('takes an operator’s actions with the token: mark down from the page in the browser; refuses them without it', async () => {
    const a = await startHelloBackend('a')
    const b = await startHelloBackend('b')
    onTestFinished(() => {
      kill(a)
      kill(b)
    })
    const token = 'correct-horse-battery-staple'
    const gw = await startGateway({
      ...loadConfig([], { ACCESS_LOG: 'off', METRICS_PATH: 'off', STATUS_TOKEN: token }),
      upstreams: [serverUrl(a), serverUrl(b)],
      port: 0,
      host: '127.0.0.1',
      status: { intervalMs: 100, token },
    })
    onTestFinished(() => gw.close())
    const actions = `http://127.0.0.1:${gw.port}/__switchyard/actions`
    const post = (auth: string | undefined, body: object) =>
      request(actions, { method: 'POST', headers: auth === undefined ? {} : { authorization: auth }, body: JSON.stringify(body) })
    expect((await post(undefined, { upstream: serverUrl(a), action: 'down' })).statusCode).toBe(401)
    expect((await post('Bearer wrong-token-wrong-token!', { upstream: serverUrl(a), action: 'down' })).statusCode).toBe(401)
    expect((await post(`Bearer ${token}`, { upstream: 'nope', action: 'down' })).statusCode).toBe(404)
    const weighted = await post(`Bearer ${token}`, { upstream: serverUrl(a), action: 'weight', weight: 3 })
    expect(weighted.statusCode).toBe(200)
    expect(gw.lb.upstreams[0]!.weight).toBe(3)

    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS })
    onTestFinished(() => browser.close())
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${gw.port}/__switchyard/`)
    await expect.poll(() => page.isVisible('#act'), { timeout: 10_000 }).toBe(true)
    await page.fill('#token', token)
    const bRow = page.locator(`tr[data-upstream="${serverUrl(b)}"]`)
    await bRow.locator('button.action-down').click()
    await expect.poll(() => bRow.getAttribute('class'), { timeout: 10_000 }).toBe('state-down')
    expect(await bRow.locator('td.state').textContent()).toBe('down (configured)')
    expect(gw.lb.upstreams[1]).toMatchObject({ state: 'down', reason: 'configured' })
    await bRow.locator('button.action-up').click()
    await expect.poll(() => gw.lb.upstreams[1]!.state).toBe('up')

    const readOnly = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => readOnly.close())
    const refused = await request(`http://127.0.0.1:${readOnly.port}/__switchyard/actions`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' })
    expect(refused.statusCode).toBe(404)
  }, 60_000)
})
