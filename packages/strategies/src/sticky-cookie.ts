import { EligibleMarks, isPickable } from './internal/eligible.js'
import { hash32 } from './internal/hash.js'
import { InvalidOptionError } from './errors.js'
import { readCookie } from './keys.js'
import { checkBoolean, checkNumber, checkObject, checkOneOf, describeValue, rejectUnknownKeys } from './options-check.js'
import { roundRobin } from './round-robin.js'
import type { Candidate, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link stickyCookie}. */
export interface StickyCookieOptions extends StrategyDeps {
  /**
   * Cookie name.
   * @default 'swy_sticky'
   */
  name?: string
  /**
   * How to pick when a request has no cookie, or its upstream is not up (or is refused: already tried, at its cap).
   * @default roundRobin()
   */
  fallback?: Strategy
  /**
   * Mixed into the cookie value, so values differ between deployments that share upstream ids.
   * @default ''
   */
  secret?: string
  /** @default '/' */
  path?: string
  /** @default undefined (host-only cookie) */
  domain?: string
  /** @default true */
  httpOnly?: boolean
  /** @default false; set it when clients reach you over HTTPS */
  secure?: boolean
  /** @default 'Lax' */
  sameSite?: 'Strict' | 'Lax' | 'None'
  /**
   * Max-Age in seconds; unset makes a session cookie.
   * @default undefined
   */
  maxAge?: number
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Sticky sessions by cookie (HAProxy `cookie ... insert`, nginx Plus `sticky cookie`): the first
 * response sets a cookie naming the upstream that served it, by an opaque token (a hash of its id
 * and `secret`, never its address); later requests carrying it go to that upstream while it is
 * up. When it is not, the fallback picks again and the response resets the cookie.
 *
 * Cost: pick O(1) with a valid cookie (one map lookup), else the fallback's cost; rebuild O(n).
 *
 * @example
 * createBalancer({ upstreams, strategy: stickyCookie({ name: 'srv', secure: true, maxAge: 3600 }) })
 */
export function stickyCookie(options: StickyCookieOptions = {}): Strategy {
  const path = 'stickyCookie()'
  const o = checkObject(options, path)
  rejectUnknownKeys(
    o,
    ['name', 'fallback', 'secret', 'path', 'domain', 'httpOnly', 'secure', 'sameSite', 'maxAge', 'random', 'now'],
    path,
  )
  const name = o.name ?? 'swy_sticky'
  if (typeof name !== 'string' || !COOKIE_NAME.test(name)) {
    throw new InvalidOptionError(`${path}.name must be a cookie name (an HTTP token), got ${describeValue(name)}`, {
      field: `${path}.name`,
    })
  }
  const sameSite = checkOneOf(o.sameSite, `${path}.sameSite`, ['Strict', 'Lax', 'None'], 'Lax')
  for (const field of ['secret', 'path', 'domain'] as const) {
    const v = o[field]
    if (v !== undefined && (typeof v !== 'string' || /[;\r\n]/.test(v))) {
      throw new InvalidOptionError(`${path}.${field} must be a string without ';' or line breaks, got ${describeValue(v)}`, {
        field: `${path}.${field}`,
      })
    }
  }
  const fallback = (o.fallback as Strategy | undefined) ?? roundRobin(o.random ? { random: o.random as () => number } : {})
  if (typeof fallback !== 'object' || fallback === null || typeof fallback.pick !== 'function') {
    throw new InvalidOptionError(`${path}.fallback must be a strategy`, { field: `${path}.fallback` })
  }
  const secure = checkBoolean(o.secure, `${path}.secure`, false)
  const httpOnly = checkBoolean(o.httpOnly, `${path}.httpOnly`, true)
  const maxAge = o.maxAge === undefined ? undefined : checkNumber(o.maxAge, `${path}.maxAge`, 0, { integer: true })
  const secret = (o.secret as string | undefined) ?? ''
  let attributes = `; Path=${(o.path as string | undefined) ?? '/'}`
  if (o.domain !== undefined) attributes += `; Domain=${o.domain as string}`
  if (maxAge !== undefined) attributes += `; Max-Age=${maxAge}`
  if (httpOnly) attributes += '; HttpOnly'
  if (secure || sameSite === 'None') attributes += '; Secure' // browsers drop SameSite=None without Secure
  attributes += `; SameSite=${sameSite}`

  const marks = new EligibleMarks()
  let byToken = new Map<string, Candidate>()
  let tokens: string[] = []
  let cookies: string[] = []
  const token = (c: Candidate) => hash32(`${secret}\u0000${c.id}`).toString(36)

  return {
    name: 'sticky-cookie',
    affinity: {
      key: (info) => readCookie(info.headers.cookie, name),
      setCookie(picked: Candidate, key: string | undefined) {
        if (tokens[picked.index] === undefined) {
          const t = token(picked)
          tokens[picked.index] = t
          cookies[picked.index] = `${name}=${t}${attributes}`
        }
        return key === tokens[picked.index] ? undefined : cookies[picked.index]
      },
    },
    rebuild(all: readonly Candidate[]) {
      fallback.rebuild?.(all)
      marks.clear()
      byToken = new Map()
      tokens = []
      cookies = []
      for (const c of all) {
        const t = token(c)
        byToken.set(t, c)
        tokens[c.index] = t
        cookies[c.index] = `${name}=${t}${attributes}`
      }
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      const wanted = ctx.key === undefined ? undefined : byToken.get(ctx.key)
      if (wanted !== undefined && isPickable(wanted, marks.of(eligible), ctx)) return wanted
      return fallback.pick(eligible, ctx)
    },
    onStart(picked: Candidate) {
      fallback.onStart?.(picked)
    },
    onEnd(picked, outcome) {
      fallback.onEnd?.(picked, outcome)
    },
  }
}
