import { promises as dns } from 'node:dns'
import { isIP } from 'node:net'
import { describeValue, InvalidOptionError } from '@switchyard/strategies'
import type { Fleet } from './fleet.js'
import type { ResolvedDns } from '../config/resolved.js'
import { normalizeUpstream } from '../config/normalize-upstream.js'
import type { ResolvedUpstream } from '../config/resolved.js'
import type { Upstream } from './upstream.js'

/** An upstream entry with `resolve`: its own options, and what to look up. */
export interface ResolvingUpstream {
  /** `'a'`: A and AAAA records of the URL's host; `'srv'`: its SRV records. */
  readonly mode: 'a' | 'srv'
  readonly host: string
  readonly port: number
  readonly protocol: string
  readonly basePath: string
  /** The group's id: children are `<id>/<address>:<port>`. */
  readonly id: string
  /** The entry's other options (weight, maxConnections, tls…), given to every child. */
  readonly options: Record<string, unknown>
  readonly path: string
}

/** Splits an upstream entry with `resolve` off the others; undefined for a plain entry. */
export function resolvingUpstream(input: unknown, path: string): ResolvingUpstream | undefined {
  if (input === null || typeof input !== 'object' || !('resolve' in input)) return undefined
  const { resolve, ...rest } = input as Record<string, unknown>
  if (resolve !== true && resolve !== 'srv' && resolve !== false) {
    throw new InvalidOptionError(`${path}.resolve must be true (A/AAAA records) or 'srv', got ${describeValue(resolve)}`, { field: `${path}.resolve` })
  }
  if (resolve === false) return undefined
  if (rest.dispatcher !== undefined) throw new InvalidOptionError(`${path}.resolve does not apply to a dispatcher upstream`, { field: `${path}.resolve` })
  const checked = normalizeUpstream(rest, path) // every other option checked as for a plain upstream
  const url = new URL(checked.url)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0) throw new InvalidOptionError(`${path}.resolve needs a host name, got the address ${host}`, { field: `${path}.url` })
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
  const { url: _url, id: _id, ...options } = rest
  return { mode: resolve === 'srv' ? 'srv' : 'a', host, port, protocol: url.protocol, basePath: checked.basePath, id: checked.id, options, path }
}

interface Target {
  address: string
  port: number
  weight: number | undefined
  /** The SRV record's priority as a level: 0 for the lowest priority number, 1 for the next… */
  priority: number | undefined
  /** The name the TLS certificate is checked against. */
  servername: string
}

/**
 * DNS discovery (nginx `server ... resolve`): each `resolve` entry becomes one upstream per
 * address its name resolves to, asked again when the records' TTL runs out. Changes go through
 * the balancer's own add and remove (with drain), so no request is dropped: a vanished address
 * takes no new request and finishes what it has. A failed lookup keeps the upstreams found last.
 */
export class Discovery {
  readonly #core: Fleet
  readonly #options: ResolvedDns
  readonly #resolver = new dns.Resolver({ timeout: 2_000, tries: 2 })
  readonly #children = new Map<string, Map<string, Upstream>>()
  readonly #timers = new Set<unknown>()
  readonly #ready: Promise<void>
  #stopped = false

  constructor(core: Fleet, entries: readonly ResolvingUpstream[], options: ResolvedDns) {
    this.#core = core
    this.#options = options
    if (options.servers !== undefined) this.#resolver.setServers([...options.servers])
    this.#ready = Promise.all(entries.map((e) => this.#refresh(e))).then(() => {})
  }

  /** Resolves once every entry was looked up once (found or not). */
  ready(): Promise<void> {
    return this.#ready
  }

  stop(): void {
    this.#stopped = true
    this.#resolver.cancel()
    for (const t of this.#timers) this.#core.clock.clearTimeout(t)
    this.#timers.clear()
  }

  async #refresh(entry: ResolvingUpstream): Promise<void> {
    let wait: number
    try {
      const { targets, ttlMs } = entry.mode === 'a' ? await this.#addresses(entry.host, entry.port) : await this.#srv(entry)
      if (this.#stopped) return
      this.#apply(entry, targets)
      wait = Math.min(this.#options.maxTtl, Math.max(this.#options.minTtl, ttlMs))
    } catch {
      if (this.#stopped) return
      wait = this.#options.retryInterval
    }
    const timer = this.#core.clock.setTimeout(() => {
      this.#timers.delete(timer)
      void this.#refresh(entry)
    }, wait)
    this.#timers.add(timer)
  }

  /** A and AAAA records of `host`; fails only when both lookups fail. */
  async #addresses(host: string, port: number): Promise<{ targets: Target[]; ttlMs: number }> {
    const [v4, v6] = await Promise.allSettled([this.#resolver.resolve4(host, { ttl: true }), this.#resolver.resolve6(host, { ttl: true })])
    if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason
    const records = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])]
    const ttl = records.length === 0 ? this.#options.retryInterval / 1000 : Math.min(...records.map((r) => r.ttl))
    const targets = records.map((r) => ({ address: r.address, port, weight: undefined, priority: undefined, servername: host }))
    return { targets, ttlMs: ttl * 1000 }
  }

  /** SRV records: each target's addresses, its port and weight; the record's priority as a priority level (RFC 2782: lowest first). */
  async #srv(entry: ResolvingUpstream): Promise<{ targets: Target[]; ttlMs: number }> {
    const records = await this.#resolver.resolveSrv(entry.host)
    const levels = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b)
    const targets: Target[] = []
    for (const r of records) {
      const { targets: found } = await this.#addresses(r.name, r.port)
      for (const t of found) targets.push({ ...t, weight: Math.max(1, r.weight), priority: levels.indexOf(r.priority) })
    }
    return { targets, ttlMs: this.#options.srvInterval }
  }

  /** Adds what is new, removes (draining) what is gone, and replaces what changed weight or role. */
  #apply(entry: ResolvingUpstream, targets: Target[]): void {
    let children = this.#children.get(entry.id)
    if (children === undefined) this.#children.set(entry.id, (children = new Map()))
    const wanted = new Map<string, ResolvedUpstream>()
    for (const t of targets) {
      const host = isIP(t.address) === 6 ? `[${t.address}]` : t.address
      const id = `${entry.id}/${host}:${t.port}`
      const options: Record<string, unknown> = { ...entry.options, id, url: `${entry.protocol}//${host}:${t.port}${entry.basePath}` }
      if (t.weight !== undefined) options.weight = t.weight
      if (t.priority !== undefined) options.priority = t.priority
      if (entry.protocol === 'https:') options.tls = { servername: t.servername, ...(entry.options.tls as object | undefined) }
      wanted.set(id, normalizeUpstream(options, entry.path))
    }
    for (const [id, u] of children) {
      const next = wanted.get(id)
      if (next !== undefined && next.weight === u.weight && next.priority === u.priority) continue
      children.delete(id)
      this.#core.remove(u, true).catch(() => {}) // its pool closing badly changes nothing here
    }
    for (const [id, config] of wanted) {
      if (children.has(id)) continue
      try {
        children.set(id, this.#core.add(config))
      } catch {
        // An id taken by an upstream added by hand: leave it to its owner.
      }
    }
  }
}
