import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { type Answer, type Answerer, decide, defaultBody, type ReceivedRequest, sleep } from './answer.js'
import { closeWithTest } from './cleanup.js'

/** Answers a request by hand, with Node's own request and response (after its body was read). */
export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, up: FakeUpstream) => void

/** Options of {@link fakeUpstream}. */
export interface FakeUpstreamOptions {
  /** Named in the default answer body and in errors. @default 'upstream' */
  name?: string
  /** What it answers (a fixed answer, or a function of the request). @default 200 with a JSON body */
  answer?: Answerer
  /** Answers by hand instead of `answer`, once the request's body is in. */
  handler?: UpstreamHandler
  /** A port to listen on. @default 0 (any free one) */
  port?: number
  /** Keep request bodies in `requests` (turn off for large uploads; `bodyLength` still counts). @default true */
  recordBodies?: boolean
}

/** A real HTTP server on 127.0.0.1, scripted from the test. */
export interface FakeUpstream {
  readonly name: string
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** Every request received, in order (bodies included). */
  readonly requests: readonly ReceivedRequest[]
  /** Requests received (`requests.length`). */
  readonly hits: number
  /** Requests whose client side went away before the answer ended. */
  readonly aborted: number
  /** Its open connections. */
  readonly sockets: ReadonlySet<Socket>
  /** Whether it listens (not killed, not closed). */
  readonly isListening: boolean
  /** The standing answer; set it to change what the next requests get. */
  answer: Answerer
  /** When set, answers by hand instead of `answer`. */
  handler: UpstreamHandler | undefined
  /** Answers the next requests with these, in order, then goes back to `answer`. */
  script(...answers: Answer[]): void
  /** Stops listening and cuts every connection: new connections are refused, as from a dead process. */
  kill(): Promise<void>
  /** Listens again on the same port (a restarted process). */
  restart(): Promise<void>
  /** Stops for good. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** What a `'garbage'` answer writes before it closes. */
const GARBAGE = 'THIS IS NOT HTTP\r\n\r\n'

/**
 * Starts a fake upstream: a real loopback server the balancer reaches over real sockets, with
 * counters, a list of what it received, scripted answers (status, headers, body, delay, a slow
 * body, a reset, a hang, garbage), a hand-written handler when a test needs Node's own objects,
 * and kill/restart on the same port. Closed when the test ends if `closeWithTest` was set up
 * (see cleanup.ts), else by `close()` or `await using up = await fakeUpstream()`.
 *
 * `'reset'`, `'hang'` and `'garbage'` as the standing answer act at once, before the request's
 * body is read (an upstream that stops reading); scripted ones and answers of a function act once
 * the body is in.
 *
 * @example
 * const up = await fakeUpstream({ name: 'a' })
 * up.script({ status: 503 }, 'reset')           // the next two requests fail, then back to 200
 * const lb = createBalancer({ upstreams: [up.url] })
 */
export async function fakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const name = options.name ?? 'upstream'
  const recordBodies = options.recordBodies ?? true
  const requests: ReceivedRequest[] = []
  const script: Answer[] = []
  const sockets = new Set<Socket>()
  let port = options.port ?? 0
  let server: http.Server | undefined
  let closed = false
  let aborted = 0

  const record = (req: http.IncomingMessage, chunks: Buffer[], bodyLength: number): ReceivedRequest => {
    const received: ReceivedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: Buffer.concat(chunks),
      bodyLength,
    }
    requests.push(received)
    return received
  }

  const act = (answer: Answer, req: http.IncomingMessage): boolean => {
    if (answer === 'reset') req.socket.destroy()
    else if (answer === 'garbage') req.socket.end(GARBAGE)
    else if (answer !== 'hang') return false
    return true
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    res.once('close', () => {
      if (!res.writableFinished) aborted++
    })
    const standing = up.answer
    if (up.handler === undefined && script.length === 0 && typeof standing === 'string') {
      record(req, [], 0)
      act(standing, req)
      return
    }
    const chunks: Buffer[] = []
    let bodyLength = 0
    for await (const chunk of req) {
      bodyLength += (chunk as Buffer).length
      if (recordBodies) chunks.push(chunk as Buffer)
    }
    const received = record(req, chunks, bodyLength)
    if (up.handler !== undefined) {
      up.handler(req, res, up)
      return
    }
    const answer = await decide(script, up.answer, received)
    if (act(answer, req) || typeof answer === 'string') return
    if (answer.delayMs !== undefined) await sleep(answer.delayMs)
    if (res.destroyed) return
    const body = answer.body ?? defaultBody(name, received)
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body)
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', ...answer.headers }
    if (answer.slowBody === undefined) headers['content-length'] = bytes.length
    res.writeHead(answer.status ?? 200, headers)
    if (answer.slowBody === undefined) {
      res.end(bytes)
      return
    }
    const { chunks: n, everyMs } = answer.slowBody
    const size = Math.ceil(bytes.length / Math.max(1, n))
    for (let at = 0; at < bytes.length && !res.destroyed; at += size) {
      res.write(bytes.subarray(at, at + size))
      await sleep(everyMs)
    }
    res.end()
  }

  const listen = async (): Promise<void> => {
    const s = http.createServer((req, res) => {
      handle(req, res).catch(() => res.destroy())
    })
    s.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
    s.listen(port, '127.0.0.1')
    await once(s, 'listening')
    port = (s.address() as AddressInfo).port
    server = s
  }

  const kill = async (): Promise<void> => {
    const s = server
    if (s === undefined) return
    server = undefined
    for (const socket of sockets) socket.destroy()
    s.closeAllConnections()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  const up: FakeUpstream = {
    name,
    get url() {
      return `http://127.0.0.1:${port}`
    },
    get port() {
      return port
    },
    requests,
    get hits() {
      return requests.length
    },
    get aborted() {
      return aborted
    },
    sockets,
    get isListening() {
      return server?.listening === true
    },
    answer: options.answer ?? {},
    handler: options.handler,
    script(...answers) {
      script.push(...answers)
    },
    kill,
    async restart() {
      if (closed) throw new Error(`fake upstream ${name} is closed`)
      if (server === undefined) await listen()
    },
    async close() {
      closed = true
      await kill()
    },
    [Symbol.asyncDispose]() {
      return up.close()
    },
  }
  await listen()
  closeWithTest(() => up.close())
  return up
}
