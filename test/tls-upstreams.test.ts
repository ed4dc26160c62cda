import { once } from 'node:events'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { type BalancerOptions, createBalancer } from '@switchyard/core'
import { activeHealthCheck } from '@switchyard/health'
import { request } from 'undici'
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { makeTestPki, type TestPki } from './helpers/tls.js'
import { get, serveBalancer } from '@switchyard/testing'

let pki: TestPki
beforeAll(() => {
  pki = makeTestPki()
})

/** An HTTPS upstream on 127.0.0.1:0 that answers with the SNI it was given; counts TLS connections. */
async function httpsUpstream(options: https.ServerOptions) {
  const state = { url: '', connections: 0, servernames: [] as Array<string | false | null> }
  const server = https.createServer(options, (req, res) => {
    const sni = (req.socket as TLSSocket).servername
    state.servernames.push(sni)
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ sni, host: req.headers.host, peer: (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN ?? null }))
  })
  server.on('secureConnection', () => state.connections++)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  state.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  return state
}

describe('HTTPS upstreams', () => {
  it('the TLS server name comes from the upstream, never the client’s Host; varying Hosts share one connection', async () => {
    const up = await httpsUpstream({ ...pki.server })
    const { url } = await serveBalancer({
      upstreams: [{ url: up.url, tls: { ca: pki.ca, servername: 'upstream.test' } }],
      preserveHost: true,
    })
    for (const host of ['a.example', 'b.example', 'c.example:8080', 'a.example']) {
      const res = await get(url, { headers: { host } })
      expect(res.status).toBe(200)
      expect(res.json()).toMatchObject({ sni: 'upstream.test', host })
    }
    expect(up.connections).toBe(1)
  })

  it('an upstream named by IP is checked against its IP, with no SNI', async () => {
    const up = await httpsUpstream({ ...pki.server })
    const { url } = await serveBalancer({ upstreams: [{ url: up.url, tls: { ca: pki.ca } }] })
    const res = await get(url, { headers: { host: 'app.example' } })
    expect(res.status).toBe(200)
    expect(res.json()).toMatchObject({ sni: false, host: 'app.example' })
  })

  it('a self-signed upstream is refused by default (502, counted), and accepted with its certificate as ca', async () => {
    const up = await httpsUpstream({ ...pki.selfSigned })
    const refused = await serveBalancer({ upstreams: [up.url], retry: false })
    const res = await get(refused.url)
    expect(res.status).toBe(502)
    expect(refused.lb.upstreams[0]!.failures).toBe(1)
    const trusted = await serveBalancer({ upstreams: [{ url: up.url, tls: { ca: pki.selfSigned.cert } }] })
    expect((await get(trusted.url)).status).toBe(200)
  })

  it('mutual TLS: the upstream requires a client certificate; the balancer presents one from tls.cert/key', async () => {
    const up = await httpsUpstream({ ...pki.server, ca: pki.ca, requestCert: true, rejectUnauthorized: true })
    const without = await serveBalancer({ upstreams: [{ url: up.url, tls: { ca: pki.ca } }], retry: false })
    expect((await get(without.url)).status).toBe(502)
    const withCert = await serveBalancer({ upstreams: [{ url: up.url, tls: { ca: pki.ca, ...pki.client } }] })
    const res = await get(withCert.url)
    expect(res.status).toBe(200)
    expect(res.json()).toMatchObject({ peer: 'switchyard' })
  })

  it('the dispatcher path uses the upstream’s server name too', async () => {
    const up = await httpsUpstream({ ...pki.server })
    const lb = createBalancer({ upstreams: [{ url: up.url, tls: { ca: pki.ca, servername: 'upstream.test' } }] })
    onTestFinished(() => lb.close())
    const res = await request('http://service/x', { dispatcher: lb.dispatcher, headers: { host: 'other.example' } })
    expect(await res.body.json()).toMatchObject({ sni: 'upstream.test' })
  })

  it('active health checks reach a private-CA upstream with its TLS options', async () => {
    const up = await httpsUpstream({ ...pki.server })
    const lb = createBalancer({
      upstreams: [{ url: up.url, tls: { ca: pki.ca, servername: 'upstream.test' } }],
      health: activeHealthCheck({ path: '/', interval: 50, unhealthyThreshold: 1, healthyThreshold: 1 }),
    })
    onTestFinished(() => lb.close())
    await expect.poll(() => up.servernames.length).toBeGreaterThanOrEqual(2)
    expect(lb.upstreams[0]!.state).toBe('up')
    expect(up.servernames[0]).toBe('upstream.test')
  })

  it('validates tls options', () => {
    const bad: Array<[BalancerOptions['upstreams'][number], RegExp]> = [
      [{ url: 'http://127.0.0.1:1', tls: {} }, /upstreams\[0\]\.tls needs an https: url/],
      [{ url: 'https://127.0.0.1:1', tls: { cert: 'x' } }, /cert and .*key go together/],
      [{ url: 'https://127.0.0.1:1', tls: { ca: 5 as never } }, /tls\.ca must be PEM/],
      [{ url: 'https://127.0.0.1:1', tls: { severname: 'x' } as never }, /did you mean upstreams\[0\]\.tls\.servername/],
    ]
    for (const [upstream, message] of bad) {
      expect(() => createBalancer({ upstreams: [upstream] })).toThrow(message)
    }
  })
})
