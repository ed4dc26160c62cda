import { createBalancer, type RequestTrace } from '@switchyard/core'
import { first } from '@switchyard/strategies'
import { functionUpstream, inOrder, virtualClock } from '@switchyard/testing'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'

async function call(lb: ReturnType<typeof createBalancer>, path = '/') {
  const res = await request(`http://svc${path}`, { dispatcher: lb.dispatcher })
  return { status: res.statusCode, body: await res.body.text() }
}

describe('the decision trace (request:end, lb.trace())', () => {
  it('tells, attempt by attempt, where a request went and what came back', async () => {
    const clock = virtualClock()
    const a = functionUpstream('a')
    const b = functionUpstream('b', { body: 'from b' })
    const lb = createBalancer({ upstreams: [a, b], strategy: inOrder(), clock })
    onTestFinished(() => lb.close())
    const ends: RequestTrace[] = []
    lb.on('request:end', (t) => ends.push(t))
    a.script('reset')
    expect((await call(lb, '/x')).body).toBe('from b')
    expect(ends).toEqual([
      {
        method: 'GET',
        path: '/x',
        status: 200,
        attempts: [
          { upstream: 'a', error: 'ECONNRESET', judged: true, ms: 0 },
          { upstream: 'b', status: 200, judged: true, ms: 0, passed: [{ upstream: 'a', reason: 'down', why: 'max_fails' }] },
        ],
        ms: 0,
        firstByteMs: 0,
        bytes: 6, // 'from b'
      },
    ])
  })

  it('records the balancer’s own answer on an error, and keeps the last `trace` requests for lb.trace()', async () => {
    const a = functionUpstream('a', 'reset')
    const b = functionUpstream('b', 'reset')
    const lb = createBalancer({ upstreams: [a, b], trace: 2, panicThreshold: 0, passive: false })
    onTestFinished(() => lb.close())
    for (let i = 0; i < 3; i++) await call(lb, `/${i}`).catch(() => {})
    const kept = lb.trace()
    expect(kept.map((t) => t.path)).toEqual(['/1', '/2'])
    expect(kept[1]).toMatchObject({ status: 502, error: 'SWY_ERR_UPSTREAM' })
    expect(kept[1]!.attempts.map((x) => x.upstream).sort()).toEqual(['a', 'b'])
    const off = createBalancer({ upstreams: [a] })
    onTestFinished(() => off.close())
    expect(off.trace()).toEqual([]) // off by default: nothing kept
  })
})

describe('the decision trace: why the others were passed over', () => {
  it('names every upstream the rules turned away for each attempt: down (and why), full, tried, backup', async () => {
    const off = functionUpstream('off')
    const busy = functionUpstream('busy', 'hang')
    const flaky = functionUpstream('flaky', 'reset')
    const ok = functionUpstream('ok')
    const spare = functionUpstream('spare')
    const lb = createBalancer({
      upstreams: [{ ...off, down: true }, { ...busy, maxConnections: 1 }, flaky, ok, { ...spare, backup: true }],
      strategy: first(),
      passive: false,
      trace: 5,
    })
    onTestFinished(() => lb.close({ timeout: 10 }))
    const ac = new AbortController()
    const hung = request('http://svc/hang', { dispatcher: lb.dispatcher, signal: ac.signal }).catch(() => {})
    await expect.poll(() => busy.hits).toBe(1) // busy is at its maxConnections now
    expect((await call(lb, '/x')).status).toBe(200)
    const trace = lb.trace().at(-1)!
    expect(trace.attempts).toEqual([
      {
        upstream: 'flaky',
        error: 'ECONNRESET',
        judged: true,
        ms: expect.any(Number),
        passed: [
          { upstream: 'off', reason: 'down', why: 'configured' },
          { upstream: 'busy', reason: 'full' },
          { upstream: 'spare', reason: 'backup' },
        ],
      },
      {
        upstream: 'ok',
        status: 200,
        judged: true,
        ms: expect.any(Number),
        passed: [
          { upstream: 'off', reason: 'down', why: 'configured' },
          { upstream: 'busy', reason: 'full' },
          { upstream: 'flaky', reason: 'tried' },
          { upstream: 'spare', reason: 'backup' },
        ],
      },
    ])
    ac.abort()
    await hung
  })

  it('lists none while every upstream is open, in a large fleet too, and names each one again once one is not', async () => {
    const ups = Array.from({ length: 200 }, (_, i) => functionUpstream(`u${i}`))
    const lb = createBalancer({ upstreams: ups, strategy: first(), passive: false, trace: 3 })
    onTestFinished(() => lb.close())
    expect((await call(lb)).status).toBe(200)
    expect(lb.trace().at(-1)!.attempts).toEqual([{ upstream: 'u0', status: 200, judged: true, ms: expect.any(Number) }])
    // One upstream marked down: every later pick names it, and only it.
    lb.update('u7', { down: true })
    expect((await call(lb)).status).toBe(200)
    expect(lb.trace().at(-1)!.attempts[0]!.passed).toEqual([{ upstream: 'u7', reason: 'down', why: 'configured' }])
    lb.update('u7', { down: false })
    expect((await call(lb)).status).toBe(200)
    expect(lb.trace().at(-1)!.attempts[0]!.passed).toBeUndefined()
  })

  it('names a retry’s tried upstream, a full one and a backup each on its own, with every other upstream open', async () => {
    const flaky = functionUpstream('flaky', 'reset')
    const ok = functionUpstream('ok')
    const retried = createBalancer({ upstreams: [flaky, ok], strategy: first(), passive: false, trace: 1 })
    onTestFinished(() => retried.close())
    expect((await call(retried)).status).toBe(200)
    expect(retried.trace()[0]!.attempts.map((a) => a.passed)).toEqual([undefined, [{ upstream: 'flaky', reason: 'tried' }]])

    const busy = functionUpstream('busy', 'hang')
    const free = functionUpstream('free')
    const limited = createBalancer({ upstreams: [{ ...busy, maxConnections: 1 }, free], strategy: first(), passive: false, trace: 2 })
    onTestFinished(() => limited.close({ timeout: 10 }))
    const ac = new AbortController()
    const hung = request('http://svc/hang', { dispatcher: limited.dispatcher, signal: ac.signal }).catch(() => {})
    await expect.poll(() => busy.hits).toBe(1)
    expect((await call(limited)).status).toBe(200)
    expect(limited.trace().at(-1)!.attempts[0]!.passed).toEqual([{ upstream: 'busy', reason: 'full' }])
    ac.abort()
    await hung

    const spare = functionUpstream('spare')
    const main = functionUpstream('main')
    const backed = createBalancer({ upstreams: [main, { ...spare, backup: true }], passive: false, trace: 1 })
    onTestFinished(() => backed.close())
    expect((await call(backed)).status).toBe(200)
    expect(backed.trace()[0]!.attempts[0]!.passed).toEqual([{ upstream: 'spare', reason: 'backup' }])
  })

  it('says why nobody could take a request that got SWY_ERR_NO_UPSTREAM', async () => {
    const a = functionUpstream('a')
    const lb = createBalancer({ upstreams: [{ id: 'a', dispatcher: a.dispatcher, down: true }], trace: 1 })
    onTestFinished(() => lb.close())
    await expect(call(lb)).rejects.toMatchObject({ code: 'SWY_ERR_NO_UPSTREAM' })
    expect(lb.trace()[0]).toMatchObject({ status: 503, error: 'SWY_ERR_NO_UPSTREAM', attempts: [], passed: [{ upstream: 'a', reason: 'down', why: 'configured' }] })
  })
})

describe('lb.report(): an application’s verdict', () => {
  it('a 200 carrying an error payload, reported as a failure, takes the upstream out like a failed request', async () => {
    const a = functionUpstream('a', { body: '{"error":"db down"}' })
    const b = functionUpstream('b', { body: '{"ok":true}' })
    const lb = createBalancer({ upstreams: [a, b], strategy: inOrder(), passive: { maxFails: 1 } })
    onTestFinished(() => lb.close())
    let last: RequestTrace | undefined
    lb.on('request:end', (t) => {
      last = t
    })
    const res = await call(lb)
    expect(res.status).toBe(200)
    if (JSON.parse(res.body).error !== undefined) lb.report(last!, 'failure')
    expect(lb.upstreams[0]).toMatchObject({ id: 'a', state: 'down', reason: 'max_fails' })
    expect((await call(lb)).body).toBe('{"ok":true}')
    lb.report('b', 'success')
    expect(() => lb.report('nope', 'failure')).toThrow(expect.objectContaining({ code: 'SWY_ERR_UNKNOWN_UPSTREAM' }))
  })
})
