import { type Balancer, type BalancerOptions, createBalancer } from '@switchyard/core'
import { onTestFinished } from 'vitest'
import { serve } from './upstream.js'

/** Makes a balancer, serves its handler on 127.0.0.1:0, and closes both after the test. */
export async function startProxy(options: BalancerOptions): Promise<{ lb: Balancer; url: string }> {
  const lb = createBalancer(options)
  onTestFinished(() => lb.close({ timeout: 1_000 }))
  const { url } = await serve(lb.handler)
  return { lb, url }
}
