import { once } from 'node:events'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { onTestFinished } from 'vitest'

/** How the fixture answers: see {@link TestUpstream.mode}. */
export type FaultMode = 'ok' | 'reset' | 'hang' | 'status' | 'garbage' | 'slow'

export interface RecordedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  body: string
  /** Bytes of body received, recorded or not. */
  bodyLength: number
}

export interface TestUpstreamOptions {
  /** Name echoed in the JSON answer, to tell backends apart. */
  name?: string
  mode?: FaultMode
  /** Status for mode 'status'. Default 503. */
  status?: number
  /** Delay for mode 'slow', ms. Default 20. */
  delayMs?: number
  /** Custom handler; replaces the JSON answer in mode 'ok'. */
  handler?: (req: IncomingMessage, res: ServerResponse, up: TestUpstream) => void
  /** Keep request bodies in `requests` (default true). */
  recordBodies?: boolean
}

/**
 * A real upstream on 127.0.0.1, port 0. It counts hits, tracks sockets, can stop and start again
 * on the same port, and can misbehave in the ways upstreams do. It closes itself when the test
 * finishes.
 */
export class TestUpstream {
  readonly name: string
  mode: FaultMode
  status: number
  delayMs: number
  handler: TestUpstreamOptions['handler']
  hits = 0
  readonly requests: RecordedRequest[] = []
  /** Requests whose client side went away before the answer ended. */
  aborted = 0
  readonly sockets = new Set<Socket>()
  port = 0
  #server: http.Server | undefined
  readonly #recordBodies: boolean

  constructor(options: TestUpstreamOptions = {}) {
    this.name = options.name ?? 'upstream'
    this.mode = options.mode ?? 'ok'
    this.status = options.status ?? 503
    this.delayMs = options.delayMs ?? 20
    this.handler = options.handler
    this.#recordBodies = options.recordBodies ?? true
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get isListening(): boolean {
    return this.#server?.listening === true
  }

  async start(): Promise<this> {
    const server = http.createServer((req, res) => this.#handle(req, res))
    server.keepAliveTimeout = 5_000
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
    server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    this.port = (server.address() as AddressInfo).port
    this.#server = server
    return this
  }

  /** Stops listening and destroys every socket; `start()` listens again on the same port. */
  async stop(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    for (const s of this.sockets) s.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.hits++
    const chunks: Buffer[] = []
    let bodyLength = 0
    req.on('data', (c: Buffer) => {
      bodyLength += c.length
      if (this.#recordBodies) chunks.push(c)
    })
    res.once('close', () => {
      if (!res.writableFinished) this.aborted++
    })
    const record = () => {
      this.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString(),
        bodyLength,
      })
    }
    switch (this.mode) {
      case 'reset':
        record()
        req.socket.destroy()
        return
      case 'hang':
        record()
        return
      case 'garbage':
        record()
        req.socket.end('THIS IS NOT HTTP\r\n\r\n')
        return
      default:
    }
    req.once('end', () => {
      record()
      const answer = () => {
        if (this.mode === 'status') {
          res.writeHead(this.status, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ name: this.name, status: this.status }))
        } else if (this.handler !== undefined) {
          this.handler(req, res, this)
        } else {
          const body = JSON.stringify({ name: this.name, method: req.method, url: req.url })
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
          res.end(body)
        }
      }
      if (this.mode === 'slow') setTimeout(answer, this.delayMs)
      else answer()
    })
  }
}

/** Starts a test upstream and registers its cleanup with the running test. */
export async function startUpstream(options: TestUpstreamOptions = {}): Promise<TestUpstream> {
  const up = await new TestUpstream(options).start()
  onTestFinished(() => up.stop())
  return up
}

/** A loopback port with nothing listening on it (connections are refused). */
export async function deadPort(): Promise<number> {
  const server = http.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Starts `handler` on an http server on 127.0.0.1:0 and returns its base URL; closed after the test. */
export async function serve(handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}
