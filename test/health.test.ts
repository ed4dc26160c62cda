import { once } from 'node:events'
import { activeHealthCheck, outlierDetection } from '@switchyard/health'
import { Agent, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type FakeUpstream, fakeUpstream, get, inOrder, serveBalancer, virtualClock } from '@switchyard/testing'

/** An upstream whose /healthz answers `health.status`, and / answers its name. */
async function withHealth(name: string) {
  const health = { status: 200 }
  const up = await fakeUpstream({
    name,
    handler: (req, res) => {
      if (req.url === '/healthz') {
        res.statusCode = health.status
        res.end(health.status === 200 ? 'ok' : 'bad')
        return
      }
      res.end(JSON.stringify({ name }))
    },
  })
  return { up, health }
}

const name = async (url: string) => ((await get(url)).json() as { name: string }).name
const trafficTo = (up: FakeUpstream) => up.requests.filter((r) => r.url !== '/healthz').length

describe('active health checks', () => {
  it('marks a failing upstream down after unhealthyThreshold failed probes, and back after healthyThreshold passes (probes on the balancer clock)', async () => {
    const clock = virtualClock()
    const a = await withHealth('a')
    const b = await withHealth('b')
    const { lb, url } = await serveBalancer({
      upstreams: [a.up.url, b.up.url],
      clock,
      health: activeHealthCheck({ path: '/healthz', interval: 5_000, jitter: 0, unhealthyThreshold: 2, healthyThreshold: 2, timeout: 2_000 }),
    })
    const probes = () => a.up.requests.filter((r) => r.url === '/healthz').length
    const events: string[] = []
    lb.on('upstream:down', (e) => events.push(`down ${e.id === a.up.url ? 'a' : 'b'} ${e.reason}`))
    lb.on('upstream:up', (e) => events.push(`up ${e.id === a.up.url ? 'a' : 'b'} ${e.reason}`))
    // Each probe's verdict schedules the next one an interval later: both upstreams' are then due.
    const judged = () => expect.poll(() => clock.dueIn(5_000)).toBe(2)
    await expect.poll(probes).toBe(1) // the first probe runs at once
    await judged()
    a.health.status = 500
    clock.advance(4_999)
    expect(probes()).toBe(1) // nothing before the interval, however long the real wait
    clock.advance(1)
    await expect.poll(probes).toBe(2)
    await judged()
    expect(lb.upstreams[0]!.state).toBe('up') // one failure is under the threshold of 2
    const down = once(lb, 'upstream:down')
    clock.advance(5_000)
    await down
    expect(lb.upstreams[0]).toMatchObject({ state: 'down', reason: 'health_check' })
    const before = trafficTo(a.up)
    for (let i = 0; i < 10; i++) expect(await name(url)).toBe('b')
    expect(trafficTo(a.up)).toBe(before)
    a.health.status = 200
    const up = once(lb, 'upstream:up')
    for (const n of [4, 5]) {
      await judged()
      clock.advance(5_000)
      await expect.poll(probes).toBe(n)
    }
    await up
    expect(lb.upstreams[0]!.state).toBe('up')
    expect(new Set(await Promise.all([name(url), name(url), name(url), name(url)]))).toEqual(new Set(['a', 'b']))
    expect(events).toEqual(['down a health_check', 'up a health_check'])
  })

  it('checks expectStatus and expectBody, and probes an added upstream at once', async () => {
    const a = await withHealth('a')
    const { lb } = await serveBalancer({
      upstreams: [a.up.url],
      health: activeHealthCheck({ path: '/healthz', interval: 60_000, expectBody: /^ok$/ }),
    })
    const added = await withHealth('late')
    added.health.status = 503
    const down = once(lb, 'upstream:down')
    lb.add(added.up.url)
    const [event] = await down // the first probe runs at once, not after 60 s
    expect(event).toEqual({ id: added.up.url, reason: 'health_check' })
  })
})

describe('passive health', () => {
  it('a resetting upstream receives at most maxFails attempts per failTimeout', async () => {
    const reset = await fakeUpstream({ name: 'reset', answer: 'reset' })
    const ok = await fakeUpstream({ name: 'ok' })
    const clock = virtualClock()
    const { lb, url } = await serveBalancer({
      upstreams: [reset.url, ok.url],
      strategy: inOrder(),
      passive: { maxFails: 2, failTimeout: 10_000 },
      clock,
    })
    for (let i = 0; i < 20; i++) expect((await get(url)).status).toBe(200)
    expect(reset.hits).toBe(2)
    clock.advance(9_999)
    expect(lb.upstreams[0]!.state).toBe('down') // not before failTimeout
    clock.advance(1)
    expect(lb.upstreams[0]).toMatchObject({ state: 'up', reason: 'fail_timeout' })
    for (let i = 0; i < 20; i++) expect((await get(url)).status).toBe(200)
    expect(reset.hits).toBe(4) // back after failTimeout, then out again after 2 more failures
  })
})

describe('outlier detection', () => {
  it('ejects an upstream after consecutive 5xx and lets it back after the ejection time', async () => {
    const bad = await fakeUpstream({ name: 'bad', answer: { status: 503 } })
    const good = await fakeUpstream({ name: 'good' })
    const clock = virtualClock()
    const { lb, url } = await serveBalancer({
      upstreams: [bad.url, good.url],
      strategy: inOrder(),
      passive: false,
      health: outlierDetection({ consecutive5xx: 3, interval: 10_000, baseEjectionTime: 30_000, maxEjectionPercent: 50 }),
      clock,
    })
    const down = once(lb, 'upstream:down')
    const statuses: number[] = []
    for (let i = 0; i < 12; i++) statuses.push((await get(url)).status)
    expect((await down)[0]).toEqual({ id: bad.url, reason: 'outlier' })
    expect(statuses.filter((s) => s === 503)).toHaveLength(3)
    expect(bad.hits).toBe(3)
    bad.answer = {}
    const ups: unknown[] = []
    lb.on('upstream:up', (e) => ups.push(e))
    clock.advance(20_000) // two reviews, still inside the 30 s ejection
    expect(ups).toEqual([])
    clock.advance(10_000) // the review at 30 s lets it back
    expect(ups).toEqual([{ id: bad.url, reason: 'outlier_expired' }])
    expect(new Set([await name(url), await name(url)])).toEqual(new Set(['bad', 'good']))
  })
})

describe('success-rate outlier detection', () => {
  it('ejects the one upstream of five whose success rate is far below the others', async () => {
    const ups = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => fakeUpstream({ name: n })))
    const flaky = ups[4]!
    let i = 0
    // Every other answer a 500: never 5 in a row, so only the success-rate rule can catch it.
    flaky.handler = (_req, res) => {
      res.statusCode = i++ % 2 === 0 ? 500 : 200
      res.end('{}')
    }
    const clock = virtualClock()
    const { lb, url } = await serveBalancer({
      upstreams: ups.map((u) => u.url),
      strategy: inOrder(),
      passive: false,
      retry: { attempts: 1 },
      health: outlierDetection({ interval: 10_000, successRate: { requestVolume: 10, minimumHosts: 5 }, maxEjectionPercent: 20 }),
      clock,
    })
    const downs: unknown[] = []
    lb.on('upstream:down', (e) => downs.push(e))
    // One interval's traffic: 50 requests, 10 to each upstream (requestVolume), then the review.
    for (let k = 0; k < 5; k++) await Promise.all(Array.from({ length: 10 }, () => get(url)))
    expect(downs).toEqual([]) // no review yet
    clock.advance(10_000)
    expect(downs).toEqual([{ id: flaky.url, reason: 'outlier' }])
    clock.advance(20_000) // more reviews: nobody else goes
    expect(downs).toEqual([{ id: flaky.url, reason: 'outlier' }])
    expect(lb.upstreams.find((u) => u.id === flaky.url)!.state).toBe('down')
    const before = trafficTo(flaky)
    for (let k = 0; k < 10; k++) expect((await get(url)).status).toBe(200)
    expect(trafficTo(flaky)).toBe(before)
  })
})

describe('failure-percentage outlier detection', () => {
  it('ejects the one of two upstreams whose failures pass the threshold, where success rate needs five', async () => {
    const good = await fakeUpstream({ name: 'good' })
    const flaky = await fakeUpstream({ name: 'flaky' })
    let i = 0
    let failEvery = 5 // 4 of 5 answers are 500s (80%): never 5 in a row with the rule below off
    flaky.handler = (_req, res) => {
      res.statusCode = i++ % 5 < failEvery - 1 ? 500 : 200
      res.end('{}')
    }
    const clock = virtualClock()
    const { lb, url } = await serveBalancer({
      upstreams: [good.url, flaky.url],
      strategy: inOrder(),
      passive: false,
      retry: { attempts: 1 },
      health: outlierDetection({ consecutive5xx: 0, consecutiveGatewayFailure: 0, interval: 10_000, failurePercentage: { threshold: 75, requestVolume: 10 } }),
      clock,
    })
    const downs: unknown[] = []
    lb.on('upstream:down', (e) => downs.push(e))
    // 60% failures: below the threshold, nothing happens.
    failEvery = 4 // 3 of 5 answers are 500s
    for (let k = 0; k < 2; k++) await Promise.all(Array.from({ length: 10 }, () => get(url)))
    clock.advance(10_000)
    expect(downs).toEqual([])
    // 80% failures: ejected at the next review.
    failEvery = 5
    i = 0
    for (let k = 0; k < 2; k++) await Promise.all(Array.from({ length: 10 }, () => get(url)))
    expect(downs).toEqual([])
    clock.advance(10_000)
    expect(downs).toEqual([{ id: flaky.url, reason: 'outlier' }])
    expect(lb.upstreams.find((u) => u.id === flaky.url)!.state).toBe('down')
    const before = flaky.hits
    for (let k = 0; k < 6; k++) expect((await get(url)).status).toBe(200)
    expect(flaky.hits).toBe(before)
  })
})

describe('circuit breaker', () => {
  it('opens on failures, half-opens after resetTimeout (on the balancer clock) with one trial, and closes on success', async () => {
    const clock = virtualClock()
    const flaky = await fakeUpstream({ name: 'flaky', answer: 'reset' })
    const ok = await fakeUpstream({ name: 'ok' })
    const { lb, url } = await serveBalancer({
      upstreams: [flaky.url, ok.url],
      strategy: inOrder(),
      passive: false,
      clock,
      breaker: { errorThresholdPercentage: 50, resetTimeout: 30_000, volumeThreshold: 1 },
    })
    const opened = once(lb, 'upstream:down')
    expect((await get(url)).status).toBe(200) // reset, retried on ok
    expect((await opened)[0]).toEqual({ id: flaky.url, reason: 'breaker_open' })
    expect(lb.upstreams[0]!.breaker).toBe('open')
    for (let i = 0; i < 5; i++) await get(url)
    expect(flaky.hits).toBe(1)
    flaky.answer = {}
    clock.advance(29_999)
    expect(lb.upstreams[0]!.breaker).toBe('open')
    const up = once(lb, 'upstream:up')
    clock.advance(1)
    expect((await up)[0]).toEqual({ id: flaky.url, reason: 'breaker_half_open' })
    expect(lb.upstreams[0]!.breaker).toBe('half-open')
    for (let i = 0; i < 4; i++) await get(url)
    await expect.poll(() => lb.upstreams[0]!.breaker).toBe('closed')
    expect(flaky.hits).toBeGreaterThanOrEqual(2)
  })
})

describe('backups, down, slow start and panic', () => {
  it('backups take traffic only when every primary is down; down upstreams never do', async () => {
    const p1 = await withHealth('p1')
    const p2 = await withHealth('p2')
    const backup = await withHealth('backup')
    const off = await withHealth('off')
    const { lb, url } = await serveBalancer({
      upstreams: [p1.up.url, p2.up.url, { url: backup.up.url, backup: true }, { url: off.up.url, down: true }],
      health: activeHealthCheck({ path: '/healthz', interval: 50, jitter: 0 }),
      panicThreshold: 0,
    })
    for (let i = 0; i < 6; i++) expect(['p1', 'p2']).toContain(await name(url))
    p1.health.status = 500
    await expect.poll(() => lb.upstreams[0]!.state).toBe('down')
    for (let i = 0; i < 4; i++) expect(await name(url)).toBe('p2')
    p2.health.status = 500
    await expect.poll(() => lb.upstreams[1]!.state).toBe('down')
    for (let i = 0; i < 4; i++) expect(await name(url)).toBe('backup')
    p1.health.status = 200
    await expect.poll(() => lb.upstreams[0]!.state).toBe('up')
    for (let i = 0; i < 4; i++) expect(await name(url)).toBe('p1')
    expect(trafficTo(off.up)).toBe(0)
    expect(off.up.hits).toBe(0) // not even probed
  })

  it('panic mode balances over all primaries when fewer than panicThreshold are up', async () => {
    const ups = await Promise.all(['a', 'b', 'c', 'd'].map(withHealth))
    const { lb, url } = await serveBalancer({
      upstreams: ups.map((u) => u.up.url),
      health: activeHealthCheck({ path: '/healthz', interval: 50, jitter: 0 }),
    })
    const panics: boolean[] = []
    lb.on('balancer:panic', (e) => panics.push(e.active))
    ups[0]!.health.status = 500
    ups[1]!.health.status = 500
    await expect.poll(() => lb.upstreams.filter((u) => u.state === 'down').length).toBe(2)
    // 2 of 4 up is 50%: not below the threshold, so only c and d serve.
    for (let i = 0; i < 8; i++) expect(['c', 'd']).toContain(await name(url))
    ups[2]!.health.status = 500
    await expect.poll(() => lb.stats().panic).toBe(true)
    const seen = new Set<string>()
    for (let i = 0; i < 16; i++) seen.add(await name(url))
    expect(seen).toEqual(new Set(['a', 'b', 'c', 'd'])) // the down ones still serve in panic
    ups[0]!.health.status = 200
    await expect.poll(() => lb.stats().panic).toBe(false)
    expect(panics).toEqual([true, false])
  })

  it('slow start ramps an added upstream from a tenth of its share to all of it', async () => {
    const a = await fakeUpstream({ name: 'a', recordBodies: false })
    const b = await fakeUpstream({ name: 'b', recordBodies: false })
    const clock = virtualClock()
    let seed = 1
    const random = () => ((seed = (seed * 16_807) % 2_147_483_647) - 1) / 2_147_483_646 // seeded: the same draws every run
    const { lb, url } = await serveBalancer({ upstreams: [a.url], slowStart: 30_000, strategy: inOrder(), clock, random })
    lb.add(b.url)
    let early = 0
    for (let i = 0; i < 100; i++) if ((await name(url)) === 'b') early++
    expect(lb.upstreams[1]!.slowStartShare).toBe(0.1) // no time has passed on the balancer's clock
    clock.advance(15_000)
    expect(lb.upstreams[1]!.slowStartShare).toBe(0.5)
    clock.advance(15_000)
    let late = 0
    for (let i = 0; i < 100; i++) if ((await name(url)) === 'b') late++
    expect(early).toBeLessThan(35) // ramping from 10%: well under its even half
    expect(late).toBe(50) // full share: round robin alternates exactly
    expect(lb.upstreams[1]!.slowStartShare).toBe(1)
  })
})

describe('fault injection', () => {
  it('under steady load, one of three backends dies and comes back: zero failed GETs, and it gets traffic again', async () => {
    const clock = virtualClock()
    const ups = await Promise.all(['a', 'b', 'c'].map((n) => fakeUpstream({ name: n, recordBodies: false })))
    const { lb, url } = await serveBalancer({
      upstreams: ups.map((u) => u.url),
      clock,
      passive: { maxFails: 1, failTimeout: 10_000 }, // documented recovery: after failTimeout
    })
    const agent = new Agent({ connections: 32 })
    onTestFinished(() => agent.close())
    let failed = 0
    let done = 0
    let running = true
    const worker = async () => {
      while (running && done < 50_000) {
        try {
          const res = await request(url, { dispatcher: agent })
          await res.body.dump()
          if (res.statusCode !== 200) failed++
        } catch {
          failed++
        }
        done++
      }
    }
    const load = Promise.all(Array.from({ length: 32 }, worker))
    await new Promise((r) => setTimeout(r, 400))
    const victim = ups[1]!
    await victim.kill()
    await expect.poll(() => lb.upstreams[1]!.state).toBe('down')
    await new Promise((r) => setTimeout(r, 500))
    const hitsWhileDead = victim.hits
    await victim.restart() // the same port
    await new Promise((r) => setTimeout(r, 200))
    expect(victim.hits).toBe(hitsWhileDead) // still out: its failTimeout has not passed on the clock
    clock.advance(10_000)
    await expect.poll(() => victim.hits > hitsWhileDead, { timeout: 3_000 }).toBe(true)
    running = false
    await load
    expect(failed).toBe(0)
    expect(done).toBeGreaterThan(500)
  })
})
