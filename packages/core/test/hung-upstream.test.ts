import { Agent, request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream, serveBalancer } from '@switchyard/testing'

describe('one hung upstream of two under 50 clients (issue 22)', () => {
  it('every idempotent request that timed out on it is retried on the other: 0 errors, as nginx proxy_next_upstream timeout', async () => {
    // Accepts connections, reads requests, never answers: as a SIGSTOPped process looks from outside.
    const hung = await fakeUpstream({ name: 'hung', answer: 'hang' })
    const ok = await fakeUpstream({ name: 'ok' })
    const { lb, url } = await serveBalancer({ upstreams: [hung.url, ok.url], timeouts: { headers: 300 }, retry: { attempts: 2 } })
    const agent = new Agent({ connections: 50 })
    onTestFinished(() => agent.close())
    const statuses: number[] = []
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        for (let i = 0; i < 6; i++) {
          const res = await request(`${url}/item`, { dispatcher: agent })
          await res.body.dump()
          statuses.push(res.statusCode)
        }
      }),
    )
    expect(statuses).toHaveLength(300)
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect(hung.hits).toBeGreaterThanOrEqual(20) // the first wave did reach it, and timed out together
    expect(lb.upstreams.find((u) => u.id === new URL(hung.url).origin)?.state).toBe('down')
  })
})
