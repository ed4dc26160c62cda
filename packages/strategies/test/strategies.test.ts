import {
  cookieKey,
  first,
  headerKey,
  InvalidOptionError,
  leastConnections,
  maglev,
  pathKey,
  peakEwma,
  powerOfTwo,
  queryKey,
  readCookie,
  stickyCookie,
  stickyLearn,
  type Candidate,
  type Strategy,
} from '@switchyard/strategies'
import { describe, expect, it } from 'vitest'
import { candidates, ctx, seeded, sequence } from './fixtures/candidates.js'

describe('leastConnections()', () => {
  it('picks the fewest in-flight per weight, and shares ties round robin', () => {
    const s = leastConnections({ random: () => 0 })
    const list = candidates([1, 1, 2])
    // As the core does: change the count, then tell the strategy (onStart / onEnd).
    const set = (i: number, n: number) => {
      list[i]!.inFlight = n
      s.onStart?.(list[i]!)
    }
    expect(s.pick(list, ctx())).toBeDefined() // builds the tree over this list
    set(0, 3)
    set(1, 1)
    set(2, 3) // 3/2 = 1.5
    expect(s.pick(list, ctx())!.id).toBe('b')
    set(1, 5)
    expect(s.pick(list, ctx())!.id).toBe('c')
    expect(s.pick(list, ctx(['c']))!.id).toBe('a') // tried ones are skipped: a (3) beats b (5)
    for (let i = 0; i < 3; i++) set(i, 0)
    // Nothing in flight: weighted round robin among the tied, weights 1, 1, 2, interleaved.
    const seq = Array.from({ length: 400 }, () => s.pick(list, ctx())!.id).join('')
    for (const [id, share] of [['a', 100], ['b', 100], ['c', 200]] as const) {
      expect(Math.abs(seq.split(id).length - 1 - share)).toBeLessThanOrEqual(1)
    }
    // From a fresh start the order is smooth: c, of weight 2, twice in every four picks; and the
    // start is random, so balancers in many processes do not tie-break in lock step.
    const idle = candidates([1, 1, 2])
    const firsts = new Set<string>()
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const fresh = leastConnections({ random: seeded(seed) })
      fresh.rebuild?.(idle)
      const order = Array.from({ length: 8 }, () => fresh.pick(idle, ctx())!.id)
      for (let i = 0; i < 8; i += 4) expect(order.slice(i, i + 4).sort().join('')).toBe('abcc')
      firsts.add(order[0]!)
    }
    expect(firsts.size).toBeGreaterThan(1)
  })

  it('matches a brute-force scan of in-flight / weight over random loads, list changes and retries', () => {
    const rnd = seeded(11)
    const s = leastConnections()
    let list = candidates([1, 2, 3, 1, 5, 2, 1, 4, 1, 1, 2, 3, 7])
    for (let step = 0; step < 5_000; step++) {
      if (step % 500 === 0) list = list.filter(() => rnd() < 0.9 || list.length < 3) // a health change: a new list
      const c = list[Math.floor(rnd() * list.length)]!
      c.inFlight = Math.floor(rnd() * 6)
      s.onEnd?.(c, { ok: true, latencyMs: 1 })
      const tried = rnd() < 0.2 ? [list[Math.floor(rnd() * list.length)]!.id] : []
      const open = list.filter((x) => !tried.includes(x.id))
      const least = Math.min(...open.map((x) => x.inFlight / x.weight))
      const picked = s.pick(list, ctx(tried))!
      expect(tried).not.toContain(picked.id)
      expect(picked.inFlight / picked.weight).toBe(least)
    }
  })
})

describe('powerOfTwo()', () => {
  it('takes the less loaded of the two drawn', () => {
    const draws = [0.1, 0.9] // a, then b
    let i = 0
    const s = powerOfTwo({ random: () => draws[i++ % 2]! })
    const list = candidates([1, 1])
    list[0]!.inFlight = 5
    expect(s.pick(list, ctx())!.id).toBe('b')
    list[0]!.inFlight = 0
    list[1]!.inFlight = 5
    expect(s.pick(list, ctx())!.id).toBe('a')
  })

  it('validates choices', () => {
    expect(() => powerOfTwo({ choices: 0 })).toThrow(InvalidOptionError)
    expect(() => powerOfTwo({ choices: 3 })).not.toThrow()
  })

  it('sends almost nothing to an upstream with a standing queue', () => {
    const s = powerOfTwo({ random: seeded(3) })
    const list = candidates([1, 1, 1, 1])
    list[0]!.inFlight = 50
    let toA = 0
    for (let i = 0; i < 1_000; i++) if (s.pick(list, ctx())!.id === 'a') toA++
    expect(toA).toBe(0) // two distinct draws including a always lose to the other
  })
})

describe('peakEwma()', () => {
  it('moves traffic away from a slow upstream at once (peak), and back slowly (decay)', () => {
    let t = 0
    const s = peakEwma({ random: seeded(5), now: () => t, decayMs: 1_000 })
    const list = candidates([1, 1])
    s.rebuild?.(list)
    const [a, b] = list as [(typeof list)[0], (typeof list)[0]]
    for (let i = 0; i < 20; i++) {
      t += 1
      s.onEnd?.(a, { ok: true, latencyMs: 5 })
      s.onEnd?.(b, { ok: true, latencyMs: 5 })
    }
    t += 1
    s.onEnd?.(b, { ok: true, latencyMs: 200 }) // one slow answer: a new peak, taken at once
    let toB = 0
    for (let i = 0; i < 200; i++) if (s.pick(list, ctx())!.id === 'b') toB++
    expect(toB).toBe(0)
    // Even with a busier, b stays worse right after its peak (200 vs 5 × 2)...
    a.inFlight = 1
    expect(s.pick(list, ctx())!.id).toBe('a')
    // ...and fast answers pull its average down with time constant decayMs: after 6 s, 200 ms
    // weighs e^-6 and the average is ~5.5 ms, cheaper than a (5 ms × 2 in flight).
    for (let i = 0; i < 60; i++) {
      t += 100
      s.onEnd?.(b, { ok: true, latencyMs: 5 })
      s.onEnd?.(a, { ok: true, latencyMs: 5 })
    }
    toB = 0
    for (let i = 0; i < 200; i++) if (s.pick(list, ctx())!.id === 'b') toB++
    expect(toB).toBe(200)
  })

  it('tries a new upstream: unmeasured ones cost the default RTT', () => {
    let t = 0
    const s = peakEwma({ random: seeded(6), now: () => t, defaultRttMs: 30 })
    const list = candidates([1, 1])
    s.rebuild?.(list)
    t = 1
    s.onEnd?.(list[0]!, { ok: true, latencyMs: 100 })
    expect(s.pick(list, ctx())!.id).toBe('b')
  })
})

describe('first()', () => {
  it('packs onto the first upstream with room, and spills over at maxConnections', () => {
    const s = first()
    const list = candidates([1, 5, 1])
    for (const c of list) c.maxConnections = 2
    // As the core does: change the count, then tell the strategy (onStart / onEnd).
    const set = (i: number, n: number) => {
      list[i]!.inFlight = n
      s.onStart?.(list[i]!)
    }
    expect(s.pick(list, ctx())!.id).toBe('a') // weight ignored
    set(0, 2)
    expect(s.pick(list, ctx())!.id).toBe('b')
    expect(s.pick(list, ctx(['b']))!.id).toBe('c')
    set(1, 2)
    set(2, 2)
    expect(s.pick(list, ctx())!.id).toBe('a') // none has room: the first, to queue
    expect(s.pick(list, ctx(['a']))!.id).toBe('b')
    set(0, 1)
    expect(s.pick(list, ctx())!.id).toBe('a') // room again at the front
  })

  it('matches a scan from the front over random loads, list changes and retries', () => {
    const rnd = seeded(7)
    const s = first()
    let list = candidates(Array.from({ length: 37 }, () => 1))
    for (const c of list) c.maxConnections = 3
    for (let step = 0; step < 5_000; step++) {
      if (step % 500 === 0) list = list.filter(() => rnd() < 0.9 || list.length < 3)
      const c = list[Math.floor(rnd() * list.length)]!
      c.inFlight = rnd() < 0.7 ? 3 : Math.floor(rnd() * 3)
      s.onEnd?.(c, { ok: true, latencyMs: 1 })
      const tried = rnd() < 0.2 ? [list[Math.floor(rnd() * list.length)]!.id] : []
      const open = list.filter((x) => !tried.includes(x.id))
      const expected = open.find((x) => x.inFlight < x.maxConnections) ?? open[0]
      expect(s.pick(list, ctx(tried))!.id).toBe(expected!.id)
    }
  })
})

describe('stickyCookie()', () => {
  it('sets an opaque cookie, honours it while its upstream is eligible, and resets it after', () => {
    const s = stickyCookie({ name: 'srv', random: () => 0, maxAge: 60, secure: true })
    const list = candidates([1, 1, 1]).map((c) => ({ ...c, id: c.url }))
    s.rebuild?.(list)
    const firstPick = s.pick(list, ctx())!
    const affinity = s.affinity!
    const setCookie = affinity.setCookie!(firstPick, undefined)!
    expect(setCookie).toMatch(/^srv=[0-9a-z]+; Path=\/; Max-Age=60; HttpOnly; Secure; SameSite=Lax$/)
    expect(setCookie).not.toContain('127.0.0.1') // opaque: never the upstream's address
    const token = /^srv=([^;]+)/.exec(setCookie)![1]!
    const key = affinity.key({ method: 'GET', path: '/', headers: { cookie: `a=1; srv=${token}` }, remoteAddress: '' })
    expect(key).toBe(token)
    const withCookie = ctx([], 1, key)
    for (let i = 0; i < 5; i++) expect(s.pick(list, withCookie)!.id).toBe(firstPick.id)
    expect(affinity.setCookie!(firstPick, key)).toBeUndefined() // already set
    const others = list.filter((c) => c.id !== firstPick.id)
    const moved = s.pick(others, withCookie)!
    expect(moved.id).not.toBe(firstPick.id)
    expect(affinity.setCookie!(moved, key)).toMatch(/^srv=/)
  })

  it('validates its options', () => {
    expect(() => stickyCookie({ name: 'bad name' })).toThrow(/HTTP token/)
    expect(() => stickyCookie({ sameSite: 'lax' as never })).toThrow(/sameSite/)
    expect(() => stickyCookie({ path: '/; Domain=evil' })).toThrow(/without ';'/)
  })
})

describe('maglev()', () => {
  it('needs a prime table size', () => {
    expect(() => maglev({ tableSize: 65_536 })).toThrow(/prime/)
  })
})

describe('key functions', () => {
  const info = {
    method: 'GET',
    path: '/carts/9?tenant=acme&x=1',
    headers: { 'x-user-id': 'u7', cookie: 'theme=dark; session=s-42' },
    remoteAddress: '203.0.113.5',
  }
  it('read headers, cookies, query parameters and paths', () => {
    expect(headerKey('X-User-Id')(info)).toBe('u7')
    expect(cookieKey('session')(info)).toBe('s-42')
    expect(queryKey('tenant')(info)).toBe('acme')
    expect(pathKey(info)).toBe('/carts/9')
    expect(headerKey('x-missing')(info)).toBeUndefined()
    expect(queryKey('tenant')({ ...info, path: '/' })).toBeUndefined()
    expect(readCookie(['a=1', 'b=2'], 'b')).toBe('2')
    expect(() => headerKey('')).toThrow(InvalidOptionError)
  })
})

describe('peakEwma and upstreams nobody has measured', () => {
  it('an idle new upstream is tried at once beside fast measured ones; while its first request is out it costs defaultRttMs', () => {
    let t = 0
    const s = peakEwma({ random: seeded(3), now: () => t, defaultRttMs: 30 })
    const list = candidates([1, 1, 1])
    s.rebuild?.(list)
    // a and b are measured at 1 ms; c, never measured and idle, must still win its draws.
    for (const c of [list[0]!, list[1]!]) s.onEnd?.(c, { ok: true, latencyMs: 1 })
    t = 1
    let picksOfC = 0
    for (let i = 0; i < 30; i++) if (s.pick(list, ctx())!.id === 'c') picksOfC++
    expect(picksOfC).toBeGreaterThan(10) // drawn in about 2 of 3 draws, and cheaper (0) when drawn
    // With a request out and no answer yet, c costs defaultRttMs × 2: the fast ones win.
    list[2]!.inFlight = 1
    for (let i = 0; i < 30; i++) expect(s.pick(list, ctx())!.id).not.toBe('c')
  })
})

describe('stickyLearn', () => {
  const learned = (s: Strategy, c: Candidate, cookies: string[], key?: string) => s.affinity!.learn!(c, cookies, key)

  it('learns a session from the upstream’s Set-Cookie and sends its requests there; without one, the fallback picks', () => {
    const list = candidates([1, 1, 1])
    const s = stickyLearn({ cookie: 'sid', now: () => 0 })
    s.rebuild?.(list)
    expect(s.affinity!.key({ method: 'GET', path: '/', headers: { cookie: 'a=1; sid=abc' }, remoteAddress: '' })).toBe('abc')
    learned(s, list[2]!, ['other=1; Path=/', 'sid=abc; Path=/; HttpOnly'])
    for (let i = 0; i < 5; i++) expect(s.pick(list, ctx([], 1, 'abc'))!.id).toBe('c')
    expect(new Set(sequence(s, list, 3))).toEqual(new Set(['a', 'b', 'c'])) // no session: round robin
    expect(s.affinity!.setCookie).toBeUndefined() // nothing is added to responses
  })

  it('forgets a session after ttl without requests, and past max the least recently seen first', () => {
    let t = 0
    const list = candidates([1, 1])
    const s = stickyLearn({ cookie: 'sid', ttl: 1_000, max: 2, now: () => t })
    s.rebuild?.(list)
    learned(s, list[1]!, ['sid=one'])
    t = 999
    expect(s.pick(list, ctx([], 1, 'one'))!.id).toBe('b') // seen again: renewed
    t = 1_998
    expect(s.pick(list, ctx([], 1, 'one'))!.id).toBe('b')
    t = 3_000
    const fallback = s.pick(list, ctx([], 1, 'one'))!.id // 1 002 ms since: forgotten
    expect(s.pick(list, ctx([], 1, 'one'))!.id).not.toBe(fallback) // round robin moves on: not sticky any more
    learned(s, list[1]!, ['sid=x'])
    learned(s, list[1]!, ['sid=y'])
    expect(s.pick(list, ctx([], 1, 'x'))!.id).toBe('b') // x seen: y is now the least recent
    learned(s, list[1]!, ['sid=z'])
    expect(s.pick(list, ctx([], 1, 'x'))!.id).toBe('b')
    const picks = new Set([0, 1, 2, 3].map(() => s.pick(list, ctx([], 1, 'y'))!.id))
    expect(picks.size).toBe(2) // y was evicted (max 2): it goes round robin
  })

  it('a session whose upstream cannot take it goes to the fallback’s pick, and moves there once answered', () => {
    const list = candidates([1, 1, 1])
    const s = stickyLearn({ cookie: 'sid', now: () => 0 })
    s.rebuild?.(list)
    learned(s, list[0]!, ['sid=abc'])
    const other = s.pick(list, ctx(['a'], 2, 'abc'))! // a is tried (or down, or full)
    expect(other.id).not.toBe('a')
    learned(s, other, [], 'abc') // it answered, without a new cookie (a shared session store)
    expect(s.pick(list, ctx([], 1, 'abc'))!.id).toBe(other.id) // a does not take it back
    learned(s, other, ['sid=; Max-Age=0'], 'abc') // the application ends the session
    expect(new Set([0, 1, 2].map(() => s.pick(list, ctx([], 1, 'abc'))!.id)).size).toBe(3)
  })

  it('refuses a bad cookie name', () => {
    expect(() => stickyLearn({ cookie: 'a b' })).toThrow(/stickyLearn\(\)\.cookie must be/)
    expect(() => stickyLearn({} as never)).toThrow(/cookie/)
  })
})
