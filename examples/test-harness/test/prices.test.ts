import { fakeUpstream, functionUpstream, inOrder, virtualClock } from '@switchyard/testing'
import { describe, expect, it, onTestFinished } from 'vitest'
import { PriceClient } from '../src/prices.js'

const price = (value: number) => ({ body: JSON.stringify({ price: value }) })

describe('examples/test-harness: the price client proves its own failover with @switchyard/testing', () => {
  it('keeps answering while one price service crashes and comes back (real sockets)', async () => {
    const a = await fakeUpstream({ name: 'a', answer: price(10) })
    const b = await fakeUpstream({ name: 'b', answer: price(10) })
    onTestFinished(() => Promise.all([a.close(), b.close()]).then(() => {}))
    const client = new PriceClient([a.url, b.url])
    onTestFinished(() => client.close())

    await a.kill() // a crashes: connections refused
    for (let i = 0; i < 6; i++) expect(await client.price('sku-1')).toBe(10)
    expect(b.hits).toBe(6) // every price came from b
    await a.restart()
    expect(client.lb.upstreams[0]!.state).toBe('down') // rested for its failTimeout
  })

  it('retries a 503 on the other service, and rests a failing one for exactly 30 s (virtual clock, no ports)', async () => {
    const clock = virtualClock()
    const a = functionUpstream('a', price(7))
    const b = functionUpstream('b', price(7))
    // A seeded round robin: a goes first, so the test knows who answers the 503.
    const client = new PriceClient([a, b], { clock, strategy: inOrder() })
    onTestFinished(() => client.close())

    a.script({ status: 503 })
    const pending = client.price('sku-2')
    await expect.poll(() => clock.pending).toBe(1) // the retry's back-off, on the virtual clock
    clock.advance(25) // Envoy's base back-off: the first retry waits at most 25 ms
    expect(await pending).toBe(7) // the first 503 was retried on the other service
    a.script('reset')
    b.script('reset')
    await expect(client.price('sku-3')).rejects.toThrow() // both fail: both rested
    expect(client.lb.upstreams.map((u) => u.state)).toEqual(['down', 'down'])
    clock.advance(29_999)
    expect(client.lb.upstreams.map((u) => u.state)).toEqual(['down', 'down'])
    clock.advance(1)
    expect(client.lb.upstreams.map((u) => u.state)).toEqual(['up', 'up'])
    expect(await client.price('sku-4')).toBe(7)
  })
})
