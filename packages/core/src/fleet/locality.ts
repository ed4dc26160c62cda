import type { Upstream } from './upstream.js'

/**
 * Envoy's zone-aware routing, as its own small policy, for one eligible list: how much of this
 * balancer's traffic stays in its own zone. This balancer's instances are taken to be spread over
 * the zones as the list's upstreams are (Envoy reads it from the local cluster; here the upstreams
 * stand for it): the local zone's expected share is its upstreams over all. While the local zone
 * has at least that share of the up upstreams, all traffic stays local; when fewer of its
 * upstreams are up, the local share falls in proportion and the rest goes to the other zones.
 */
export interface ZoneSplit {
  readonly local: Upstream[]
  readonly others: Upstream[]
  /** The share of requests sent to `local` first, 0 to 1. */
  readonly localShare: number
}

/** The split of `up` (the list's up upstreams, of `candidates`) for zone `zone`, or undefined when it does not apply. */
export function zoneSplit(zone: string, minUpstreams: number, candidates: readonly Upstream[], up: readonly Upstream[]): ZoneSplit | undefined {
  if (candidates.length < minUpstreams || up.length === 0) return undefined
  let localTotal = 0
  for (const u of candidates) if (u.zone === zone) localTotal++
  if (localTotal === 0 || localTotal === candidates.length) return undefined // nothing local, or nothing else
  const local: Upstream[] = []
  const others: Upstream[] = []
  for (const u of up) (u.zone === zone ? local : others).push(u)
  const expected = localTotal / candidates.length
  const actual = local.length / up.length
  return { local, others, localShare: Math.min(1, actual / expected) }
}
