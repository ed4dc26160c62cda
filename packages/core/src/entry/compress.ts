import { Transform, type TransformCallback } from 'node:stream'
import * as zlib from 'node:zlib'
import type { Encoding, ResolvedCompress } from '../config/compress.js'

/**
 * Response compression (the balancer's `compress`; nginx `gzip`, `brotli`): decides whether a
 * response is compressed for its request, rewrites its headers if so, and makes the encoder. A
 * response is compressible when its type is one of `types`, it is at least `minSize` long (or of
 * unknown length), and nothing forbids it: not already encoded, not a range (206 or
 * `Content-Range`), no `Cache-Control: no-transform`, not HEAD, 204 or 304, not a stream of events
 * (`text/event-stream`: compressing holds events back). A compressible response gets
 * `Vary: Accept-Encoding` whether or not this client takes an encoding (so a cache keeps the
 * versions apart), and is encoded with the best encoding the client accepts (q-values; on a tie,
 * the order of `encodings`): `Content-Length` goes (the length changes), a strong `ETag` becomes
 * weak (the bytes differ; nginx does the same).
 */
export function responseEncoder(c: ResolvedCompress, method: string, acceptEncoding: string | undefined, status: number, headers: string[]): Transform | undefined {
  if (method === 'HEAD' || status < 200 || status === 204 || status === 206 || status === 304) return undefined
  let type: string | undefined
  let length = -1
  let vary = -1
  let etag = -1
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase()
    const value = headers[i + 1]!
    if (name === 'content-type') type = value.split(';', 1)[0]!.trim().toLowerCase()
    else if (name === 'content-length') length = Number(value)
    else if (name === 'content-encoding' && value.trim().toLowerCase() !== 'identity') return undefined
    else if (name === 'content-range') return undefined
    else if (name === 'cache-control' && /(?:^|,)\s*no-transform\s*(?:,|$)/i.test(value)) return undefined
    else if (name === 'vary') vary = i
    else if (name === 'etag') etag = i
  }
  if (type === undefined || type === 'text/event-stream' || !compressible(c, type)) return undefined
  if (length >= 0 && length < c.minSize) return undefined
  if (vary === -1) headers.push('vary', 'Accept-Encoding')
  else if (!/(?:^|,)\s*(?:\*|accept-encoding)\s*(?:,|$)/i.test(headers[vary + 1]!)) headers[vary + 1] = `${headers[vary + 1]}, Accept-Encoding`
  const encoding = chooseEncoding(acceptEncoding, c.encodings)
  if (encoding === undefined) return undefined
  if (etag !== -1 && !headers[etag + 1]!.startsWith('W/')) headers[etag + 1] = `W/${headers[etag + 1]}`
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i]!.toLowerCase() === 'content-length') headers.splice(i, 2)
  headers.push('content-encoding', encoding)
  return encoder(encoding, c, length)
}

function compressible(c: ResolvedCompress, type: string): boolean {
  if (c.exact.has(type)) return true
  for (const p of c.prefixes) if (type.startsWith(p)) return true
  return false
}

/** The encoding of `offered` the client weighs highest (RFC 9110 §12.5.3); ties go to the first offered. */
export function chooseEncoding(acceptEncoding: string | undefined, offered: readonly Encoding[]): Encoding | undefined {
  if (acceptEncoding === undefined || acceptEncoding === '') return undefined
  const weights = new Map<string, number>()
  let star = -1
  for (const part of acceptEncoding.split(',')) {
    const [rawName = '', ...params] = part.split(';')
    const name = rawName.trim().toLowerCase()
    let q = 1
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p)
      if (m !== null) q = Number(m[1])
    }
    if (name === '*') star = q
    else weights.set(name === 'x-gzip' ? 'gzip' : name, q)
  }
  let best: Encoding | undefined
  let bestQ = 0
  for (const e of offered) {
    const q = weights.get(e) ?? (star >= 0 ? star : 0)
    if (q > bestQ) {
      best = e
      bestQ = q
    }
  }
  return best
}

/**
 * The largest body (of known length) compressed in one call on the event loop, bytes. A zlib
 * stream does its work in libuv's thread pool, a round trip per chunk and one to finish, and on a
 * busy process that costs more than the compressing: in the bench's gzip row (16 KiB of JSON,
 * gzip 6) a stream cost about 3× the CPU of `gzipSync` on the same body. One call blocks the loop
 * for about as long as nginx's worker spends on the same body (≈ 0.1 ms for 16 KiB at gzip 6,
 * ≈ 0.4 ms at this limit); larger or unknown-length bodies stream through the pool.
 */
const ONE_CALL_LIMIT = 64 * 1024

/** zlib's window and hash sizes for a body of `length` bytes, cut down as nginx's gzip filter does for short bodies (less memory to set up). */
function zlibSizes(length: number): { windowBits: number; memLevel: number } {
  let windowBits = 15
  let memLevel = 8
  while (length > 0 && length < 1 << (windowBits - 1) && windowBits > 9) {
    windowBits--
    memLevel--
  }
  return { windowBits, memLevel: Math.max(1, memLevel) }
}

/** Collects a short body and compresses it in one call when it ends (see {@link ONE_CALL_LIMIT}). */
class OneCallEncoder extends Transform {
  readonly #chunks: Buffer[] = []
  readonly #compress: (body: Buffer) => Buffer

  constructor(compress: (body: Buffer) => Buffer) {
    super()
    this.#compress = compress
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#chunks.push(chunk)
    done()
  }

  override _flush(done: TransformCallback): void {
    try {
      done(null, this.#compress(this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks)))
    } catch (err) {
      done(err as Error)
    }
  }
}

function encoder(encoding: Encoding, c: ResolvedCompress, length: number): Transform {
  if (length >= 0 && length <= ONE_CALL_LIMIT) return new OneCallEncoder(oneCall(encoding, c, length))
  if (encoding === 'gzip') return zlib.createGzip({ level: c.level.gzip })
  if (encoding === 'br') {
    const params: Record<number, number> = { [zlib.constants.BROTLI_PARAM_QUALITY]: c.level.br }
    if (length > 0) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = length
    return zlib.createBrotliCompress({ params })
  }
  const z = zlib as unknown as { createZstdCompress(o: object): Transform; constants: Record<string, number> }
  return z.createZstdCompress({ params: { [z.constants.ZSTD_c_compressionLevel!]: c.level.zstd } })
}

/** The one-call compressor of `encoding` for a body of `length` bytes. */
function oneCall(encoding: Encoding, c: ResolvedCompress, length: number): (body: Buffer) => Buffer {
  if (encoding === 'gzip') {
    const options = { level: c.level.gzip, ...zlibSizes(length) }
    return (body) => zlib.gzipSync(body, options)
  }
  if (encoding === 'br') {
    const options = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: c.level.br, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: length } }
    return (body) => zlib.brotliCompressSync(body, options)
  }
  const z = zlib as unknown as { zstdCompressSync(b: Buffer, o: object): Buffer; constants: Record<string, number> }
  const options = { params: { [z.constants.ZSTD_c_compressionLevel!]: c.level.zstd } }
  return (body) => z.zstdCompressSync(body, options)
}
