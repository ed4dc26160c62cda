import { normal } from './random.js'

/** How long an upstream takes to serve one request, ms, before capacity queueing. */
export type Latency =
  | { readonly kind: 'fixed'; readonly ms: number }
  /** Median `medianMs`, log-standard-deviation `sigma` (0.5 gives p99 ≈ 3.2 × median). */
  | { readonly kind: 'lognormal'; readonly medianMs: number; readonly sigma: number }
  /** `fastMs` most of the time, `slowMs` with probability `pSlow` (a GC pause, a cache miss). */
  | { readonly kind: 'bimodal'; readonly fastMs: number; readonly slowMs: number; readonly pSlow: number }

export const fixed = (ms: number): Latency => ({ kind: 'fixed', ms })
export const lognormal = (medianMs: number, sigma = 0.5): Latency => ({ kind: 'lognormal', medianMs, sigma })
export const bimodal = (fastMs: number, slowMs: number, pSlow: number): Latency => ({ kind: 'bimodal', fastMs, slowMs, pSlow })

/** One draw from `latency`, ms. */
export function sample(latency: Latency, random: () => number): number {
  switch (latency.kind) {
    case 'fixed':
      return latency.ms
    case 'lognormal':
      return latency.medianMs * Math.exp(latency.sigma * normal(random))
    case 'bimodal':
      return random() < latency.pSlow ? latency.slowMs : latency.fastMs
  }
}
