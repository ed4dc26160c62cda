import { Readable } from 'node:stream'
import * as zlib from 'node:zlib'
import { createBalancer } from '@switchyard/core'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { fakeUpstream, serveBalancer } from '@switchyard/testing'
import { chooseEncoding } from '../packages/core/src/entry/compress.js'

const agent = new Agent({ connections: 8 })
afterAll(() => agent.close())
const HAS_ZSTD = typeof (zlib as { zstdDecompressSync?: unknown }).zstdDecompressSync === 'function'

const page = 'Hello, compressed world! '.repeat(400) // 10 000 bytes of text

/** An upstream answering `body` with `headers`. */
async function upstream(headers: Record<string, string>, body: string | Buffer = page) {
  return fakeUpstream({ handler: (_req, res) => res.writeHead(200, headers).end(body) })
}

async function fetchRaw(url: string, acceptEncoding?: string, method = 'GET') {
  const res = await request(url, { dispatcher: agent, method: method as 'GET', headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } })
  const body = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, headers: res.headers, body }
}

describe('compress (nginx gzip, brotli)', () => {
  it('encodes as the client weighs it, and what the client receives decodes to what the upstream sent', async () => {
    const up = await upstream({ 'content-type': 'text/html; charset=utf-8', 'content-length': String(page.length), etag: '"v1"' })
    const { url } = await serveBalancer({ upstreams: [up.url], compress: true })
    const gz = await fetchRaw(url, 'gzip, deflate')
    expect(gz.headers).toMatchObject({ 'content-encoding': 'gzip', vary: 'Accept-Encoding', etag: 'W/"v1"' })
    expect(gz.headers['content-length']).toBeUndefined()
    expect(zlib.gunzipSync(gz.body).toString()).toBe(page)
    expect(gz.body.length).toBeLessThan(page.length / 10)
    const br = await fetchRaw(url, 'gzip;q=0.8, br')
    expect(br.headers['content-encoding']).toBe('br')
    expect(zlib.brotliDecompressSync(br.body).toString()).toBe(page)
    const plain = await fetchRaw(url, 'identity')
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.headers.vary).toBe('Accept-Encoding') // a cache must keep the versions apart
    expect(plain.body.toString()).toBe(page)
    if (HAS_ZSTD) {
      const zs = await fetchRaw(url, 'zstd, gzip;q=0.5')
      expect(zs.headers['content-encoding']).toBe('zstd')
      expect((zlib as unknown as { zstdDecompressSync(b: Buffer): Buffer }).zstdDecompressSync(zs.body).toString()).toBe(page)
    }
  })

  it('chooses by q-values, then by the order offered; x-gzip is gzip; q=0 refuses', () => {
    expect(chooseEncoding('gzip, br', ['br', 'gzip'])).toBe('br')
    expect(chooseEncoding('gzip;q=1, br;q=0.5', ['br', 'gzip'])).toBe('gzip')
    expect(chooseEncoding('*;q=0.3, gzip;q=0', ['br', 'gzip'])).toBe('br')
    expect(chooseEncoding('x-gzip', ['br', 'gzip'])).toBe('gzip')
    expect(chooseEncoding('br;q=0, gzip;q=0', ['br', 'gzip'])).toBeUndefined()
    expect(chooseEncoding(undefined, ['gzip'])).toBeUndefined()
  })

  it('leaves alone: small bodies, other types, encoded bodies, no-transform, ranges, HEAD and event streams', async () => {
    const cases: [Record<string, string>, string | Buffer, number?][] = [
      [{ 'content-type': 'text/plain', 'content-length': '5' }, 'small'],
      [{ 'content-type': 'image/png' }, Buffer.alloc(5_000, 1)],
      [{ 'content-type': 'text/plain', 'content-encoding': 'gzip' }, zlib.gzipSync(page)],
      [{ 'content-type': 'text/plain', 'cache-control': 'public, no-transform' }, page],
      [{ 'content-type': 'text/event-stream' }, page],
    ]
    for (const [headers, body] of cases) {
      const up = await upstream(headers, body)
      const { url } = await serveBalancer({ upstreams: [up.url], compress: true })
      const res = await fetchRaw(url, 'gzip, br')
      expect(res.headers['content-encoding'] ?? 'none', JSON.stringify(headers)).toBe(headers['content-encoding'] ?? 'none')
      expect(Buffer.compare(res.body, Buffer.from(body))).toBe(0)
    }
    const ranged = await fakeUpstream({ handler: (_req, res) => res.writeHead(206, { 'content-type': 'text/plain', 'content-range': 'bytes 0-9999/20000' }).end(page) })
    const { url } = await serveBalancer({ upstreams: [ranged.url], compress: true })
    expect((await fetchRaw(url, 'gzip')).headers['content-encoding']).toBeUndefined()
    const html = await upstream({ 'content-type': 'text/html' })
    const { url: htmlUrl } = await serveBalancer({ upstreams: [html.url], compress: true })
    const head = await fetchRaw(htmlUrl, 'gzip', 'HEAD')
    expect(head.headers['content-encoding']).toBeUndefined()
  })

  it('decodes to what was sent on both sides of the one-call limit (64 KiB of known length), however the upstream chunks it', async () => {
    const piece = Buffer.from(`${'{"id":1,"name":"a record that repeats"},'.repeat(255)}\n`) // 10 201 bytes
    for (const pieces of [6, 7]) {
      const body = Buffer.concat(Array.from({ length: pieces }, () => piece)) // 61 206 (one call) and 71 407 bytes (streamed)
      const up = await fakeUpstream({
        handler: async (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) })
          for (let i = 0; i < pieces; i++) {
            res.write(piece)
            await new Promise((r) => setTimeout(r, 2)) // separate chunks reach the balancer
          }
          res.end()
        },
      })
      const { url } = await serveBalancer({ upstreams: [up.url], compress: true })
      const gz = await fetchRaw(url, 'gzip')
      expect(gz.headers['content-encoding']).toBe('gzip')
      expect(zlib.gunzipSync(gz.body).equals(body)).toBe(true)
      const br = await fetchRaw(url, 'br')
      expect(br.headers['content-encoding']).toBe('br')
      expect(zlib.brotliDecompressSync(br.body).equals(body)).toBe(true)
    }
  })

  it('streams a large body with backpressure, to a client that reads slowly', async () => {
    const chunk = Buffer.from('{"row":"some json that repeats","n":12345},'.repeat(1_000)) // 43 KB
    const up = await fakeUpstream({
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        Readable.from((function* () { for (let i = 0; i < 120; i++) yield chunk })()).pipe(res) // 5 MB
      },
    })
    const { url } = await serveBalancer({ upstreams: [up.url], compress: { encodings: ['gzip'], level: { gzip: 1 } } })
    const res = await request(url, { dispatcher: agent, headers: { 'accept-encoding': 'gzip' } })
    expect(res.headers['content-encoding']).toBe('gzip')
    const parts: Buffer[] = []
    for await (const part of res.body) {
      parts.push(part as Buffer)
      if (parts.length % 4 === 0) await new Promise((r) => setTimeout(r, 1)) // a slow reader
    }
    const out = zlib.gunzipSync(Buffer.concat(parts))
    expect(out.length).toBe(chunk.length * 120)
    expect(out.subarray(0, chunk.length).equals(chunk)).toBe(true)
  })

  it('refuses bad options with typed errors', () => {
    const up = 'http://127.0.0.1:1'
    expect(() => createBalancer({ upstreams: [up], compress: { encodings: ['deflate' as never] } })).toThrow(/compress\.encodings/)
    expect(() => createBalancer({ upstreams: [up], compress: { level: { gzip: 12 } } })).toThrow(/compress\.level\.gzip/)
    expect(() => createBalancer({ upstreams: [up], compress: { types: ['html'] } })).toThrow(/compress\.types/)
  })
})
