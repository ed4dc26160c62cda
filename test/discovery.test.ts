import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@switchyard/core'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startDns } from './helpers/dns.js'
import { inOrder, virtualClock } from '@switchyard/testing'

/** A backend on `host` (any 127.x address) and `port` (0: any) that names itself. */
async function backend(name: string, host: string, port = 0, delayMs = 0) {
  let hits = 0
  const server = http.createServer((req, res) => {
    hits++
    req.resume()
    setTimeout(() => res.end(name), req.url === '/slow' ? 300 : delayMs)
  })
  server.listen(port, host)
  await once(server, 'listening')
  onTestFinished(() => {
    server.closeAllConnections()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, hits: () => hits }
}

async function call(lb: ReturnType<typeof createBalancer>, path = '/') {
  const res = await request(`http://svc${path}`, { dispatcher: lb.dispatcher })
  return res.body.text()
}

describe('DNS discovery (upstreams with resolve)', () => {
  it('makes one upstream per A record, follows the records at their TTL, and drains the ones that go', async () => {
    const one = await backend('one', '127.0.0.1', 0, 0)
    const two = await backend('two', '127.0.0.2', one.port)
    const dns = await startDns({ a: { 'api.test': [{ address: '127.0.0.1', ttl: 30 }, { address: '127.0.0.2', ttl: 30 }] } })
    const clock = virtualClock()
    const lb = createBalancer({
      upstreams: [{ id: 'api', url: `http://api.test:${one.port}`, resolve: true }],
      dns: { servers: [dns.server] },
      strategy: inOrder(),
      clock,
    })
    onTestFinished(() => lb.close())
    await lb.ready()
    expect(lb.upstreams.map((u) => u.id)).toEqual([`api/127.0.0.1:${one.port}`, `api/127.0.0.2:${one.port}`])
    expect(new Set([await call(lb), await call(lb)])).toEqual(new Set(['one', 'two']))

    const slow = [call(lb, '/slow'), call(lb, '/slow')] // one on each: in flight across the change
    await expect.poll(() => lb.stats().inFlight).toBe(2)
    dns.zone.a!['api.test'] = [{ address: '127.0.0.2', ttl: 30 }]
    clock.advance(29_999)
    expect(lb.upstreams).toHaveLength(2) // the TTL has not run out
    clock.advance(1)
    await expect.poll(() => lb.upstreams.map((u) => u.id)).toEqual([`api/127.0.0.2:${one.port}`])
    expect((await Promise.all(slow)).sort()).toEqual(['one', 'two']) // the removed one finished what it had
    expect(await call(lb)).toBe('two')
    expect(await call(lb)).toBe('two')
    expect(two.hits()).toBe(4) // one before the change, its slow one, and these two
  })

  it('keeps the upstreams found last when a lookup fails, and asks again after retryInterval', async () => {
    const one = await backend('one', '127.0.0.1')
    const dns = await startDns({ a: { 'api.test': [{ address: '127.0.0.1', ttl: 5 }] } })
    const clock = virtualClock()
    const lb = createBalancer({ upstreams: [{ url: `http://api.test:${one.port}`, resolve: true }], dns: { servers: [dns.server], retryInterval: 2_000 }, clock })
    onTestFinished(() => lb.close())
    await lb.ready()
    delete dns.zone.a!['api.test'] // NXDOMAIN from now on
    const asked = dns.questions()
    clock.advance(5_000)
    await expect.poll(() => dns.questions()).toBeGreaterThan(asked)
    await expect.poll(() => clock.dueIn(2_000)).toBe(1) // the retry is set
    expect(lb.upstreams).toHaveLength(1)
    expect(await call(lb)).toBe('one')
  })

  it('reads SRV records: port and weight from the record, priorities as priority levels', async () => {
    const main = await backend('main', '127.0.0.1')
    const spare = await backend('spare', '127.0.0.2')
    const dns = await startDns({
      srv: {
        '_http._tcp.api.test': [
          { name: 'main.test', port: main.port, priority: 0, weight: 3 },
          { name: 'spare.test', port: spare.port, priority: 1, weight: 1 },
        ],
      },
      a: { 'main.test': [{ address: '127.0.0.1' }], 'spare.test': [{ address: '127.0.0.2' }] },
    })
    const lb = createBalancer({ upstreams: [{ id: 'api', url: 'http://_http._tcp.api.test', resolve: 'srv', maxConnections: 50 }], dns: { servers: [dns.server] } })
    onTestFinished(() => lb.close())
    await lb.ready()
    expect(lb.upstreams.map((u) => [u.id, u.weight, u.priority, u.backup, u.maxConnections])).toEqual([
      [`api/127.0.0.1:${main.port}`, 3, 0, false, 50],
      [`api/127.0.0.2:${spare.port}`, 1, 1, false, 50],
    ])
    for (let i = 0; i < 4; i++) expect(await call(lb)).toBe('main') // level 1 waits while level 0 is healthy
  })

  it('refuses what cannot be resolved at creation', () => {
    expect(() => createBalancer({ upstreams: [{ url: 'http://127.0.0.1:80', resolve: true }] })).toThrow(/needs a host name/)
    expect(() => createBalancer({ upstreams: [{ url: 'http://api.test', resolve: 'mx' as never }] })).toThrow(/resolve must be true/)
    expect(() => createBalancer({ upstreams: [{ url: 'http://api.test', resolve: true }], dns: { servers: 'x' as never } })).toThrow(/dns.servers/)
  })
})
