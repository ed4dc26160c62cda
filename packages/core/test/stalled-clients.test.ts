import { once } from 'node:events'
import net from 'node:net'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { fakeUpstream, loopbackServer, serveBalancer, statusOf, testAgent } from '@switchyard/testing'

/** A client that sends a request head announcing `length` body bytes, then `sent` of them, then stalls. */
async function stalledUpload(url: string, length: number, sent: number) {
  const { port } = new URL(url)
  const socket = net.connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  socket.write(`POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: ${length}\r\n\r\n${'x'.repeat(sent)}`)
  let text = ''
  socket.setEncoding('latin1')
  socket.on('data', (c: string) => (text += c))
  socket.on('error', () => {})
  const closed = once(socket, 'close').then(() => text)
  return { socket, closed }
}

describe('stalled clients (nginx client_body_timeout and send_timeout)', () => {
  it('an upload that stalls gets 408 after timeouts.clientBody, and the upstream is not blamed', async () => {
    const up = await fakeUpstream()
    const { lb, url } = await serveBalancer({ upstreams: [up.url], timeouts: { clientBody: 300 } })
    const t0 = performance.now()
    const { closed } = await stalledUpload(url, 1_000, 10)
    const text = await closed
    expect(statusOf(text)).toBe(408)
    expect(text).toContain('SWY_ERR_CLIENT_TIMEOUT')
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290)
    await expect.poll(() => up.aborted).toBe(1) // the upstream request was cancelled
    expect(lb.upstreams[0]).toMatchObject({ state: 'up', failures: 0, inFlight: 0 })
    expect(lb.stats().active).toBe(0)
  })

  it('with maxConnections: 2, two stalled uploads no longer starve a third client', async () => {
    const up = await fakeUpstream()
    const { lb, url } = await serveBalancer({
      upstreams: [{ url: up.url, maxConnections: 2 }],
      timeouts: { clientBody: 300 },
    })
    const a = await stalledUpload(url, 1_000, 10)
    const b = await stalledUpload(url, 1_000, 10)
    await expect.poll(() => lb.upstreams[0]!.inFlight).toBe(2)
    const third = await request(url, { dispatcher: testAgent() })
    expect(third.statusCode).toBe(200)
    await third.body.dump()
    expect(statusOf(await a.closed)).toBe(408)
    expect(statusOf(await b.closed)).toBe(408)
    expect(lb.upstreams[0]).toMatchObject({ state: 'up', failures: 0 })
  })

  it('a pause the upstream causes (it does not read) is not the client’s stall', async () => {
    // An upstream that waits 3 × clientBody before it reads the body.
    const { url: slowUrl } = await loopbackServer((req, res) => {
      req.pause()
      setTimeout(() => {
        let n = 0
        req.on('data', (c: Buffer) => (n += c.length))
        req.on('end', () => res.end(String(n)))
        req.resume()
      }, 900)
    })
    const { lb, url } = await serveBalancer({ upstreams: [slowUrl], timeouts: { clientBody: 300 } })
    const body = Buffer.alloc(32 * 1024 * 1024, 1) // more than the socket buffers hold
    const res = await request(url, { method: 'POST', body, dispatcher: testAgent() })
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe(String(body.length))
    expect(lb.upstreams[0]!.failures).toBe(0)
  })

  it('a client that stops reading the response is cut after timeouts.send; the upstream request is released', async () => {
    const chunk = Buffer.alloc(64 * 1024, 120)
    const up = await fakeUpstream({
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        const write = () => {
          while (res.write(chunk)) {}
          res.once('drain', write)
        }
        write()
      },
    })
    const { lb, url } = await serveBalancer({ upstreams: [up.url], timeouts: { send: 300 } })
    const { port } = new URL(url)
    const socket = net.connect(Number(port), '127.0.0.1')
    await once(socket, 'connect')
    socket.on('error', () => {})
    socket.write('GET /big HTTP/1.1\r\nHost: app.example\r\n\r\n')
    await once(socket, 'data')
    socket.pause() // reads nothing more
    const t0 = performance.now()
    await expect.poll(() => up.aborted, { timeout: 10_000 }).toBe(1)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290)
    expect(lb.upstreams[0]).toMatchObject({ state: 'up', failures: 0, inFlight: 0 })
    await expect.poll(() => lb.stats().active).toBe(0)
    const closed = once(socket, 'close')
    socket.resume() // now it sees the connection was closed
    await closed
  })
})
