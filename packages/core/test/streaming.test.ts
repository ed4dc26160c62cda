import { once } from 'node:events'
import http from 'node:http'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { fakeUpstream, serveBalancer } from '@switchyard/testing'

const MiB = 1024 * 1024

describe('streaming', () => {
  it('streams a 64 MiB response through with bounded memory (backpressure reaches the upstream)', async () => {
    const chunk = Buffer.alloc(64 * 1024, 120)
    let sent = 0
    const up = await fakeUpstream({
      handler: (_req, res) => {
        res.writeHead(200, { 'content-length': 64 * MiB })
        const pump = () => {
          while (sent < 64 * MiB) {
            sent += chunk.length
            if (!res.write(chunk)) return void res.once('drain', pump)
          }
          res.end()
        }
        pump()
      },
    })
    const { url } = await serveBalancer({ upstreams: [up.url] })
    const req = http.get(url)
    const [res] = (await once(req, 'response')) as [http.IncomingMessage]
    let received = 0
    res.on('data', (c: Buffer) => {
      received += c.length
    })
    await expect.poll(() => received).toBeGreaterThan(4 * MiB)
    // The client stops reading. If the proxy buffered, the upstream would run on to 64 MiB.
    res.pause()
    await new Promise((r) => setTimeout(r, 300))
    const stalledAt = sent
    await new Promise((r) => setTimeout(r, 200))
    expect(sent).toBe(stalledAt)
    // What sits between client and upstream is socket buffers, not the body.
    expect(sent - received).toBeLessThan(16 * MiB)
    res.resume()
    await once(res, 'end')
    expect(received).toBe(64 * MiB)
  })

  it('streams a 16 MiB upload to the upstream', async () => {
    const up = await fakeUpstream({ recordBodies: false })
    const { url } = await serveBalancer({ upstreams: [up.url] })
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 256; i++) yield Buffer.alloc(64 * 1024, 1)
      })(),
    )
    const res = await request(url, { method: 'PUT', body })
    expect(res.statusCode).toBe(200)
    await res.body.text()
    expect(up.requests[0]!.bodyLength).toBe(16 * MiB)
    expect(up.requests[0]!.headers['transfer-encoding']).toBe('chunked')
  })
})
