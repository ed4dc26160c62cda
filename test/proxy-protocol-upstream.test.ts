import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Agent, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { acceptProxyProtocol, parseProxyHeader } from '../examples/gateway/src/proxy-protocol.js'
import { proxyHeader } from '../packages/core/src/fleet/proxy-protocol.js'
import { serveBalancer } from '@switchyard/testing'

/** An upstream that expects the PROXY protocol and answers with the client address it was told. */
async function proxyAwareUpstream() {
  const sockets = new Set<Socket>()
  let closed = 0
  const server = http.createServer((req, res) => res.end(JSON.stringify({ address: req.socket.remoteAddress, port: req.socket.remotePort })))
  acceptProxyProtocol(server)
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.once('close', () => closed++)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => sockets.size, closed: () => closed }
}

const ask = async (url: string, agent: Agent, forwardedFor?: string) => {
  const res = await request(url, { dispatcher: agent, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } })
  return (await res.body.json()) as { address: string; port: number }
}

describe('proxyProtocol to an upstream (nginx proxy_protocol on, HAProxy send-proxy)', () => {
  it('writes headers the PROXY parser reads back: v1 and v2, IPv4 and IPv6, UNKNOWN / LOCAL without a client', () => {
    const peer = { connection: { once: () => {} }, source: '203.0.113.9', sourcePort: 40_000, destination: '10.0.0.1', destinationPort: 8080 }
    expect(proxyHeader('v1', peer).toString()).toBe('PROXY TCP4 203.0.113.9 10.0.0.1 40000 8080\r\n')
    expect(parseProxyHeader(proxyHeader('v2', peer))!.header).toEqual({ address: '203.0.113.9', port: 40_000, family: 'IPv4' })
    const six = { ...peer, source: '2001:db8::5', destination: '::ffff:10.0.0.1' }
    expect(parseProxyHeader(proxyHeader('v1', six))!.header).toEqual({ address: '2001:db8::5', port: 40_000, family: 'IPv6' })
    expect(parseProxyHeader(proxyHeader('v2', six))!.header).toEqual({ address: '2001:db8::5', port: 40_000, family: 'IPv6' })
    expect(proxyHeader('v1', undefined).toString()).toBe('PROXY UNKNOWN\r\n')
    expect(parseProxyHeader(proxyHeader('v2', undefined))).toEqual({ header: undefined, length: 16 })
  })

  it.each(['v1', 'v2'] as const)('%s: each client connection gets its own upstream connection, naming that client; closed with it', async (version) => {
    const up = await proxyAwareUpstream()
    const { url } = await serveBalancer({ upstreams: [{ url: up.url, proxyProtocol: version }], trustProxy: ['loopback'] })
    const one = new Agent({ connections: 1 })
    const two = new Agent({ connections: 1 })
    expect(await ask(url, one, '203.0.113.9')).toEqual({ address: '203.0.113.9', port: 0 }) // from a forwarding header: no port
    expect(await ask(url, two, '2001:db8::5')).toEqual({ address: '2001:db8::5', port: 0 })
    expect(await ask(url, one, '203.0.113.9')).toEqual({ address: '203.0.113.9', port: 0 }) // its connection again
    expect(up.connections()).toBe(2)
    const direct = await ask(url, one)
    expect(direct.address).toBe('127.0.0.1') // the client's own address, with its port
    expect(direct.port).toBeGreaterThan(0)
    await one.close()
    await two.close()
    await expect.poll(() => up.closed()).toBe(3) // the upstream connections went with the client's
  })

  it('the dispatcher path (no client) shares one connection that says UNKNOWN: the upstream sees the balancer', async () => {
    const up = await proxyAwareUpstream()
    const { lb } = await serveBalancer({ upstreams: [{ url: up.url, proxyProtocol: 'v1' }] })
    for (let i = 0; i < 3; i++) {
      const res = await request('http://any/', { dispatcher: lb.dispatcher })
      expect(((await res.body.json()) as { address: string }).address).toBe('127.0.0.1')
    }
    expect(up.connections()).toBe(1)
  })

  it('refuses another version', async () => {
    const { createBalancer } = await import('@switchyard/core')
    expect(() => createBalancer({ upstreams: [{ url: 'http://127.0.0.1:1', proxyProtocol: 'v3' as never }] })).toThrow(/upstreams\[0\]\.proxyProtocol must be/)
  })
})
