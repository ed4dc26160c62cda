import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Balancer } from '@switchyard/core'
import { addressMatcher, InvalidOptionError, stripMapped } from '@switchyard/strategies'
import type { AdminOp } from './cluster-messages.js'

/** The admin API's options (config `admin`, or `ADMIN_TOKEN`). */
export interface GatewayAdmin {
  /** Where the API is served. Default `/__switchyard/api`. */
  path?: string
  /** The bearer token every call must carry (`Authorization: Bearer <token>`), 16 characters or more. */
  token: string
  /** Client addresses, CIDR ranges or ipaddr.js range names that may call it at all. Default `['loopback']`. */
  allow?: string[]
}

/** The largest JSON body a call may send. */
const BODY_LIMIT = 16 * 1024

/**
 * The gateway's HTTP admin API (nginx Plus's `/api/…/http/upstreams`, HAProxy's runtime API, over
 * HTTP): list, add, remove, drain and re-weight upstreams, JSON in and out, every call with the
 * bearer token. Changes go through the balancer's own `add`, `update` and `remove`, so the status
 * page and `/metrics` show them at once; they last until the next reload or restart, which start
 * from the config again.
 *
 *   GET    <path>/upstreams            every upstream
 *   POST   <path>/upstreams            add one: a URL string or an upstream object (201)
 *   GET    <path>/upstreams/<id>       one upstream (the id percent-encoded: it is often a URL)
 *   PATCH  <path>/upstreams/<id>       { "weight": n } and/or { "down": true | false }
 *   DELETE <path>/upstreams/<id>       remove at once: its connections close, queued requests go elsewhere
 *   DELETE <path>/upstreams/<id>?drain=1   take no new requests, let those in flight finish, then remove (202)
 */
export class AdminApi {
  readonly path: string
  readonly #lb: Balancer
  readonly #token: Buffer
  readonly #allowed: (address: string) => boolean
  readonly #changed: (op: AdminOp) => void

  /** `changed` hears every change made (with `WORKERS` > 1 it tells the other workers). */
  constructor(lb: Balancer, options: GatewayAdmin, changed: (op: AdminOp) => void = () => {}) {
    this.#lb = lb
    this.#changed = changed
    this.path = (options.path ?? '/__switchyard/api').replace(/\/+$/, '')
    if (!this.path.startsWith('/') || this.path === '') throw new InvalidOptionError(`admin.path must start with '/', got ${JSON.stringify(options.path)}`, { field: 'admin.path' })
    if (typeof options.token !== 'string' || options.token.length < 16) {
      throw new InvalidOptionError('admin.token must be a string of at least 16 characters (the API changes the fleet)', { field: 'admin.token' })
    }
    this.#token = Buffer.from(options.token)
    this.#allowed = addressMatcher(options.allow ?? ['loopback'], 'admin.allow')
  }

  /** Answers the API's paths; false for every other path (the caller goes on). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? ''
    const [pathname = '', query = ''] = url.split('?', 2)
    if (pathname !== this.path && !pathname.startsWith(`${this.path}/`)) return false
    if (!this.#allowed(stripMapped(req.socket.remoteAddress ?? ''))) {
      reply(res, 403, { error: 'the admin API is not open to this address' })
      return true
    }
    const given = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '')
    if (given.length !== this.#token.length || !timingSafeEqual(given, this.#token)) {
      res.setHeader('www-authenticate', 'Bearer')
      reply(res, 401, { error: 'a valid bearer token is needed' })
      return true
    }
    const rest = pathname.slice(this.path.length)
    const method = req.method ?? 'GET'
    if (rest === '/upstreams' || rest === '/upstreams/') {
      if (method === 'GET') reply(res, 200, { upstreams: this.#lb.upstreams })
      else if (method === 'POST') readJson(req, res, (body) => this.#add(res, body))
      else notAllowed(res, 'GET, POST')
      return true
    }
    const m = /^\/upstreams\/([^/]+)$/.exec(rest)
    if (m === null) {
      reply(res, 404, { error: 'no such admin path: the API has upstreams and upstreams/<id>' })
      return true
    }
    let id: string
    try {
      id = decodeURIComponent(m[1]!)
    } catch {
      reply(res, 400, { error: 'the upstream id is not percent-encoded correctly' })
      return true
    }
    if (method === 'GET') {
      const u = this.#lb.upstreams.find((x) => x.id === id)
      if (u === undefined) reply(res, 404, { error: `no upstream has the id ${JSON.stringify(id)}`, code: 'SWY_ERR_UNKNOWN_UPSTREAM' })
      else reply(res, 200, u)
    } else if (method === 'PATCH') readJson(req, res, (body) => this.#update(res, id, body))
    else if (method === 'DELETE') this.#remove(res, id, /(?:^|&)drain=(?:1|true)(?:&|$)/.test(query))
    else notAllowed(res, 'GET, PATCH, DELETE')
    return true
  }

  #add(res: ServerResponse, body: unknown): void {
    try {
      reply(res, 201, this.#lb.add(body as string))
      this.#changed({ op: 'add', upstream: body })
    } catch (err) {
      failed(res, err)
    }
  }

  #update(res: ServerResponse, id: string, body: unknown): void {
    try {
      const change = body as { weight?: number; down?: boolean }
      reply(res, 200, this.#lb.update(id, change))
      this.#changed({ op: 'update', id, change: { weight: change.weight, down: change.down } })
    } catch (err) {
      failed(res, err)
    }
  }

  #remove(res: ServerResponse, id: string, drain: boolean): void {
    if (!this.#lb.upstreams.some((u) => u.id === id)) {
      reply(res, 404, { error: `no upstream has the id ${JSON.stringify(id)}`, code: 'SWY_ERR_UNKNOWN_UPSTREAM' })
      return
    }
    const done = this.#lb.remove(id, { drain })
    this.#changed({ op: 'remove', id, drain })
    if (drain) {
      done.catch(() => {}) // it takes no new requests from now on; the drain ends in the background
      reply(res, 202, { id, draining: true })
      return
    }
    done.then(
      () => reply(res, 200, { id, removed: true }),
      (err: unknown) => failed(res, err),
    )
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}

function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow)
  reply(res, 405, { error: `the method is not allowed here: ${allow}` })
}

/** A balancer error as the API's answer: the client's mistake (400, 404, 409), never a 500 for bad input. */
function failed(res: ServerResponse, err: unknown): void {
  const e = err as { code?: string; message?: string; field?: string }
  const status = e.code === 'SWY_ERR_UNKNOWN_UPSTREAM' ? 404 : e.code === 'SWY_ERR_DUPLICATE_UPSTREAM' ? 409 : e.code === 'SWY_ERR_INVALID_OPTION' ? 400 : e.code === 'SWY_ERR_CLOSED' ? 503 : 500
  reply(res, status, { error: e.message ?? String(err), code: e.code, field: e.field })
}

/** Reads a JSON body of at most {@link BODY_LIMIT} bytes, then calls `then` with it; answers 400 or 413 itself. */
function readJson(req: IncomingMessage, res: ServerResponse, then: (body: unknown) => void): void {
  const chunks: Buffer[] = []
  let size = 0
  req.on('data', (chunk: Buffer) => {
    size += chunk.length
    if (size > BODY_LIMIT) {
      res.shouldKeepAlive = false
      reply(res, 413, { error: `the body is larger than ${BODY_LIMIT} bytes` })
      req.destroy()
      return
    }
    chunks.push(chunk)
  })
  req.on('error', () => {})
  req.on('end', () => {
    if (res.headersSent) return
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      reply(res, 400, { error: 'the body must be JSON' })
      return
    }
    then(body)
  })
}
