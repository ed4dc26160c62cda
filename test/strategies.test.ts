import { createBalancer } from '@switchyard/core'
import {
  consistentHash,
  first,
  headerKey,
  ipHash,
  leastConnections,
  maglev,
  peakEwma,
  powerOfTwo,
  roundRobin,
  type Strategy,
  stickyCookie,
  stickyLearn,
} from '@switchyard/strategies'
import { STRATEGIES } from '../packages/strategies/test/fixtures/factories.js'
import { Agent, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { deadPort, fakeUpstream, get, serveBalancer } from '@switchyard/testing'

/** Sends `total` GETs from `concurrency` callers; returns the share answered by `fast`. */
async function drive(url: string, total: number, concurrency: number): Promise<string[]> {
  const agent = new Agent({ connections: concurrency })
  onTestFinished(() => agent.close())
  const names: string[] = []
  let sent = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent++
        const res = await request(url, { dispatcher: agent })
        names.push(((await res.body.json()) as { name: string }).name)
      }
    }),
  )
  return names
}

/** Sends GETs from `concurrency` callers for `ms`; returns who answered, in order. */
async function driveFor(url: string, ms: number, concurrency: number, agent: Agent): Promise<string[]> {
  const names: string[] = []
  const end = performance.now() + ms
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const res = await request(url, { dispatcher: agent })
        names.push(((await res.body.json()) as { name: string }).name)
      }
    }),
  )
  return names
}

describe('strategies through the proxy', () => {
  it('peakEwma: an upstream that was slow and recovers wins its share back (the stale peak decays)', async () => {
    // 3 fast upstreams and one 40 ms slower; then the slow one recovers. Before the fix its stale
    // estimate was costed at defaultRttMs, above the fast ones', so it was never drawn again.
    const fast = await Promise.all(['a', 'b', 'c'].map((name) => fakeUpstream({ name })))
    const slow = await fakeUpstream({ name: 'slow', answer: { delayMs: 40 } })
    const { url } = await serveBalancer({
      upstreams: [...fast.map((u) => u.url), slow.url],
      strategy: peakEwma({ decayMs: 300 }),
    })
    const agent = new Agent({ connections: 2 })
    onTestFinished(() => agent.close())
    const before = await driveFor(url, 1_200, 2, agent)
    const slowShare = before.filter((n) => n === 'slow').length / before.length
    expect(slowShare).toBeLessThan(0.1) // it was avoided while slow
    slow.answer = {}
    await driveFor(url, 1_500, 2, agent) // 5 decay times: its estimate has fallen below the fast ones'
    const after = await driveFor(url, 1_500, 2, agent)
    const share = after.filter((n) => n === 'slow').length / after.length
    expect(share).toBeGreaterThan(0.1) // its fair share is 25% (0.16 to 0.29 seen)
  })

  it('peakEwma at its defaults: avoids an upstream 20× slower, and wins it back within seconds once it recovers', async () => {
    // The decay follows the latencies seen (250 of them): about 0.25 s on loopback, not Finagle's 10 s.
    const fast = await Promise.all(['a', 'b', 'c'].map((name) => fakeUpstream({ name, answer: { delayMs: 1 } })))
    const slow = await fakeUpstream({ name: 'slow', answer: { delayMs: 20 } })
    const { url } = await serveBalancer({ upstreams: [...fast.map((u) => u.url), slow.url], strategy: peakEwma() })
    const agent = new Agent({ connections: 4 })
    onTestFinished(() => agent.close())
    const before = await driveFor(url, 1_500, 4, agent)
    expect(before.filter((n) => n === 'slow').length / before.length).toBeLessThan(0.1) // avoided while slow
    slow.answer = { delayMs: 1 }
    await driveFor(url, 1_000, 4, agent)
    const after = await driveFor(url, 2_000, 4, agent) // 1 to 3 s after it recovered
    expect(after.filter((n) => n === 'slow').length / after.length).toBeGreaterThan(0.15) // fair: 0.25
  })

  it('powerOfTwo, peakEwma and leastConnections send clearly more traffic to the faster of two backends', async () => {
    const shares: Record<string, number> = {}
    const make: [string, () => Strategy][] = [
      ['roundRobin', () => roundRobin()],
      ['powerOfTwo', () => powerOfTwo()],
      ['peakEwma', () => peakEwma()],
      ['leastConnections', () => leastConnections()],
    ]
    for (const [name, strategy] of make) {
      const fast = await fakeUpstream({ name: 'fast', recordBodies: false })
      const slow = await fakeUpstream({ name: 'slow', answer: { delayMs: 20 }, recordBodies: false })
      const { url } = await serveBalancer({ upstreams: [fast.url, slow.url], strategy: strategy() })
      const names = await drive(url, 400, 16)
      shares[name] = names.filter((n) => n === 'fast').length / names.length
    }
    // Round robin splits evenly whatever the latency; the load-aware ones see the slow backend's
    // requests pile up (or its latency) and move traffic to the fast one.
    expect(shares.roundRobin).toBeCloseTo(0.5, 1)
    for (const name of ['powerOfTwo', 'peakEwma', 'leastConnections']) {
      expect(shares[name], name).toBeGreaterThan(0.7)
    }
  })

  it('stickyCookie sets a cookie, keeps a client on its upstream, and moves it when that one goes', async () => {
    const a = await fakeUpstream({ name: 'a' })
    const b = await fakeUpstream({ name: 'b' })
    const { lb, url } = await serveBalancer({ upstreams: [a.url, b.url], strategy: stickyCookie({ name: 'srv' }) })
    const firstRes = await get(url)
    const setCookie = String(firstRes.headers['set-cookie'])
    expect(setCookie).toMatch(/^srv=\w+; Path=\/; HttpOnly; SameSite=Lax$/)
    const cookie = setCookie.split(';')[0]!
    const home = (firstRes.json() as { name: string }).name
    for (let i = 0; i < 6; i++) {
      const res = await get(url, { headers: { cookie } })
      expect((res.json() as { name: string }).name).toBe(home)
      expect(res.headers['set-cookie']).toBeUndefined()
    }
    await lb.remove(home === 'a' ? a.url : b.url)
    const moved = await get(url, { headers: { cookie } })
    expect((moved.json() as { name: string }).name).not.toBe(home)
    expect(String(moved.headers['set-cookie'])).toMatch(/^srv=/)
    expect(String(moved.headers['set-cookie']).split(';')[0]).not.toBe(cookie)
  })

  it.each([
    ['consistentHash', () => consistentHash({ key: headerKey('x-user') })],
    ['maglev', () => maglev({ key: headerKey('x-user') })],
  ])('%s keeps each key on one upstream (handler and dispatcher)', async (_name, make) => {
    const ups = await Promise.all(['a', 'b', 'c'].map((name) => fakeUpstream({ name })))
    const { url } = await serveBalancer({ upstreams: ups.map((u) => u.url), strategy: make() })
    const lb = createBalancer({ upstreams: ups.map((u) => u.url), strategy: make() })
    onTestFinished(() => lb.close())
    const seen = new Map<string, Set<string>>()
    for (let round = 0; round < 3; round++) {
      for (let user = 0; user < 12; user++) {
        const headers = { 'x-user': `user-${user}` }
        const viaProxy = ((await get(url, { headers })).json() as { name: string }).name
        const res = await request('http://svc/', { dispatcher: lb.dispatcher, headers })
        const viaDispatcher = ((await res.body.json()) as { name: string }).name
        expect(viaDispatcher).toBe(viaProxy) // same ring, same key, same upstream
        const set = seen.get(headers['x-user']) ?? new Set()
        set.add(viaProxy)
        seen.set(headers['x-user'], set)
      }
    }
    for (const set of seen.values()) expect(set.size).toBe(1)
    expect(new Set([...seen.values()].flatMap((s) => [...s])).size).toBeGreaterThan(1)
  })

  it.each([
    ['consistentHash', () => consistentHash({ key: headerKey('x-user'), balanceFactor: 1.25 }), () => consistentHash({ key: headerKey('x-user') })],
    ['maglev', () => maglev({ key: headerKey('x-user'), balanceFactor: 1.25 }), () => maglev({ key: headerKey('x-user') })],
  ] as const)('%s with balanceFactor: a hot key held in flight spills over; other keys keep their owners', async (_name, bounded, plain) => {
    // Upstreams that hold each request until released, so loads build up on real sockets.
    const held: (() => void)[] = []
    const ups = await Promise.all(
      ['a', 'b', 'c', 'd'].map((name) =>
        fakeUpstream({
          name,
          handler: (_req, res) => {
            held.push(() => res.end(JSON.stringify({ name })))
          },
        }),
      ),
    )
    const ids = ups.map((u) => u.url)
    const { url } = await serveBalancer({ upstreams: ids, strategy: bounded() })
    const { url: plainUrl } = await serveBalancer({ upstreams: ids, strategy: plain() })
    const agent = new Agent({ connections: 64 })
    onTestFinished(() => agent.close())
    const ask = (base: string, user: string) => request(base, { dispatcher: agent, headers: { 'x-user': user } }).then(async (r) => ((await r.body.json()) as { name: string }).name)
    // Where each key goes with nothing in flight, by the plain strategy on the same upstreams.
    const release = async (n: number) => {
      await expect.poll(() => held.length).toBe(n)
      for (const f of held.splice(0)) f()
    }
    const owners: string[] = []
    for (const user of ['hot', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7']) {
      const p = ask(plainUrl, user)
      await release(1)
      owners.push(await p)
    }
    // 12 requests for the hot key at once: plain hashing would put all 12 on its owner.
    const hot: Promise<string>[] = []
    for (let i = 0; i < 12; i++) {
      hot.push(ask(url, 'hot'))
      await expect.poll(() => held.length).toBe(i + 1) // each one in flight before the next is placed
    }
    for (const f of held.splice(0)) f()
    const placed = await Promise.all(hot)
    const counts = new Map<string, number>()
    for (const n of placed) counts.set(n, (counts.get(n) ?? 0) + 1)
    // At most ceil(ceil(1.25 × 12) / 4) = 4 on any upstream, the owner first.
    expect(placed[0]).toBe(owners[0])
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(4)
    expect(counts.size).toBeGreaterThanOrEqual(3)
    // With the load gone, every key is its owner's, as with plain hashing.
    for (let i = 0; i < owners.length; i++) {
      const p = ask(url, ['hot', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'][i]!)
      await release(1)
      expect(await p).toBe(owners[i])
    }
  })

  it("stickyLearn follows the application's own session cookie, and moves a session whose upstream went down", async () => {
    // Each upstream starts a session (Set-Cookie: sid=<name>-<n>) for a request that has none.
    let n = 0
    const ups = await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        fakeUpstream({
          name,
          handler: (req, res) => {
            if (!/\bsid=/.test(String(req.headers.cookie ?? ''))) res.setHeader('set-cookie', `sid=${name}-${++n}; Path=/; HttpOnly`)
            res.end(JSON.stringify({ name }))
          },
        }),
      ),
    )
    const { lb, url } = await serveBalancer({ upstreams: ups.map((u) => u.url), strategy: stickyLearn({ cookie: 'sid' }) })
    const first = await get(url)
    const sid = String(first.headers['set-cookie']).split(';')[0]!
    const owner = (first.json() as { name: string }).name
    expect(sid).toMatch(new RegExp(`^sid=${owner}-`))
    const as = async () => ((await get(url, { headers: { cookie: `theme=dark; ${sid}` } })).json() as { name: string }).name
    for (let i = 0; i < 6; i++) expect(await as()).toBe(owner)
    lb.update(ups[['a', 'b', 'c'].indexOf(owner)]!.url, { down: true })
    const moved = await as()
    expect(moved).not.toBe(owner)
    for (let i = 0; i < 4; i++) expect(await as()).toBe(moved) // the session stays where it moved
    lb.update(ups[['a', 'b', 'c'].indexOf(owner)]!.url, { down: false })
    for (let i = 0; i < 4; i++) expect(await as()).toBe(moved) // and is not taken back
  })

  it('ipHash keeps a client address on one upstream', async () => {
    const ups = await Promise.all(['a', 'b', 'c'].map((name) => fakeUpstream({ name })))
    const { url } = await serveBalancer({ upstreams: ups.map((u) => u.url), strategy: ipHash() })
    const names = new Set<string>()
    for (let i = 0; i < 10; i++) names.add(((await get(url)).json() as { name: string }).name)
    expect(names.size).toBe(1)
  })

  it('first packs onto the first upstream until its maxConnections', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const a = await fakeUpstream({ name: 'a', handler: (_q, res) => void gate.then(() => res.end('{"name":"a"}')) })
    const b = await fakeUpstream({ name: 'b' })
    const { url } = await serveBalancer({ upstreams: [{ url: a.url, maxConnections: 2 }, b.url], strategy: first() })
    const held = [get(url), get(url)]
    await expect.poll(() => a.hits).toBe(2)
    expect(((await get(url)).json() as { name: string }).name).toBe('b')
    release()
    await Promise.all(held)
    expect(((await get(url)).json() as { name: string }).name).toBe('a')
  })

  it('a strategy only orders: the core refuses tried and full upstreams through ctx.accept, and queues when all are full', async () => {
    const gates: (() => void)[] = []
    const held = (name: string) =>
      fakeUpstream({ name, handler: (_q, res) => void gates.push(() => res.end(`{"name":"${name}"}`)) })
    const [a, b] = await Promise.all([held('a'), held('b')])
    const dead = `http://127.0.0.1:${await deadPort()}`
    const asked: number[] = []
    // Knows nothing of retries, caps or breakers: the first accepted in list order.
    const inOrder: Strategy = {
      name: 'in-order',
      pick(list, ctx) {
        asked.push(ctx.attempt)
        return list.find((c) => ctx.accept(c))
      },
    }
    const { url } = await serveBalancer({
      upstreams: [dead, { url: a.url, maxConnections: 1 }, { url: b.url, maxConnections: 1 }],
      strategy: inOrder,
      passive: { maxFails: 0 },
      queue: { size: 4, timeout: 5_000 },
    })
    const first = get(url) // dead refuses the connection (unsent: retried), then a takes it
    await expect.poll(() => a.hits).toBe(1)
    expect(asked).toEqual([1, 2])
    const second = get(url) // dead again, then a is full: b
    await expect.poll(() => b.hits).toBe(1)
    const third = get(url) // everyone full after dead: the second pass queues it on a
    // attempt 1: dead; attempt 2: a first pass that accepts nobody, then a second that queues
    await expect.poll(() => asked).toEqual([1, 2, 1, 2, 1, 2, 2])
    expect(a.hits + b.hits).toBe(2)
    while (a.hits + b.hits < 3 || gates.length > 0) {
      gates.shift()?.()
      await new Promise((r) => setTimeout(r, 5))
    }
    const names = await Promise.all([first, second, third].map(async (p) => ((await p).json() as { name: string }).name))
    expect(names).toEqual(['a', 'b', 'a'])
  })

  it.each(STRATEGIES.map(([name, make]) => [name, make] as const))('%s works through lb.dispatcher', async (_name, make) => {
    const ups = await Promise.all(['a', 'b'].map((name) => fakeUpstream({ name })))
    const lb = createBalancer({ upstreams: ups.map((u) => u.url), strategy: make(Math.random, () => performance.now()) })
    onTestFinished(() => lb.close())
    for (let i = 0; i < 10; i++) {
      const res = await request('http://svc/', { dispatcher: lb.dispatcher })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }
    expect(lb.stats().requests).toBe(10)
  })
})
