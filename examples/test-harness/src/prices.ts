import { type Balancer, type BalancerOptions, createBalancer } from '@switchyard/core'
import { request } from 'undici'

/**
 * The app under test: a price client that asks a fleet of price services, through an in-process
 * balancer (client-side balancing, `lb.dispatcher`). Its promise: a price comes back while at
 * least one service works, and a service that fails is rested for 30 s.
 */
export class PriceClient {
  readonly lb: Balancer

  constructor(services: BalancerOptions['upstreams'], options: Omit<BalancerOptions, 'upstreams'> = {}) {
    this.lb = createBalancer({
      upstreams: services,
      retry: { attempts: 3, on: [502, 503] },
      passive: { maxFails: 1, failTimeout: 30_000 },
      ...options,
    })
  }

  async price(sku: string): Promise<number> {
    const res = await request(`http://prices/price/${encodeURIComponent(sku)}`, { dispatcher: this.lb.dispatcher })
    if (res.statusCode !== 200) {
      await res.body.dump()
      throw new Error(`price service answered ${res.statusCode}`)
    }
    return ((await res.body.json()) as { price: number }).price
  }

  close(): Promise<void> {
    return this.lb.close()
  }
}
