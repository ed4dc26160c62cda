import type { BalancerOptions, ShareChannel, ShareNews } from '@switchyard/core'
import { activeHealthCheck } from '@switchyard/health'
import { first } from '@switchyard/strategies'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fakeUpstream, get, serveBalancer, virtualClock } from '@switchyard/testing'

/**
 * An in-memory stand-in for the gateway's cluster primary: what one member sends reaches every
 * other member, stamped with its sender, on a later turn (as IPC does). `sent` keeps everything.
 */
function bus() {
  const members = new Map<string, (news: ShareNews) => void>()
  const sent: ShareNews[] = []
  const channel = (name: string): ShareChannel => ({
    send(news) {
      sent.push({ ...news, from: name })
      for (const [other, receive] of members) if (other !== name) setImmediate(() => receive({ ...news, from: name }))
    },
    subscribe(receive) {
      members.set(name, receive)
      return () => members.delete(name)
    },
  })
  return { channel, sent, members }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

/**
 * A balancer over two loopback upstreams `a` and `b` that only listens on its share channel:
 * `deliver` hands it news as another member would.
 */
async function listening(options: Omit<BalancerOptions, 'upstreams' | 'share'> = {}) {
  const a = await fakeUpstream({ name: 'a' })
  const b = await fakeUpstream({ name: 'b' })
  let deliver: (news: ShareNews) => void = () => {}
  const share: ShareChannel = {
    send() {},
    subscribe(receive) {
      deliver = receive
      return () => {}
    },
  }
  const { lb } = await serveBalancer({ ...options, upstreams: [a.url, b.url], share })
  return { a, b, lb, deliver: (news: ShareNews) => deliver(news) }
}

describe('share: balancers over the same upstreams act as one', () => {
  it('counts passive failures across balancers: maxFails 2 is one failure here and one there, and both take the upstream out for failTimeout', async () => {
    const clock = virtualClock()
    const bad = await fakeUpstream({ name: 'bad', answer: 'reset' })
    const good = await fakeUpstream({ name: 'good' })
    const { channel, sent } = bus()
    const options = { upstreams: [bad.url, good.url], strategy: first(), clock, retry: { attempts: 2 }, passive: { maxFails: 2, failTimeout: 10_000 } }
    const a = await serveBalancer({ ...options, share: channel('a') })
    const b = await serveBalancer({ ...options, share: channel('b') })
    expect((await get(`${a.url}/`)).status).toBe(200) // bad resets, the retry goes to good
    await settle()
    expect(a.lb.upstreams[0]!.state).toBe('up') // one failure of two
    expect(b.lb.upstreams[0]!.state).toBe('up')
    expect((await get(`${b.url}/`)).status).toBe(200) // b's own failure is the second one
    await settle()
    expect(b.lb.upstreams[0]).toMatchObject({ state: 'down', reason: 'max_fails' })
    expect(a.lb.upstreams[0]).toMatchObject({ state: 'down', reason: 'max_fails' }) // b's failure counted here too
    expect(sent.filter((n) => n.type === 'failure').map((n) => n.from)).toEqual(['a', 'b'])
    const tried = bad.requests.length
    for (const lb of [a, b]) for (let i = 0; i < 3; i++) expect((await get(`${lb.url}/`)).status).toBe(200)
    expect(bad.requests.length).toBe(tried) // neither sends it anything while it is out
    clock.advance(10_000)
    await settle()
    expect(a.lb.upstreams[0]!.state).toBe('up')
    expect(b.lb.upstreams[0]!.state).toBe('up')
  })

  it('lets one balancer probe for all: its active verdicts reach one that runs no probes, down and back up', async () => {
    const clock = virtualClock()
    let healthy = true
    const a = await fakeUpstream({ name: 'a', answer: (r) => (r.url === '/healthz' ? { status: healthy ? 200 : 503 } : {}) })
    const b = await fakeUpstream({ name: 'b' })
    const { channel } = bus()
    const prober = await serveBalancer({
      upstreams: [a.url, b.url],
      clock,
      share: channel('primary'),
      health: activeHealthCheck({ path: '/healthz', interval: 1_000, jitter: 0, unhealthyThreshold: 1, healthyThreshold: 1 }),
    })
    const worker = await serveBalancer({ upstreams: [a.url, b.url], share: channel('worker') })
    const probes = () => a.requests.filter((r) => r.url === '/healthz').length
    await expect.poll(probes).toBe(1)
    healthy = false
    await expect.poll(() => clock.dueIn(1_000)).toBe(2)
    clock.advance(1_000)
    await expect.poll(() => worker.lb.upstreams[0]!.state).toBe('down')
    expect(worker.lb.upstreams[0]!.reason).toBe('health_check')
    expect(prober.lb.upstreams[0]!.state).toBe('down')
    for (let i = 0; i < 4; i++) expect(((await get(`${worker.url}/`)).json() as { name: string }).name).toBe('b')
    healthy = true
    await expect.poll(() => clock.dueIn(1_000)).toBe(2)
    clock.advance(1_000)
    await expect.poll(() => worker.lb.upstreams[0]!.state).toBe('up')
    expect(a.requests.filter((r) => r.url === '/healthz').length).toBe(probes()) // the worker never probed
  })

  it('tells the others when its breaker opens, for its resetTimeout', async () => {
    const bad = await fakeUpstream({ name: 'bad', answer: 'reset' })
    const good = await fakeUpstream({ name: 'good' })
    const { channel, sent } = bus()
    const a = await serveBalancer({
      upstreams: [bad.url, good.url],
      strategy: first(),
      passive: false,
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 1, resetTimeout: 7_000 },
      share: channel('a'),
    })
    expect((await get(`${a.url}/`)).status).toBe(200)
    await expect.poll(() => sent.find((n) => n.type === 'down')).toEqual({ type: 'down', upstream: bad.url, by: 'breaker', reason: 'breaker_open', ms: 7_000, from: 'a' })
  })

  it('keeps a verdict per sender and mechanism: one sender’s up never clears another’s down; a timed one runs out on its own; malformed news is ignored', async () => {
    const clock = virtualClock()
    const { a, lb, deliver } = await listening({ clock })
    const events: string[] = []
    lb.on('upstream:down', (e) => events.push(`down ${e.reason}`))
    lb.on('upstream:up', (e) => events.push(`up ${e.reason}`))
    deliver({ type: 'down', upstream: a.url, by: 'active', reason: 'health_check', from: 'primary' })
    deliver({ type: 'down', upstream: a.url, by: 'breaker', reason: 'breaker_open', ms: 5_000, from: 'w2' })
    deliver({ type: 'up', upstream: a.url, by: 'active', reason: 'health_check', from: 'primary' })
    expect(lb.upstreams[0]!.state).toBe('down') // w2's breaker verdict still holds
    for (const junk of [null, 42, { type: 'down' }, { type: 'down', upstream: a.url, by: 'nonsense', reason: 'x' }, { type: 'failure', upstream: 'http://unknown:1' }]) {
      deliver(junk as unknown as ShareNews)
    }
    clock.advance(4_999)
    expect(lb.upstreams[0]!.state).toBe('down')
    clock.advance(1)
    expect(lb.upstreams[0]!.state).toBe('up')
    expect(events).toEqual(['down health_check', 'up breaker_half_open'])
  })

  it('refuses a share option that is not a channel, with a typed error', async () => {
    const { createBalancer } = await import('@switchyard/core')
    expect(() => createBalancer({ upstreams: ['http://127.0.0.1:1'], share: { send() {} } as unknown as ShareChannel })).toThrow(
      expect.objectContaining({ code: 'SWY_ERR_INVALID_OPTION', field: 'share' }),
    )
  })

  it('takes any news without throwing (fuzzed): junk is ignored, and what is well-formed still works after it', async () => {
    const clock = virtualClock()
    const { a, b, lb, deliver } = await listening({ clock, passive: { maxFails: 3, failTimeout: 1_000 } })
    const news = fc.oneof(
      fc.anything(),
      fc.record(
        {
          type: fc.constantFrom('down', 'up', 'failure', 'other'),
          upstream: fc.oneof(fc.constantFrom(a.url, b.url), fc.string()),
          by: fc.oneof(fc.constantFrom('passive', 'active', 'outlier', 'breaker'), fc.anything()),
          reason: fc.anything(),
          ms: fc.oneof(fc.double(), fc.integer({ min: -10, max: 5_000 }), fc.anything()),
          from: fc.oneof(fc.constantFrom('w1', 'w2'), fc.anything()),
        },
        { requiredKeys: [] },
      ),
    )
    fc.assert(
      fc.property(fc.array(news, { maxLength: 30 }), (list) => {
        for (const n of list) deliver(n as ShareNews)
        clock.advance(10_000) // every timed verdict runs out
        // A verdict without `ms` holds until its sender says `up`: every sender heard from says it.
        const senders = new Set(['w1', 'w2', 'peer'])
        for (const n of list) if (n !== null && typeof n === 'object' && typeof (n as { from?: unknown }).from === 'string') senders.add((n as { from: string }).from)
        for (const sender of senders)
          for (const u of [a.url, b.url])
            for (const by of ['passive', 'active', 'outlier', 'breaker'] as const) deliver({ type: 'up', upstream: u, by, reason: 'health_check', from: sender })
        return lb.upstreams.every((u) => u.state === 'up')
      }),
      { numRuns: 300 },
    )
    deliver({ type: 'down', upstream: a.url, by: 'active', reason: 'health_check', from: 'primary' })
    expect(lb.upstreams[0]!.state).toBe('down')
  })
})
