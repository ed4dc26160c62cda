import { createBalancer } from '@switchyard/core'
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { describe, expect, it, onTestFinished } from 'vitest'
import { WorkerLink } from '../src/cluster-link.js'

describe("a cluster worker's link to the primary", () => {
  it('takes any message on the IPC channel without throwing (fuzzed), and still applies a well-formed admin change after', async () => {
    const lb = createBalancer({ upstreams: ['http://127.0.0.1:5000', 'http://127.0.0.1:5001'] })
    onTestFinished(() => lb.close())
    const sent: unknown[] = []
    let deliver: (m: unknown) => void = () => {}
    const link = new WorkerLink(
      (m) => sent.push(m),
      (on) => {
        deliver = on
      },
    )
    const shared: unknown[] = []
    link.channel.subscribe((news) => shared.push(news))
    link.attach({ lb, registry: new Registry() })
    expect(sent).toEqual([{ sw: 'hello' }])
    const message = fc.oneof(
      fc.anything(),
      fc.record({ sw: fc.constantFrom('share', 'admin', 'collect', 'scraped', 'fleet', 'other'), news: fc.anything(), op: fc.anything(), id: fc.anything(), text: fc.anything(), sample: fc.anything() }, { requiredKeys: ['sw'] }),
      fc.record({ sw: fc.constant('admin'), op: fc.record({ op: fc.constantFrom('add', 'update', 'remove'), id: fc.string(), upstream: fc.anything(), change: fc.anything(), drain: fc.boolean() }) }),
    )
    fc.assert(
      fc.property(fc.array(message, { maxLength: 20 }), (list) => {
        for (const m of list) deliver(m)
      }),
      { numRuns: 300 },
    )
    deliver({ sw: 'admin', op: { op: 'add', upstream: 'http://127.0.0.1:5009' } })
    deliver({ sw: 'admin', op: { op: 'update', id: 'http://127.0.0.1:5009', change: { weight: 3 } } })
    expect(lb.upstreams.find((u) => u.id === 'http://127.0.0.1:5009')?.weight).toBe(3)
  })
})
