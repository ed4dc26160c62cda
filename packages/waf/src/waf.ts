import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkFunction, checkNumber, checkObject, checkOneOf, describeValue, InvalidOptionError, refuse, rejectUnknownKeys, SwitchyardError } from '@switchyard/strategies'
import { crsSources, loadData } from './crs/load.js'
import type { UnsupportedRule } from './engine/compile.js'
import { Engine, type Source, type Verdict } from './engine/engine.js'
import type { WafRequest } from './engine/request-vars.js'
import type { WafMatch } from './engine/matches.js'
import type { Transaction } from './engine/transaction.js'
import { WafBlockedError, WafBodyLimitError, WafBodyTimeoutError } from './errors.js'
import { type CompiledExclusion, compileExclusions, type WafExclusion } from './exclusions.js'

/** Connect-style middleware, as every Switchyard guard is. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

/** What `onMatch` hears of a request that matched rules. Never sent to the client. */
export interface WafReport {
  /** `blocked`: refused with 403; `detected`: would have been (`mode: 'detect'`); `passed`: matched, under the threshold. */
  readonly outcome: 'blocked' | 'detected' | 'passed'
  readonly method: string
  readonly url: string
  /** The inbound anomaly score. */
  readonly score: number
  /** The rule that decided (`949110` when the score reached the threshold), when one did. */
  readonly rule: number | undefined
  /** The rules that matched: id, message, variable, matched data, severity, tags. */
  readonly matches: readonly WafMatch[]
}

/** Options of {@link waf}. */
export interface WafOptions {
  /**
   * The directory of an OWASP CRS install: Debian's `/usr/share/modsecurity-crs` (its setup is read
   * from `/etc/modsecurity/crs`), or an unpacked CRS 4 release (`crs-setup.conf.example` and
   * `rules/`). Left out, only `rules` run.
   */
  crs?: string
  /** The CRS paranoia level, 1-4 (`tx.blocking_paranoia_level`). @default the setup's, else 1 */
  paranoiaLevel?: number
  /** The inbound anomaly score that blocks (`tx.inbound_anomaly_score_threshold`). @default the setup's, else 5 */
  anomalyThreshold?: number
  /** `block` refuses with 403; `detect` only reports to `onMatch`. @default 'block' */
  mode?: 'block' | 'detect'
  /** More SecLang, loaded before the CRS (exclusions by `ctl:`, and `SecRuleRemoveById`, which applies to every rule). */
  rules?: string
  /** Request body bytes read and inspected at most; a larger body is answered 413. @default 1048576 (nginx's client_max_body_size) */
  bodyLimit?: number
  /**
   * How long, ms, the client may send no body bytes while the WAF waits for the whole body: past
   * it, 408 (nginx's `client_body_timeout`, whose default this is).
   * @default 60000
   */
  bodyTimeout?: number
  /** Hears each request that matched a rule (the rule ids, variables, matched data and score). */
  onMatch?: (report: WafReport) => void
  /** Fields, rules or paths the rules leave alone. */
  exclusions?: readonly WafExclusion[]
  /**
   * The request as the rules see it; left out, as it arrived. In front of a balancer, pass
   * `(req) => lb.upstreamHead(req)`: the rules then judge what the upstream will get — the path
   * after `rewritePath`, the headers after the balancer's header pass (Connection-listed headers,
   * `Proxy`, names with `_` and an untrusted client's forwarding headers dropped; this hop's
   * `X-Forwarded-*` and `Forwarded` added; `requestHeaders` applied) — so an attack in a header the
   * balancer drops is not blocked. The client's own `Host`, `Content-Length`, `Transfer-Encoding`
   * and `Connection` stay as they came: the protocol rules judge the client's request (the
   * upstream's framing and Host are undici's, for an upstream not picked yet). What `view` throws
   * is answered as the balancer would (a `SwitchyardError` with a 4xx status: that status;
   * anything else goes to `next`). The gateway's `guards.waf` does this itself. `exclusions` still
   * match the path as it arrived.
   */
  view?: (req: IncomingMessage) => WafView
}

/** The request's target and headers as a {@link WafOptions.view} gives them. */
export interface WafView {
  /** The target in origin-form: `/a/b?c=d`. */
  readonly path: string
  /** Flat `[name, value, …]`. */
  readonly headers: readonly string[]
}

/** The middleware, with what was loaded. */
export interface WafMiddleware extends Middleware {
  /** Rules loaded but not run (an operator this engine does not have, an expression JavaScript cannot compile). */
  readonly unsupported: readonly UnsupportedRule[]
  /** Rules run on requests (phases 1 and 2). */
  readonly ruleCount: number
  /** Inspects a request without a server (tests, other frameworks): both phases, `body` as sent. */
  inspect(req: WafRequest, body?: string | Buffer): Verdict
}

const NONE: readonly CompiledExclusion[] = []
const DEFAULT_BODY_LIMIT = 1024 * 1024
/** nginx's client_body_timeout default. */
const DEFAULT_BODY_TIMEOUT = 60_000
/** Ids 1-99,999 are ModSecurity's range for local use: the options' own SecAction takes two. */
const OPTIONS_RULE_ID = 99_901

/**
 * A web application firewall running the OWASP Core Rule Set of your install, in front of the
 * handler: phase 1 on the headers, then the body read (up to `bodyLimit`) and parsed as the rules
 * expect (urlencoded, JSON, XML, multipart), then phase 2. A body declared at most 64 KiB long (or
 * read already, as `req.body`) is read first and both phases then run at once: the verdict is the
 * same (phase 1 never sees the body), a request refused in phase 1 keeps its connection, and the
 * request's state does not wait in memory while others are served. A larger body, or one of
 * unknown length (chunked), is read only once phase 1 let the request on. A request whose anomaly
 * score reaches the threshold is answered 403 (`SWY_ERR_WAF_BLOCKED`) without naming a rule;
 * `onMatch` hears which. The body read is handed on as `req.body`, which the balancer forwards as
 * it came.
 *
 * @example
 * const firewall = waf({ crs: '/usr/share/modsecurity-crs', onMatch: (r) => log.warn(r) })
 * http.createServer((req, res) => firewall(req, res, (err) => (err ? fail(res, err) : lb.handler(req, res))))
 */
export function waf(options: WafOptions): WafMiddleware {
  const o = checkObject(options, 'waf()')
  rejectUnknownKeys(o, ['crs', 'paranoiaLevel', 'anomalyThreshold', 'mode', 'rules', 'bodyLimit', 'bodyTimeout', 'onMatch', 'exclusions', 'view'], 'waf()')
  if (o.crs !== undefined && (typeof o.crs !== 'string' || o.crs === '')) throw new InvalidOptionError(`waf().crs must be a directory, got ${describeValue(o.crs)}`, { field: 'waf().crs' })
  if (o.rules !== undefined && typeof o.rules !== 'string') throw new InvalidOptionError(`waf().rules must be SecLang text, got ${describeValue(o.rules)}`, { field: 'waf().rules' })
  if (o.crs === undefined && o.rules === undefined) throw new InvalidOptionError('waf() needs crs (a CRS directory) or rules (SecLang text)', { field: 'waf().crs' })
  const paranoia = o.paranoiaLevel === undefined ? undefined : checkNumber(o.paranoiaLevel, 'waf().paranoiaLevel', 1, { min: 1, max: 4, integer: true })
  const threshold = o.anomalyThreshold === undefined ? undefined : checkNumber(o.anomalyThreshold, 'waf().anomalyThreshold', 5, { min: 1, integer: true })
  const mode = checkOneOf(o.mode, 'waf().mode', ['block', 'detect'] as const, 'block')
  const bodyLimit = checkNumber(o.bodyLimit, 'waf().bodyLimit', DEFAULT_BODY_LIMIT, { integer: true })
  const bodyTimeout = checkNumber(o.bodyTimeout, 'waf().bodyTimeout', DEFAULT_BODY_TIMEOUT, { min: 1, integer: true })
  const onMatch = checkFunction<((r: WafReport) => void) | undefined>(o.onMatch, 'waf().onMatch', undefined)
  const exclusions = compileExclusions(o.exclusions, 'waf().exclusions')
  const view = checkFunction<((req: IncomingMessage) => WafView) | undefined>(o.view, 'waf().view', undefined)

  const sources: Source[] = []
  const crs = o.crs === undefined ? [] : crsSources(o.crs as string)
  if (crs.length > 0) sources.push(crs[0]!)
  const sets: string[] = []
  if (paranoia !== undefined) for (const v of ['paranoia_level', 'blocking_paranoia_level', 'detection_paranoia_level', 'executing_paranoia_level']) sets.push(`setvar:tx.${v}=${paranoia}`)
  if (threshold !== undefined) sets.push(`setvar:tx.inbound_anomaly_score_threshold=${threshold}`)
  if (sets.length > 0) sources.push({ file: 'waf() options', text: `SecAction "id:${OPTIONS_RULE_ID},phase:1,pass,nolog,${sets.join(',')}"` })
  if (o.rules !== undefined) sources.push({ file: 'waf().rules', text: o.rules as string })
  sources.push(...crs.slice(1))
  const engine = new Engine(sources, loadData)

  const report = (req: IncomingMessage, t: Transaction, outcome: WafReport['outcome']) => {
    if (onMatch === undefined || t.matches.length === 0) return
    try {
      onMatch({ outcome, method: req.method ?? '', url: req.url ?? '', score: t.score(), rule: t.interruption?.id, matches: t.matches })
    } catch {
      // A logging callback that throws must not change the answer.
    }
  }

  const middleware = ((req, res, next) => {
    let apply: readonly CompiledExclusion[] = NONE
    let seen: WafRequest
    try {
      // Without exclusions (the default), nothing is computed for them.
      if (exclusions.length !== 0) {
        const path = pathOf(req.url ?? '/')
        const method = req.method ?? 'GET'
        apply = exclusions.filter((x) => x.applies(method, path))
        if (apply.some((x) => x.skip)) {
          next()
          return
        }
      }
      try {
        seen = wafRequest(req, view)
      } catch (err) {
        // The balancer would refuse this request itself (a 400): answered as it would be.
        const status = (err as SwitchyardError).statusCode
        if (err instanceof SwitchyardError && status !== undefined && status >= 400 && status < 500) refuse(res, err)
        else next(err)
        return
      }
    } catch (err) {
      next(err)
      return
    }
    // A short body is read first: the phases then find it read and run at once (READ_FIRST).
    if (hasBody(req) && declaredShort(req, bodyLimit)) readBody(req, res, bodyLimit, bodyTimeout, () => judge(req, res, next, seen, apply))
    else judge(req, res, next, seen, apply)
  }) as WafMiddleware

  /** Phase 1, then the body (read now, or found read: `req.body`), then phase 2. */
  function judge(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void, seen: WafRequest, apply: readonly CompiledExclusion[]): void {
    let t: Transaction
    try {
      t = engine.begin(seen)
      if (apply.length !== 0) exclude(t, apply)
      if (!t.run(1)) {
        finish(req, res, next, t, (req as { body?: unknown }).body === undefined)
        return
      }
      if (!t.bodyAccess || !hasBody(req)) {
        t.run(2)
        finish(req, res, next, t, false)
        return
      }
    } catch (err) {
      next(err)
      return
    }
    readBody(req, res, bodyLimit, bodyTimeout, (body) => {
      try {
        t.vars.setBody(body.toString('latin1'))
        t.run(2)
      } catch (err) {
        next(err)
        return
      }
      finish(req, res, next, t, false)
    })
  }

  function finish(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void, t: Transaction, bodyUnread: boolean): void {
    const stopped = t.interruption !== undefined
    const outcome = !stopped ? (t.engine === 'detectiononly' && t.score() > 0 ? 'detected' : 'passed') : mode === 'block' ? 'blocked' : 'detected'
    report(req, t, outcome)
    if (outcome !== 'blocked') {
      next()
      return
    }
    if (bodyUnread && hasBody(req)) res.shouldKeepAlive = false // the unread body must not be read as the next request
    refuse(res, new WafBlockedError('the request was refused by the web application firewall'))
  }

  return Object.assign(middleware, {
    unsupported: engine.rules.unsupported,
    ruleCount: engine.rules.phases[0].length + engine.rules.phases[1].length,
    inspect: (req: WafRequest, body?: string | Buffer) => engine.inspect(req, body),
  }) as WafMiddleware
}

function exclude(t: Transaction, list: readonly CompiledExclusion[]): void {
  for (const x of list) {
    if (x.targets === undefined) t.removeRules(x.ranges)
    else t.removeTargets(x.ranges, x.targets)
  }
}

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

/** The request as the rules see it: `view`'s, or as it came with HTTP/2's pseudo-headers out and `:authority` as Host. */
function wafRequest(req: IncomingMessage, view: ((req: IncomingMessage) => WafView) | undefined): WafRequest {
  if (view !== undefined) {
    const v = view(req)
    return { method: req.method ?? 'GET', url: v.path, protocol: `HTTP/${req.httpVersion}`, headers: withClientFraming(v.headers, received(req)), remoteAddress: req.socket?.remoteAddress ?? '', remotePort: req.socket?.remotePort ?? 0 }
  }
  return { method: req.method ?? 'GET', url: req.url ?? '/', protocol: `HTTP/${req.httpVersion}`, headers: received(req), remoteAddress: req.socket?.remoteAddress ?? '', remotePort: req.socket?.remotePort ?? 0 }
}

/** The headers the protocol rules judge as the client sent them (see {@link WafOptions.view}). */
const CLIENT_OWN = new Set(['host', 'content-length', 'transfer-encoding', 'connection'])

/** `view`'s headers, with the client's own Host, framing and Connection in place of any the view has. */
function withClientFraming(viewed: readonly string[], raw: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) if (clientOwn(raw[i]!)) out.push(raw[i]!, raw[i + 1]!)
  for (let i = 0; i < viewed.length; i += 2) if (!clientOwn(viewed[i]!)) out.push(viewed[i]!, viewed[i + 1]!)
  return out
}

/** Whether a header is one of {@link CLIENT_OWN} (most names are ruled out by their length, without lower-casing). */
function clientOwn(name: string): boolean {
  const n = name.length
  return (n === 4 || n === 10 || n === 14 || n === 17) && CLIENT_OWN.has(name.toLowerCase())
}

/** The headers as they came: HTTP/2's pseudo-headers out, `:authority` as Host. */
function received(req: IncomingMessage): readonly string[] {
  let headers: readonly string[] = req.rawHeaders
  if (req.httpVersionMajor === 2) {
    const h: string[] = []
    let authority: string | undefined
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!
      if (name === ':authority') authority = req.rawHeaders[i + 1]
      else if (!name.startsWith(':')) h.push(name, req.rawHeaders[i + 1]!)
    }
    if (authority !== undefined && !h.some((n, i) => i % 2 === 0 && n === 'host')) h.unshift('host', authority)
    headers = h
  }
  return headers
}

/** A body follows: a length over 0, chunked, an HTTP/2 stream still open, or one a body parser already read. */
/**
 * A body this long at most is read before phase 1 runs (then both phases run at once): it usually
 * came in the same socket reads as the headers (Node reads 64 KiB at a time), so waiting for it
 * costs nothing, and a request's state made in phase 1 does not outlive the call.
 */
const READ_FIRST = 64 * 1024

/** Whether the body is declared at most {@link READ_FIRST} bytes long (and within the limit). */
function declaredShort(req: IncomingMessage, limit: number): boolean {
  const n = Number(req.headers['content-length'])
  return n <= READ_FIRST && n <= limit
}

function hasBody(req: IncomingMessage): boolean {
  if ((req as { body?: unknown }).body !== undefined) return true
  const length = req.headers['content-length']
  if (length !== undefined) return length !== '0'
  if (req.headers['transfer-encoding'] !== undefined) return true
  return req.httpVersionMajor === 2 && !req.readableEnded && !(req as { complete?: boolean }).complete
}

/**
 * Reads the whole body, up to `limit` bytes (a declared larger one is refused before a byte is
 * read), and leaves it as `req.body` for the balancer to send as it came. A body an earlier body
 * parser read is taken from `req.body` instead. Past the limit: 413; no bytes for `timeout` ms:
 * 408; either way the connection is closed after the answer.
 */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number, timeout: number, done: (body: Buffer) => void): void {
  const r = req as IncomingMessage & { body?: unknown }
  if (r.body !== undefined || r.readableDidRead) {
    done(parsedBody(r.body))
    return
  }
  const tooLarge = () => {
    res.shouldKeepAlive = false
    refuse(res, new WafBodyLimitError(`the request body is larger than ${limit} bytes, the most the firewall inspects`))
  }
  if (Number(req.headers['content-length']) > limit) {
    tooLarge()
    return
  }
  const chunks: Buffer[] = []
  let size = 0
  const timer = setTimeout(() => {
    cleanup()
    res.shouldKeepAlive = false
    refuse(res, new WafBodyTimeoutError(`the client sent no request body for ${timeout} ms`))
  }, timeout)
  timer.unref()
  const onData = (chunk: Buffer) => {
    timer.refresh()
    size += chunk.length
    if (size > limit) {
      cleanup()
      req.resume() // drop the rest; the connection closes after the answer
      tooLarge()
      return
    }
    chunks.push(chunk)
  }
  const onEnd = () => {
    cleanup()
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
    r.body = body
    done(body)
  }
  const onGone = () => cleanup() // the client went away: nothing to answer
  const cleanup = () => {
    clearTimeout(timer)
    req.off('data', onData)
    req.off('end', onEnd)
    req.off('error', onGone)
    req.off('close', onGone)
  }
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('error', onGone)
  req.on('close', onGone)
}

/** A body an earlier parser left in `req.body`, as bytes to inspect. */
function parsedBody(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body === undefined || body === null) return Buffer.alloc(0)
  return Buffer.from(JSON.stringify(body), 'utf8')
}
