import { once } from 'node:events'
import { createServer as createH2Server, type Http2Server } from 'node:http2'
import { createServer as createHttpServer } from 'node:http'
import { connect as connectTcp, createServer as createTcpServer, type Server, type Socket } from 'node:net'
import { activeHealthCheck } from '@switchyard/health'
import { grpcHealthRequest, grpcServingStatus } from '../packages/health/src/probes.js'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream, get, serveBalancer, virtualClock } from '@switchyard/testing'

/** A TCP server that accepts and closes, which can stop and start listening on its port. */
async function tcpUpstream() {
  let server: Server = createTcpServer((s) => s.destroy())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const self = {
    url: `http://127.0.0.1:${port}`,
    accepted: 0,
    async stop() {
      server.close()
      await once(server, 'close')
    },
    async start() {
      server = createTcpServer((s) => {
        self.accepted++
        s.destroy()
      })
      server.listen(port, '127.0.0.1')
      await once(server, 'listening')
    },
  }
  server.on('connection', () => self.accepted++)
  onTestFinished(() => {
    if (server.listening) server.close()
  })
  return self
}

/** The gRPC health reply for a status: one message frame, `status` as field 1 (omitted when 0, as protobuf does). */
function healthReply(status: number): Buffer {
  const message = status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, status])
  const frame = Buffer.alloc(5)
  frame.writeUInt32BE(message.length, 1)
  return Buffer.concat([frame, message])
}

/**
 * A gRPC health server on loopback, speaking the protocol on the wire as grpc.health.v1 servers do:
 * `POST /grpc.health.v1.Health/Check`, a length-prefixed HealthCheckRequest in, a HealthCheckResponse
 * and `grpc-status` trailers out; an unknown service is NOT_FOUND (grpc-status 5), as the spec says.
 * HTTP/1.1 requests on the same port (the balancer's traffic) get the upstream's name.
 */
async function grpcHealthServer(name = 'grpc') {
  const services = new Map<string, number>([['', 1]])
  const seen: string[] = []
  const grpcServer: Http2Server = createH2Server((req, res) => {
    if (req.url !== '/grpc.health.v1.Health/Check' || req.headers['content-type'] !== 'application/grpc') {
      res.writeHead(404).end()
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const length = body.readUInt32BE(1)
      const message = body.subarray(5, 5 + length)
      // HealthCheckRequest: field 1 (service), length-delimited; absent means ''.
      const service = message.length === 0 ? '' : message.subarray(2, 2 + message[1]!).toString('utf8')
      seen.push(service)
      const status = services.get(service)
      if (status === undefined) {
        // A trailers-only answer: the status in the headers, no body.
        res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'unknown service' }).end()
        return
      }
      res.writeHead(200, { 'content-type': 'application/grpc' })
      res.addTrailers({ 'grpc-status': '0' })
      res.end(healthReply(status))
    })
  })
  // The balancer's traffic is HTTP/1.1: one port serves both, by the first bytes (the HTTP/2
  // connection preface starts with "PRI"), as gRPC servers with an h2c fallback do: a front socket
  // hands each connection to the gRPC server or to the web server behind it.
  const web = createHttpServer((_req, res) => res.end(JSON.stringify({ name })))
  const sockets = new Set<Socket>()
  const server = createTcpServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.once('data', (first) => {
      const behind = first.subarray(0, 3).toString('latin1') === 'PRI' ? grpcServer : web
      const inner = connectTcp((behind.address() as { port: number }).port, '127.0.0.1')
      sockets.add(inner)
      inner.on('error', () => socket.destroy())
      socket.on('close', () => inner.destroy())
      inner.write(first)
      socket.pipe(inner).pipe(socket)
    })
  })
  for (const s of [grpcServer, web, server]) {
    s.listen(0, '127.0.0.1')
    await once(s, 'listening')
  }
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy()
    await Promise.all([grpcServer, web, server].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  })
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, services, seen }
}

describe('active TCP probes', () => {
  it('an upstream is down while nothing accepts on its port, and up again when something does', async () => {
    const clock = virtualClock()
    const tcp = await tcpUpstream()
    const other = await fakeUpstream({ name: 'other' })
    const { lb } = await serveBalancer({
      upstreams: [tcp.url, other.url],
      clock,
      health: activeHealthCheck({ type: 'tcp', interval: 1_000, jitter: 0, timeout: 500 }),
    })
    await expect.poll(() => tcp.accepted).toBeGreaterThanOrEqual(1) // the first probe, at once
    expect(lb.upstreams[0]!.state).toBe('up')
    await tcp.stop()
    const down = once(lb, 'upstream:down')
    await expect.poll(() => clock.dueIn(1_000)).toBe(2)
    clock.advance(1_000)
    expect((await down)[0]).toEqual({ id: tcp.url, reason: 'health_check' })
    expect(lb.upstreams[1]!.state).toBe('up') // only the one that stopped
    await tcp.start()
    const up = once(lb, 'upstream:up')
    await expect.poll(() => clock.dueIn(1_000)).toBe(2)
    clock.advance(1_000)
    await up
    expect(lb.upstreams[0]!.state).toBe('up')
  })
})

describe('active gRPC health probes', () => {
  it('follows SERVING and NOT_SERVING of the server, over h2c, and traffic goes where probes pass', async () => {
    const clock = virtualClock()
    const grpc = await grpcHealthServer('grpc')
    const other = await grpcHealthServer('other')
    const { lb, url } = await serveBalancer({
      upstreams: [grpc.url, other.url],
      clock,
      health: activeHealthCheck({ type: 'grpc', interval: 1_000, jitter: 0 }),
    })
    await expect.poll(() => grpc.seen.length).toBe(1)
    expect(grpc.seen).toEqual(['']) // the server as a whole
    expect(lb.upstreams[0]!.state).toBe('up')
    grpc.services.set('', 2) // NOT_SERVING
    const down = once(lb, 'upstream:down')
    await expect.poll(() => clock.dueIn(1_000)).toBe(2)
    clock.advance(1_000)
    expect((await down)[0]).toEqual({ id: grpc.url, reason: 'health_check' })
    for (let i = 0; i < 4; i++) { const r = await get(url); expect(r.status, r.text).toBe(200); expect((r.json() as { name: string }).name).toBe('other') }
    grpc.services.set('', 1)
    const up = once(lb, 'upstream:up')
    await expect.poll(() => clock.dueIn(1_000)).toBe(2)
    clock.advance(1_000)
    await up
    expect(lb.upstreams[0]!.state).toBe('up')
  })

  it('asks about the named service: an unknown one (grpc-status 5) and UNKNOWN fail, SERVING passes', async () => {
    const clock = virtualClock()
    const grpc = await grpcHealthServer()
    const { lb } = await serveBalancer({
      upstreams: [grpc.url],
      clock,
      health: activeHealthCheck({ type: 'grpc', service: 'shop.Orders', interval: 1_000, jitter: 0 }),
    })
    const down = once(lb, 'upstream:down')
    await down // not registered yet: NOT_FOUND
    expect(grpc.seen).toEqual(['shop.Orders'])
    grpc.services.set('shop.Orders', 1)
    const up = once(lb, 'upstream:up')
    await expect.poll(() => clock.dueIn(1_000)).toBe(1)
    clock.advance(1_000)
    await up
    grpc.services.set('shop.Orders', 0) // UNKNOWN (the empty message)
    const again = once(lb, 'upstream:down')
    await expect.poll(() => clock.dueIn(1_000)).toBe(1)
    clock.advance(1_000)
    await again
  })

  it('refuses options that do not apply to the probe type', () => {
    expect(() => activeHealthCheck({ type: 'tcp', path: '/x' })).toThrow(/activeHealthCheck\(\)\.path does not apply to tcp probes/)
    expect(() => activeHealthCheck({ type: 'grpc', expectStatus: 200 })).toThrow(/expectStatus does not apply to grpc probes/)
    expect(() => activeHealthCheck({ service: 'x' })).toThrow(/service does not apply to http probes/)
    expect(() => activeHealthCheck({ type: 'udp' as never })).toThrow(/type must be 'http', 'tcp' or 'grpc'/)
  })

  it('encodes the request and reads the answer as protobuf does', () => {
    expect([...grpcHealthRequest('')]).toEqual([0, 0, 0, 0, 0])
    expect([...grpcHealthRequest('ab')]).toEqual([0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62])
    expect(grpcServingStatus(healthReply(1))).toBe(1)
    expect(grpcServingStatus(healthReply(0))).toBe(0)
    // Unknown fields are skipped (a newer server may add some).
    const extra = Buffer.from([0, 0, 0, 0, 6, 0x12, 2, 0x68, 0x69, 0x08, 2])
    expect(grpcServingStatus(extra)).toBe(2)
    expect(grpcServingStatus(Buffer.from([1, 0, 0, 0, 0]))).toBeUndefined() // compressed: not asked for
    expect(grpcServingStatus(Buffer.from([0, 0, 0, 0, 9, 8]))).toBeUndefined() // cut short
  })
})
