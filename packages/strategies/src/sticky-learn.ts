import { EligibleMarks, isPickable } from './internal/eligible.js'
import { InvalidOptionError } from './errors.js'
import { readCookie } from './keys.js'
import { checkFunction, checkNumber, checkObject, describeValue, rejectUnknownKeys } from './options-check.js'
import { roundRobin } from './round-robin.js'
import type { Candidate, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link stickyLearn}. */
export interface StickyLearnOptions extends StrategyDeps {
  /** The application's own session cookie, as its upstreams set it (`JSESSIONID`, `sid`, `connect.sid`). */
  cookie: string
  /**
   * A session not seen for this long is forgotten, ms.
   * @default 600_000 (nginx Plus `sticky learn … timeout`, 10 minutes)
   */
  ttl?: number
  /**
   * Sessions remembered at most; past it the least recently seen is forgotten first. About 150
   * bytes each (the cookie value and a slot): 10 000 is about 1.5 MB.
   * @default 10_000
   */
  max?: number
  /**
   * How to pick for a request without a known session, or whose upstream cannot take it (down,
   * already tried, at its cap).
   * @default roundRobin()
   */
  fallback?: Strategy
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Sticky sessions learned from the application (nginx Plus `sticky learn`, HAProxy stick tables on
 * a response cookie): when an upstream's response sets the session cookie `cookie`, the session is
 * remembered as that upstream's; a later request carrying the cookie goes to it. Nothing is added
 * to the responses: the application's own cookie is the key.
 *
 * Memory is bounded: at most `max` sessions, each forgotten after `ttl` without a request (a least
 * recently seen list: a request renews its session). When a session's upstream cannot take a
 * request (down, draining, removed, at its cap, already tried), the fallback picks another, and the
 * session moves to the upstream that answered — an application with a shared session store keeps
 * the client there; one that keeps sessions in memory starts a new session there, whose cookie is
 * learned in turn. The old upstream coming back does not take it back.
 *
 * Cost: pick O(1) with a known session (two map lookups), else the fallback's; learning O(1) per
 * response (its `Set-Cookie` headers read only for this strategy); rebuild O(n).
 *
 * @example
 * createBalancer({ upstreams, strategy: stickyLearn({ cookie: 'JSESSIONID', ttl: 3_600_000 }) })
 */
export function stickyLearn(options: StickyLearnOptions): Strategy {
  const path = 'stickyLearn()'
  const o = checkObject(options, path)
  rejectUnknownKeys(o, ['cookie', 'ttl', 'max', 'fallback', 'random', 'now'], path)
  const cookie = o.cookie
  if (typeof cookie !== 'string' || !COOKIE_NAME.test(cookie)) {
    throw new InvalidOptionError(`${path}.cookie must be the session cookie's name (an HTTP token), got ${describeValue(cookie)}`, { field: `${path}.cookie` })
  }
  const ttl = checkNumber(o.ttl, `${path}.ttl`, 600_000, { exclusiveMin: true })
  const max = checkNumber(o.max, `${path}.max`, 10_000, { min: 1, integer: true })
  const now = checkFunction<() => number>(o.now, `${path}.now`, () => performance.now())
  const fallback = (o.fallback as Strategy | undefined) ?? roundRobin(o.random ? { random: o.random as () => number } : {})
  if (typeof fallback !== 'object' || fallback === null || typeof fallback.pick !== 'function') {
    throw new InvalidOptionError(`${path}.fallback must be a strategy`, { field: `${path}.fallback` })
  }
  const prefix = `${cookie}=`
  const marks = new EligibleMarks()
  /** Upstreams by id (a session names its upstream by id: ids outlive slot numbers). */
  let byId = new Map<string, Candidate>()
  /** Session → its upstream's id and when it was last seen; insertion order is recency order. */
  const sessions = new Map<string, { id: string; seen: number }>()

  const remember = (session: string, id: string): void => {
    const t = now()
    sessions.delete(session) // to the back: the most recently seen
    sessions.set(session, { id, seen: t })
    if (sessions.size > max) sessions.delete(sessions.keys().next().value!)
    // The front is the least recently seen: what expired there goes now (amortized O(1)).
    for (const [k, v] of sessions) {
      if (t - v.seen <= ttl) break
      sessions.delete(k)
    }
  }

  return {
    name: 'sticky-learn',
    affinity: {
      key: (info) => readCookie(info.headers.cookie, cookie),
      learn(picked: Candidate, setCookies: readonly string[], key: string | undefined) {
        let learned = false
        for (const header of setCookies) {
          if (!header.startsWith(prefix)) continue
          const end = header.indexOf(';')
          const value = header.slice(prefix.length, end === -1 ? undefined : end).trim()
          if (value === '') {
            sessions.delete(key ?? '') // the application ended the session (an empty cookie)
            continue
          }
          remember(value, picked.id)
          learned = true
        }
        // A known session served elsewhere (its upstream could not take it) moves there.
        if (!learned && key !== undefined) {
          const s = sessions.get(key)
          if (s !== undefined && s.id !== picked.id) remember(key, picked.id)
        }
      },
    },
    rebuild(all: readonly Candidate[]) {
      fallback.rebuild?.(all)
      marks.clear()
      byId = new Map(all.map((c) => [c.id, c]))
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      const key = ctx.key
      if (key !== undefined) {
        const s = sessions.get(key)
        if (s !== undefined) {
          const t = now()
          if (t - s.seen > ttl) sessions.delete(key)
          else {
            const wanted = byId.get(s.id)
            if (wanted !== undefined && isPickable(wanted, marks.of(eligible), ctx)) {
              remember(key, s.id)
              return wanted
            }
          }
        }
      }
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
