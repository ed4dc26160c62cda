import { once } from 'node:events'
import { readdirSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { gunzipSync } from 'node:zlib'
import { createBalancer } from '@switchyard/core'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { fakeUpstream, serveBalancer } from '@switchyard/testing'
import { TEMP_PREFIX } from '../packages/core/src/entry/response-buffer.js'

const agent = new Agent({ connections: 4 })
afterAll(() => agent.close())
const MB = 1024 * 1024
const tempFiles = () => readdirSync(tmpdir()).filter((f) => f.startsWith(`${TEMP_PREFIX}${process.pid}-`))

/** An upstream answering GET /big with `size` bytes (a pattern, so corruption shows) and / with its name. */
async function bigUpstream(size: number) {
  const body = Buffer.alloc(size)
  for (let i = 0; i < size; i += 4) body.writeUInt32BE(i >>> 2, i)
  const up = await fakeUpstream({
    recordBodies: false,
    handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      if (req.url === '/big') res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) }).end(body)
      else res.end('{"name":"up"}')
    },
  })
  return { up, body }
}

/** A client that sends a GET and reads nothing until told: a slow client. */
async function slowClient(url: string, path: string) {
  const { port } = new URL(url)
  const socket = net.connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  socket.pause()
  socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`)
  return {
    socket,
    readAll: async () => {
      const chunks: Buffer[] = []
      socket.on('data', (c: Buffer) => chunks.push(c))
      socket.resume()
      await once(socket, 'end')
      const all = Buffer.concat(chunks)
      return all.subarray(all.indexOf('\r\n\r\n') + 4)
    },
  }
}

describe('buffering for slow clients (nginx proxy_buffering)', () => {
  it('with maxConnections 1, a client that does not read 20 MB no longer blocks a second one; it gets its body whole later', async () => {
    const { up, body } = await bigUpstream(20 * MB)
    const { lb, url } = await serveBalancer({ upstreams: [{ url: up.url, maxConnections: 1 }], buffering: { memory: 256 * 1024 } })
    const slow = await slowClient(url, '/big')
    await expect.poll(() => lb.upstreams[0]!.requests, { timeout: 5_000 }).toBe(1) // the upstream sent it all, and is free
    expect(lb.upstreams[0]!.inFlight).toBe(0)
    expect(tempFiles().length).toBe(1) // past 256 KiB it went to a file
    const t0 = performance.now()
    const second = await request(`${url}/`, { dispatcher: agent })
    expect(await second.body.text()).toBe('{"name":"up"}')
    expect(performance.now() - t0).toBeLessThan(2_000)
    const got = await slow.readAll()
    expect(got.length).toBe(body.length)
    expect(got.equals(body)).toBe(true)
    await expect.poll(() => tempFiles().length).toBe(0) // removed once read
  })

  it('without buffering the same slow client holds the only connection', async () => {
    const { up } = await bigUpstream(20 * MB)
    const { lb, url } = await serveBalancer({ upstreams: [{ url: up.url, maxConnections: 1 }], queue: { timeout: 500 } })
    const slow = await slowClient(url, '/big')
    await expect.poll(() => lb.upstreams[0]!.inFlight).toBe(1)
    const second = await request(`${url}/`, { dispatcher: agent })
    expect(second.statusCode).toBe(503) // it waited its queue.timeout behind the slow client
    await second.body.dump()
    slow.socket.destroy()
  })

  it('a client that goes away leaves no file behind; memory only (disk: false) pauses the upstream at the limit', async () => {
    const { up } = await bigUpstream(20 * MB)
    const { url } = await serveBalancer({ upstreams: [up.url], buffering: { memory: 64 * 1024 } })
    const gone = await slowClient(url, '/big')
    await expect.poll(() => tempFiles().length).toBe(1)
    gone.socket.destroy()
    await expect.poll(() => tempFiles().length).toBe(0)
    const { lb: memOnly, url: memUrl } = await serveBalancer({ upstreams: [up.url], buffering: { memory: 64 * 1024, disk: false } })
    const held = await slowClient(memUrl, '/big')
    await new Promise((r) => setTimeout(r, 300))
    expect(memOnly.upstreams[0]!.inFlight).toBe(1) // paused at the limit: the upstream waits for the client
    expect(tempFiles().length).toBe(0)
    const got = await held.readAll()
    expect(got.length).toBe(20 * MB)
  })

  it('buffers what the encoder makes, with compress: the slow client still gets a body that decodes whole', async () => {
    const text = Buffer.from('line of text that compresses, more or less\n'.repeat(200_000)) // 8.8 MB
    const up = await fakeUpstream({ handler: (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(text) })
    const { lb, url } = await serveBalancer({ upstreams: [{ url: up.url, maxConnections: 1 }], compress: { encodings: ['gzip'] }, buffering: { memory: 16 * 1024 } })
    const { port } = new URL(url)
    const socket = net.connect(Number(port), '127.0.0.1')
    await once(socket, 'connect')
    socket.pause()
    socket.write('GET / HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n')
    await expect.poll(() => lb.upstreams[0]!.inFlight, { timeout: 5_000 }).toBe(0)
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.resume()
    await once(socket, 'end')
    const raw = Buffer.concat(chunks)
    const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString()
    expect(head).toMatch(/content-encoding: gzip/i)
    const dechunk = (b: Buffer) => {
      const out: Buffer[] = []
      let i = 0
      for (;;) {
        const eol = b.indexOf('\r\n', i)
        const n = Number.parseInt(b.subarray(i, eol).toString(), 16)
        if (n === 0) return Buffer.concat(out)
        out.push(b.subarray(eol + 2, eol + 2 + n))
        i = eol + 2 + n + 2
      }
    }
    expect(gunzipSync(dechunk(raw.subarray(raw.indexOf('\r\n\r\n') + 4))).equals(text)).toBe(true)
  })

  it('refuses bad options', () => {
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], buffering: { memory: -1 } })).toThrow(/buffering\.memory/)
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], buffering: { disk: 'x' as never } })).toThrow(/buffering\.disk/)
  })
})
