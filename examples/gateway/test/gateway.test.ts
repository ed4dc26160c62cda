import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { loadConfig, startGateway } from '../src/index.js'
import { rawExchange, statusOf } from '@switchyard/testing'
import { reusePortUnavailable } from '@switchyard/core'

async function body(url: string): Promise<{ message: string; backend: string }> {
  const res = await request(url)
  return (await res.body.json()) as { message: string; backend: string }
}

describe('examples/gateway', () => {
  it('starts two hello-world backends and alternates between them', async () => {
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => gw.close())
    const url = `http://127.0.0.1:${gw.port}/`
    const seen = [await body(url), await body(url), await body(url), await body(url)]
    expect(seen.every((b) => b.message === 'Hello, World!')).toBe(true)
    const backends = seen.map((b) => b.backend)
    expect(new Set(backends)).toEqual(new Set(['backend-1', 'backend-2']))
    expect(backends[0]).not.toBe(backends[1])
    expect(backends[2]).toBe(backends[0])
  })

  it('fronts real backends from UPSTREAMS, and takes PORT and STRATEGY from the environment', async () => {
    const demo = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => demo.close())
    const env = { UPSTREAMS: demo.lb.upstreams.map((u) => u.url).join(','), PORT: '0', STRATEGY: 'roundRobin', ACCESS_LOG: 'off' }
    const config = loadConfig([], env)
    expect(config.port).toBe(0)
    const gw = await startGateway({ ...config, host: '127.0.0.1' })
    onTestFinished(() => gw.close())
    expect(gw.backends).toHaveLength(0)
    expect((await body(`http://127.0.0.1:${gw.port}/`)).message).toBe('Hello, World!')
  })

  it('answers CONNECT with 501 instead of closing the connection silently (issue 22)', async () => {
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => gw.close())
    const { text, ended } = await rawExchange(`http://127.0.0.1:${gw.port}`, 'CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n')
    expect(statusOf(text)).toBe(501)
    expect(text).toContain('SWY_ERR_METHOD_NOT_SUPPORTED')
    expect(ended).toBe('end')
    expect(gw.lb.stats()).toMatchObject({ requests: 1, errors: 1 })
    expect((await body(`http://127.0.0.1:${gw.port}/`)).message).toBe('Hello, World!')
  })

  it('answers stats on STATS_PATH and proxies every other path', async () => {
    const gw = await startGateway({ ...loadConfig([], { STATS_PATH: '/__switchyard', ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => gw.close())
    await body(`http://127.0.0.1:${gw.port}/`)
    const res = await request(`http://127.0.0.1:${gw.port}/__switchyard`)
    const stats = (await res.body.json()) as { stats: { requests: number; upstreams: unknown[] }; process: { rss: number } }
    expect(stats.stats.requests).toBe(1)
    expect(stats.stats.upstreams).toHaveLength(2)
    expect(stats.process.rss).toBeGreaterThan(0)
  })

  it('a request in flight during a reload is drained by the old config and keeps its access-log line', async () => {
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let arrived!: () => void
    const arrival = new Promise<void>((r) => (arrived = r))
    const slow = http.createServer((req, res) => {
      req.resume()
      arrived()
      void held.then(() => res.end('late'))
    })
    slow.listen(0, '127.0.0.1')
    await once(slow, 'listening')
    onTestFinished(() => {
      slow.closeAllConnections()
      slow.close()
    })
    const log = join(mkdtempSync(join(tmpdir(), 'gw-')), 'access.log')
    const config = {
      ...loadConfig([], { ACCESS_LOG: log, METRICS_PATH: 'off', STATUS_PATH: 'off' }),
      upstreams: [`http://127.0.0.1:${(slow.address() as AddressInfo).port}`],
      port: 0,
      host: '127.0.0.1',
    }
    const gw = await startGateway(config)
    onTestFinished(() => gw.close())
    const answer = request(`http://127.0.0.1:${gw.port}/draining`)
    await arrival
    const reloaded = gw.reload(config) // the old site closes once its request is done
    release()
    expect(await (await answer).body.text()).toBe('late')
    await reloaded
    await gw.close()
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ path: '/draining', status: 200 })
  })

  it('serves Prometheus metrics on /metrics and writes a pino access log line per request', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'gw-')), 'access.log')
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: log }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => gw.close())
    await body(`http://127.0.0.1:${gw.port}/users`)
    await body(`http://127.0.0.1:${gw.port}/users`)
    const res = await request(`http://127.0.0.1:${gw.port}/metrics`)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    const text = await res.body.text()
    expect(text).toMatch(/^switchyard_requests_total 2$/m)
    expect(text).toMatch(/^switchyard_upstream_state\{upstream="http:\/\/127\.0\.0\.1:\d+",state="up"\} 1$/m)
    await gw.close()
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toHaveLength(2) // the scrape is the gateway's own, not a proxied request
    expect(lines[0]).toMatchObject({ msg: 'request', method: 'GET', path: '/users', status: 200, attempts: 1 })

    const quiet = await startGateway({ ...loadConfig([], { METRICS_PATH: 'off', ACCESS_LOG: 'off', STATUS_PATH: 'off' }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => quiet.close())
    expect(quiet.metricsPath).toBeUndefined()
    expect((await request(`http://127.0.0.1:${quiet.port}/metrics`)).statusCode).toBe(200) // proxied: the backend's own answer
    expect(quiet.lb.listenerCount('request:end')).toBe(0) // no traces built per request
  })

  it('reads a config file, with the environment overriding it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-'))
    const file = join(dir, 'gateway.json')
    writeFileSync(file, JSON.stringify({ port: 9000, upstreams: ['http://127.0.0.1:5000'], strategy: 'roundRobin', workers: 2, balancer: { retry: { attempts: 2 } } }))
    const config = loadConfig(['--config', file], { PORT: '9100' })
    expect(config).toMatchObject({ port: 9100, upstreams: ['http://127.0.0.1:5000'], workers: 2, balancer: { retry: { attempts: 2 } } })
  })

  it('runs the example config: strategy, health checks, breaker and slow start from JSON', async () => {
    const demo = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off' }), port: 0, host: '127.0.0.1' })
    onTestFinished(() => demo.close())
    expect(demo.lb.upstreams[0]!.state).toBe('up')
    const example = loadConfig(['--config', new URL('../gateway.example.json', import.meta.url).pathname], {
      PORT: '0',
      ACCESS_LOG: 'off',
      UPSTREAMS: demo.lb.upstreams.map((u) => u.url).join(','),
    })
    expect(example.balancer.health?.active?.path).toBe('/healthz')
    const gw = await startGateway({ ...example, host: '127.0.0.1' })
    onTestFinished(() => gw.close())
    expect(gw.lb.stats().strategy).toBe('peak-ewma')
    expect(gw.guards).toEqual(['ipFilter', 'requestFilter', 'bodyLimit', 'rateLimit'])
    expect((await body(`http://127.0.0.1:${gw.port}/`)).message).toBe('Hello, World!')
    const stats = await request(`http://127.0.0.1:${gw.port}/__switchyard`)
    expect(((await stats.body.json()) as { stats: { upstreams: unknown[] } }).stats.upstreams).toHaveLength(2)
  })

  it('refuses an unknown top-level key in a config file, naming the file and the nearest key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-'))
    const file = join(dir, 'gateway.json')
    writeFileSync(file, JSON.stringify({ upstream: ['http://127.0.0.1:5000'] }))
    expect(() => loadConfig(['--config', file], {})).toThrow(
      expect.objectContaining({
        code: 'SWY_ERR_INVALID_OPTION',
        field: 'upstream',
        message: expect.stringMatching(new RegExp(`^${file}: unknown option upstream; did you mean upstreams\\?`)),
      }),
    )
  })

  it('names the file, line and column of a JSON syntax error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-'))
    const file = join(dir, 'gateway.json')
    writeFileSync(file, '{\n  "port": 8080,\n  "upstreams": ["http://127.0.0.1:5000",]\n}\n')
    expect(() => loadConfig(['--config', file], {})).toThrow(new RegExp(`^${file} at line 3, column 41: invalid JSON`))
  })

  it('rejects an unknown strategy name with the list of known ones', async () => {
    await expect(startGateway({ ...loadConfig([], { STRATEGY: 'fastest' }), port: 0 })).rejects.toThrow(/strategy must be one of roundRobin/)
    expect(() => loadConfig([], { PORT: 'eighty' })).toThrow(/PORT must be an integer/)
  })

  it('listens on LISTENERS sockets sharing the port where the runtime has reusePort, else on one and says why; all close on close()', async () => {
    expect(loadConfig([], { LISTENERS: '4' }).listeners).toBe(4)
    expect(loadConfig([], { LISTENERS: 'auto' }).listeners).toBe('auto')
    expect(() => loadConfig([], { LISTENERS: '0' })).toThrow(expect.objectContaining({ code: 'SWY_ERR_INVALID_OPTION', field: 'LISTENERS' }))
    const gw = await startGateway({ ...loadConfig([], { ACCESS_LOG: 'off', LISTENERS: '4' }), port: 0, host: '127.0.0.1' })
    const unavailable = reusePortUnavailable()
    expect(gw.servers).toHaveLength(unavailable === undefined ? 4 : 1)
    expect(gw.listeners).toEqual({ count: gw.servers.length, fallback: unavailable })
    expect(gw.server).toBe(gw.servers[0])
    for (const s of gw.servers) expect((s.address() as AddressInfo).port).toBe(gw.port)
    expect((await body(`http://127.0.0.1:${gw.port}/`)).message).toBe('Hello, World!')
    await gw.close()
    expect(gw.servers.every((s) => !s.listening)).toBe(true)
  })
})
