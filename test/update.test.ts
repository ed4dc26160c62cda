import { createBalancer, type BalancerEvents } from '@switchyard/core'
import { functionUpstream, inOrder } from '@switchyard/testing'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'

async function bodies(lb: ReturnType<typeof createBalancer>, n: number): Promise<string> {
  let out = ''
  for (let i = 0; i < n; i++) out += await (await request('http://svc/', { dispatcher: lb.dispatcher })).body.text()
  return out
}

describe('lb.update(id, { weight, down }): an operator’s change to a live upstream', () => {
  it('changes the weight the strategy balances by, and marks an upstream down and up again', async () => {
    const a = functionUpstream('a', { body: 'a' })
    const b = functionUpstream('b', { body: 'b' })
    const lb = createBalancer({ upstreams: [a, b], strategy: inOrder() })
    onTestFinished(() => lb.close())
    const events: string[] = []
    lb.on('upstream:down', (e: BalancerEvents['upstream:down']) => events.push(`down ${e.id} ${e.reason}`))
    lb.on('upstream:up', (e: BalancerEvents['upstream:up']) => events.push(`up ${e.id} ${e.reason}`))
    expect(await bodies(lb, 4)).toBe('abab')
    expect(lb.update('a', { weight: 3 })).toMatchObject({ id: 'a', weight: 3 })
    expect([...(await bodies(lb, 8))].filter((x) => x === 'a')).toHaveLength(6)
    expect(lb.update('b', { down: true })).toMatchObject({ state: 'down', reason: 'configured' })
    expect(await bodies(lb, 3)).toBe('aaa')
    lb.update('b', { down: false })
    expect((await bodies(lb, 8)).includes('b')).toBe(true)
    expect(events).toEqual(['down b configured', 'up b configured'])
  })

  it('refuses an unknown id or a bad change', () => {
    const lb = createBalancer({ upstreams: [functionUpstream('a')] })
    onTestFinished(() => lb.close())
    expect(() => lb.update('x', { down: true })).toThrow(expect.objectContaining({ code: 'SWY_ERR_UNKNOWN_UPSTREAM' }))
    expect(() => lb.update('a', { weight: 0 })).toThrow(expect.objectContaining({ code: 'SWY_ERR_INVALID_OPTION' }))
    expect(() => lb.update('a', { wieght: 2 } as never)).toThrow(/did you mean change.weight/)
  })
})
