import { once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { type BalancerOptions, createBalancer } from '@switchyard/core'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { makeTestPki } from './helpers/tls.js'
import { get, inOrder, serveBalancer } from '@switchyard/testing'

type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void

/** An HTTP/2-only upstream: h2c on 127.0.0.1:0, or over TLS with a test certificate. */
async function h2Upstream(handler: StreamHandler, tls?: { cert: string; key: string }) {
  const server = tls === undefined ? http2.createServer() : http2.createSecureServer({ ...tls, allowHTTP1: false })
  const seen: http2.IncomingHttpHeaders[] = []
  server.on('stream', (stream, headers) => {
    seen.push(headers)
    handler(stream, headers)
  })
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (s) => sessions.add(s))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    for (const s of sessions) s.destroy()
    await new Promise<void>((r) => server.close(() => r()))
  })
  const { port } = server.address() as AddressInfo
  return { url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`, seen }
}

const hello: StreamHandler = (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'text/plain' })
  stream.end('over h2')
}

/** A gRPC-shaped answer: one length-prefixed message, then `grpc-status` in trailers. */
function grpcAnswer(status: number): StreamHandler {
  return (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(status), 'grpc-message': status === 0 ? 'OK' : 'unavailable' }))
    const message = Buffer.from('hello')
    const frame = Buffer.alloc(5 + message.length)
    frame.writeUInt32BE(message.length, 1)
    message.copy(frame, 5)
    stream.end(frame)
  }
}

/** The balancer's handler on an h2c server, as a gRPC client reaches it. */
async function h2Proxy(options: BalancerOptions) {
  const lb = createBalancer(options)
  const server = http2.createServer(lb.handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    await lb.close({ timeout: 100 })
    await new Promise<void>((r) => server.close(() => r()))
  })
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  onTestFinished(() => void session.destroy())
  return { lb, session }
}

/** A gRPC call through `session`: the response headers, body and trailers. */
async function grpcCall(session: http2.ClientHttp2Session) {
  const stream = session.request({ ':method': 'POST', ':path': '/pkg.Greeter/SayHello', 'content-type': 'application/grpc', te: 'trailers' })
  stream.end(Buffer.from([0, 0, 0, 0, 0]))
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
  const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('trailers', resolve))
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return { headers, body: Buffer.concat(chunks), trailers: await trailers }
}

describe('HTTP/2 upstreams', () => {
  it('speaks h2c (prior knowledge) to an http: upstream with http2: true', async () => {
    const up = await h2Upstream(hello)
    const { url } = await serveBalancer({ upstreams: [{ url: up.url, http2: true }] })
    const res = await get(`${url}/x?y=1`)
    expect(res.status).toBe(200)
    expect(res.text).toBe('over h2')
    expect(up.seen[0]![':path']).toBe('/x?y=1')
    expect(up.seen[0]!['x-forwarded-for']).toBe('127.0.0.1')
  })

  it('speaks h2 by ALPN to an https: upstream (balancer-wide http2), on the dispatcher path too', async () => {
    const pki = makeTestPki()
    const up = await h2Upstream(hello, pki.server)
    const lb = createBalancer({ upstreams: [{ url: up.url, tls: { ca: pki.ca, servername: 'upstream.test' } }], http2: true })
    onTestFinished(() => lb.close())
    const res = await request('http://svc/tls', { dispatcher: lb.dispatcher })
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('over h2')
    expect(up.seen[0]![':path']).toBe('/tls')
  })

  it('passes gRPC through end to end: TE: trailers kept, trailers relayed, grpc-status intact', async () => {
    const up = await h2Upstream(grpcAnswer(0))
    const { session } = await h2Proxy({ upstreams: [{ url: up.url, http2: true }] })
    const call = await grpcCall(session)
    expect(call.headers[':status']).toBe(200)
    expect(call.headers['content-type']).toBe('application/grpc')
    expect(call.body.subarray(5).toString()).toBe('hello')
    expect(call.trailers['grpc-status']).toBe('0')
    expect(call.trailers['grpc-message']).toBe('OK')
    expect(up.seen[0]!.te).toBe('trailers')
  })

  it('a gRPC error (grpc-status 14) on HTTP 200 counts against the upstream with passive.failOnGrpcStatus', async () => {
    const bad = await h2Upstream(grpcAnswer(14))
    const good = await h2Upstream(grpcAnswer(0))
    const upstreams = [bad.url, good.url].map((url) => ({ url, http2: true }))
    const judged = await h2Proxy({ upstreams, strategy: inOrder(), passive: { failOnGrpcStatus: [14] } })
    const call = await grpcCall(judged.session)
    expect(call.trailers['grpc-status']).toBe('14') // relayed as it came
    expect(judged.lb.upstreams[0]).toMatchObject({ state: 'down', reason: 'max_fails' })

    const plain = await h2Proxy({ upstreams, strategy: inOrder() })
    await grpcCall(plain.session)
    expect(plain.lb.upstreams[0]!.state).toBe('up') // without it, every HTTP 200 is a success
  })

  it('relays trailers to an HTTP/1.1 client after the last chunk', async () => {
    const up = http.createServer((_req, res) => {
      res.writeHead(200, { trailer: 'x-checksum' })
      res.write('part')
      res.addTrailers({ 'x-checksum': 'abc123' })
      res.end()
    })
    up.listen(0, '127.0.0.1')
    await once(up, 'listening')
    onTestFinished(() => new Promise<void>((r) => up.close(() => r())))
    const { url } = await serveBalancer({ upstreams: [`http://127.0.0.1:${(up.address() as AddressInfo).port}`] })
    const res = await request(url)
    expect(await res.body.text()).toBe('part')
    expect(res.trailers['x-checksum']).toBe('abc123')
  })
})
