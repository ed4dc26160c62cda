import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { type Answer, type Answerer, decide, defaultBody, type ReceivedRequest, sleep } from './answer.js'

/** Options of {@link fakeUpstream}. */
export interface FakeUpstreamOptions {
  /** Named in the default answer body and in errors. @default 'upstream' */
  name?: string
  /** What it answers (a fixed answer, or a function of the request). @default 200 with a JSON body */
  answer?: Answerer
  /** A port to listen on. @default 0 (any free one) */
  port?: number
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
  /** The standing answer; set it to change what the next requests get. */
  answer: Answerer
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

/**
 * Starts a fake upstream: a real loopback server the balancer reaches over real sockets, with
 * counters, a list of what it received, scripted answers (status, headers, body, delay, a slow
 * body, a reset, a hang), and kill/restart on the same port. Close it when the test ends
 * (`await using up = await fakeUpstream()`, or `close()`).
 *
 * @example
 * const up = await fakeUpstream({ name: 'a' })
 * up.script({ status: 503 }, 'reset')           // the next two requests fail, then back to 200
 * const lb = createBalancer({ upstreams: [up.url] })
 */
export async function fakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const name = options.name ?? 'upstream'
  const requests: ReceivedRequest[] = []
  const script: Answer[] = []
  const sockets = new Set<Socket>()
  let port = options.port ?? 0
  let server: http.Server | undefined
  let closed = false

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const received: ReceivedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) }
    requests.push(received)
    const answer = await decide(script, up.answer, received)
    if (answer === 'reset') {
      req.socket.destroy()
      return
    }
    if (answer === 'hang') return
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
    answer: options.answer ?? {},
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
  return up
}
