import { connect as connectH2, type ClientHttp2Session, constants as h2 } from 'node:http2'
import { connect as connectTcp } from 'node:net'

/** What one probe found: whether it passed, and a short word on why (the verdict's detail). */
export interface ProbeResult {
  readonly ok: boolean
  readonly detail: string
}

/** Host and port of an origin (`http://[::1]:8080` → `::1`, 8080; the scheme's port when none is written). */
export function hostPort(origin: string): { host: string; port: number } {
  const u = new URL(origin)
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
  return { host, port: u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port) }
}

/**
 * A TCP probe (Envoy's TCP health check with no payload, HAProxy's plain `check`): the upstream
 * passes when a connection to its host and port opens; the connection is closed at once.
 */
export function tcpProbe(origin: string, signal: AbortSignal): Promise<ProbeResult> {
  const { host, port } = hostPort(origin)
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host, port })
    const done = () => {
      signal.removeEventListener('abort', onAbort)
      socket.destroy()
    }
    const onAbort = () => {
      done()
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('connect', () => {
      done()
      resolve({ ok: true, detail: 'connected' })
    })
    socket.once('error', (err) => {
      done()
      reject(err)
    })
  })
}

/** `grpc.health.v1.HealthCheckResponse.ServingStatus`, by number. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN']
export const GRPC_HEALTH_PATH = '/grpc.health.v1.Health/Check'

/**
 * `HealthCheckRequest { string service = 1; }` in one gRPC message frame: a byte saying it is not
 * compressed, the length (4 bytes, big-endian), the protobuf bytes (field 1, length-delimited; an
 * empty service is the empty message, as protobuf leaves default values out).
 */
export function grpcHealthRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8')
  const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name])
  const frame = Buffer.alloc(5)
  frame.writeUInt32BE(message.length, 1)
  return Buffer.concat([frame, message])
}

function varint(n: number): Buffer {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return Buffer.from(out)
}

/**
 * The `status` of a `HealthCheckResponse` (field 1, a varint) from the first gRPC message of a
 * body; 0 (UNKNOWN) when the message leaves it out; undefined when the body is not one message.
 */
export function grpcServingStatus(body: Buffer): number | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined // no frame, or a compressed one (not asked for)
  const length = body.readUInt32BE(1)
  if (body.length < 5 + length) return undefined
  const message = body.subarray(5, 5 + length)
  let i = 0
  let status = 0
  while (i < message.length) {
    const { value: tag, next } = readVarint(message, i)
    if (next < 0) return undefined
    i = next
    const field = tag >>> 3
    const wire = tag & 7
    if (wire === 0) {
      const v = readVarint(message, i)
      if (v.next < 0) return undefined
      if (field === 1) status = v.value
      i = v.next
    } else if (wire === 2) {
      const v = readVarint(message, i)
      if (v.next < 0) return undefined
      i = v.next + v.value
    } else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else return undefined
  }
  return i === message.length ? status : undefined
}

function readVarint(b: Buffer, from: number): { value: number; next: number } {
  let value = 0
  let shift = 0
  for (let i = from; i < b.length && shift < 35; i++) {
    value += (b[i]! & 0x7f) * 2 ** shift
    if ((b[i]! & 0x80) === 0) return { value, next: i + 1 }
    shift += 7
  }
  return { value: 0, next: -1 }
}

/**
 * gRPC health probes (the standard `grpc.health.v1.Health/Check`, what Envoy's gRPC health check and
 * Kubernetes' grpc probe call) over one HTTP/2 session per upstream: `h2c` for `http:` origins,
 * TLS with ALPN `h2` for `https:`. The upstream passes when the call ends with `grpc-status` 0 and
 * the answer says `SERVING`.
 */
export class GrpcProber {
  #session: ClientHttp2Session | undefined

  constructor(
    readonly origin: string,
    readonly tls: Readonly<Record<string, unknown>> | undefined,
    readonly servername: string | undefined,
  ) {}

  check(service: string, headers: Readonly<Record<string, string>>, signal: AbortSignal): Promise<ProbeResult> {
    const session = this.#connect()
    return new Promise((resolve, reject) => {
      const stream = session.request(
        {
          [h2.HTTP2_HEADER_METHOD]: 'POST',
          [h2.HTTP2_HEADER_PATH]: GRPC_HEALTH_PATH,
          'content-type': 'application/grpc',
          te: 'trailers',
          ...headers,
        },
        { signal },
      )
      const chunks: Buffer[] = []
      let size = 0
      let status = 0
      let grpcStatus: string | undefined
      stream.on('response', (h) => {
        status = Number(h[h2.HTTP2_HEADER_STATUS])
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']) // a trailers-only answer
      })
      stream.on('trailers', (t) => {
        if (t['grpc-status'] !== undefined) grpcStatus = String(t['grpc-status'])
      })
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > 64 * 1024) stream.close(h2.NGHTTP2_CANCEL)
        else chunks.push(chunk)
      })
      stream.once('error', reject)
      stream.once('close', () => {
        if (status !== 200) return resolve({ ok: false, detail: status === 0 ? 'no answer' : `status ${status}` })
        if (grpcStatus !== '0') return resolve({ ok: false, detail: `grpc-status ${grpcStatus ?? 'missing'}` })
        const serving = grpcServingStatus(Buffer.concat(chunks))
        if (serving === undefined) return resolve({ ok: false, detail: 'not a HealthCheckResponse' })
        resolve({ ok: serving === 1, detail: SERVING_STATUS[serving] ?? `status ${serving}` })
      })
      stream.end(grpcHealthRequest(service))
    })
  }

  #connect(): ClientHttp2Session {
    const current = this.#session
    if (current !== undefined && !current.closed && !current.destroyed) return current
    const session = connectH2(this.origin, { ...this.tls, ...(this.servername === undefined ? {} : { servername: this.servername }) })
    session.on('error', () => {}) // each stream reports its own failure; the next probe connects again
    session.on('close', () => {
      if (this.#session === session) this.#session = undefined
    })
    session.unref() // an idle probe session never holds the process open
    this.#session = session
    return session
  }

  close(): void {
    this.#session?.destroy()
    this.#session = undefined
  }
}
