import { createBalancer, type RequestTrace } from '@switchyard/core'
import { roundRobin } from '@switchyard/strategies'
import { functionUpstream, virtualClock } from '@switchyard/testing'
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
    const lb = createBalancer({ upstreams: [a, b], strategy: roundRobin({ random: () => 0 }), clock })
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
          { upstream: 'b', status: 200, judged: true, ms: 0 },
        ],
        ms: 0,
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

describe('lb.report(): an application’s verdict', () => {
  it('a 200 carrying an error payload, reported as a failure, takes the upstream out like a failed request', async () => {
    const a = functionUpstream('a', { body: '{"error":"db down"}' })
    const b = functionUpstream('b', { body: '{"ok":true}' })
    const lb = createBalancer({ upstreams: [a, b], strategy: roundRobin({ random: () => 0 }), passive: { maxFails: 1 } })
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
