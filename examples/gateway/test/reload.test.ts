import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { EventEmitter } from 'node:events'
import { handleSignals, loadConfig, type SignalHost, startGateway } from '../src/index.js'

/** A backend naming itself; `/slow` answers after `slowMs`. */
async function backend(name: string, slowMs = 300) {
  let hits = 0
  let slowHits = 0
  const server = http.createServer((req, res) => {
    hits++
    if (req.url === '/slow') slowHits++
    req.resume()
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(name)
    }
    if (req.url === '/slow') setTimeout(answer, slowMs)
    else answer()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits, slowHits: () => slowHits }
}

/** `clients` loops sending requests until stopped; counts answers by body and every failure. */
function traffic(url: string, clients = 8) {
  let running = true
  const seen: Record<string, number> = {}
  let failures = 0
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const res = await request(url)
        const text = await res.body.text()
        if (res.statusCode === 200) seen[text] = (seen[text] ?? 0) + 1
        else failures++
      } catch {
        failures++
      }
    }
  })
  return {
    seen,
    failures: () => failures,
    async stop() {
      running = false
      await Promise.all(loops)
    },
  }
}

describe('gateway reload', () => {
  it('applies a changed config file live with no dropped request, and lets requests in flight finish', async () => {
    const a = await backend('a')
    const b = await backend('b')
    const file = join(mkdtempSync(join(tmpdir(), 'gw-reload-')), 'gateway.json')
    const write = (upstreams: string[]) =>
      writeFileSync(file, JSON.stringify({ port: 0, host: '127.0.0.1', upstreams, accessLog: false, status: false, watchConfig: 50 }))
    write([a.url])
    const gw = await startGateway(loadConfig(['--config', file], {}))
    onTestFinished(() => gw.close())
    const base = `http://127.0.0.1:${gw.port}`
    const load = traffic(`${base}/`)
    onTestFinished(() => load.stop())
    await expect.poll(() => load.seen.a ?? 0).toBeGreaterThan(20)
    const slow = request(`${base}/slow`).then(async (r) => [r.statusCode, await r.body.text()])
    await expect.poll(() => a.slowHits()).toBe(1) // at the old upstream before the reload
    write([b.url]) // the watch sees it and reloads
    await expect.poll(() => load.seen.b ?? 0, { timeout: 5_000 }).toBeGreaterThan(20)
    await expect.poll(() => gw.lastReload, { timeout: 5_000 }).toMatchObject({ ok: true, ignored: [] }) // set once the old balancer has drained
    expect(await slow).toEqual([200, 'a']) // in flight across the reload: finished by the old balancer
    const aAfter = a.hits()
    const bBefore = load.seen.b ?? 0
    await expect.poll(() => load.seen.b ?? 0).toBeGreaterThan(bBefore + 20)
    await load.stop()
    expect(a.hits()).toBe(aAfter) // nothing reaches the old upstream once the old balancer has drained
    expect(load.failures()).toBe(0) // and no request was dropped across the reload
    expect(gw.lb.upstreams.map((u) => u.url)).toEqual([b.url])
  })

  it('keeps serving the old config when the new one is bad, and names the file and key', async () => {
    const a = await backend('a')
    const file = join(mkdtempSync(join(tmpdir(), 'gw-reload-')), 'gateway.json')
    writeFileSync(file, JSON.stringify({ port: 0, host: '127.0.0.1', upstreams: [a.url], accessLog: false, watchConfig: 0 }))
    const gw = await startGateway(loadConfig(['--config', file], {}))
    onTestFinished(() => gw.close())
    writeFileSync(file, JSON.stringify({ port: 0, upstreams: [a.url], balancer: { retry: { atempts: 2 } } }))
    const result = await gw.reloadConfig()
    expect(result.ok).toBe(false)
    expect(result.error).toContain(`${file}: in balancer: unknown option retry.atempts; did you mean retry.attempts?`)
    expect(await (await request(`http://127.0.0.1:${gw.port}/`)).body.text()).toBe('a')
    writeFileSync(file, JSON.stringify({ port: 1, upstreams: [a.url], accessLog: false }))
    expect(await gw.reloadConfig()).toMatchObject({ ok: true, ignored: ['port', 'host'] }) // need a restart: kept as they were
    expect(await (await request(`http://127.0.0.1:${gw.port}/`)).body.text()).toBe('a')
  })

  it('reads YAML, with errors naming the line; workers: auto is one per CPU', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-yaml-'))
    const file = join(dir, 'gateway.yaml')
    writeFileSync(file, ['port: 9000', 'workers: auto', 'upstreams:', '  - url: http://10.0.0.5:5000', '    weight: 2', '  - http://10.0.0.6:5000', 'strategy: leastConnections'].join('\n'))
    const config = loadConfig(['--config', file], {})
    expect(config.port).toBe(9000)
    expect(config.workers).toBe((await import('node:os')).availableParallelism())
    expect(config.upstreams).toEqual([{ url: 'http://10.0.0.5:5000', weight: 2 }, 'http://10.0.0.6:5000'])
    expect(config.strategy).toEqual({ name: 'leastConnections' })
    const bad = join(dir, 'bad.yml')
    writeFileSync(bad, 'port: 9000\nupstreams: [http://a\n')
    expect(() => loadConfig(['--config', bad], {})).toThrow(new RegExp(`^${bad} at line \\d+, column \\d+: invalid YAML`))
    const example = loadConfig(['--config', new URL('../gateway.example.yaml', import.meta.url).pathname], {})
    expect(example).toMatchObject({ port: 8080, strategy: { name: 'leastConnections' } })
    expect(example.upstreams).toHaveLength(4)
    const listen = join(dir, 'listen.yaml')
    writeFileSync(listen, 'listen: "127.0.0.1:9001"\n')
    expect(loadConfig(['--config', listen], {})).toMatchObject({ port: 9001, host: '127.0.0.1' })
    const typo = join(dir, 'typo.yaml')
    writeFileSync(typo, 'upstream: [http://a:1]\n')
    expect(() => loadConfig(['--config', typo], {})).toThrow(/unknown option upstream; did you mean upstreams\?/)
  })

  it('SIGHUP reloads the config file; SIGTERM drains the requests in flight, then exits 0', async () => {
    const a = await backend('a', 300)
    const b = await backend('b')
    const file = join(mkdtempSync(join(tmpdir(), 'gw-signals-')), 'gateway.json')
    writeFileSync(file, JSON.stringify({ port: 0, host: '127.0.0.1', upstreams: [a.url], accessLog: false, status: false, watchConfig: 0 }))
    const gw = await startGateway(loadConfig(['--config', file], {}))
    onTestFinished(() => gw.close())
    const signals = new EventEmitter()
    const exits: number[] = []
    handleSignals(gw, (code) => exits.push(code), signals as unknown as SignalHost)
    const base = `http://127.0.0.1:${gw.port}`
    expect(await (await request(base)).body.text()).toBe('a')
    writeFileSync(file, JSON.stringify({ port: 0, host: '127.0.0.1', upstreams: [b.url], accessLog: false, status: false, watchConfig: 0 }))
    signals.emit('SIGHUP')
    await expect.poll(async () => (await request(base)).body.text()).toBe('b')

    writeFileSync(file, JSON.stringify({ port: 0, host: '127.0.0.1', upstreams: [a.url], accessLog: false, status: false, watchConfig: 0 }))
    signals.emit('SIGHUP')
    await expect.poll(() => gw.lb.upstreams[0]!.url).toBe(a.url)
    const slow = request(`${base}/slow`).then(async (r) => [r.statusCode, await r.body.text()])
    await expect.poll(() => gw.lb.stats().inFlight).toBe(1)
    signals.emit('SIGTERM')
    expect(await slow).toEqual([200, 'a']) // in flight when SIGTERM came: answered
    await expect.poll(() => exits).toEqual([0])
    await expect(request(base)).rejects.toThrow() // and the port is closed
  })
})
