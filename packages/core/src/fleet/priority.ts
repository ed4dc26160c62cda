/**
 * Envoy's priority load, as its own small policy: how traffic is shared among priority levels from
 * their health. A level's health is the share of its upstreams that are up, times the
 * overprovisioning factor 1.4, at most 100%; level 0 takes its health's worth of the traffic, the
 * next level its own of what is left, and so on. When the levels' health falls short of 100% in
 * all, the loads are scaled up in proportion (Envoy's normalized total health), so all the traffic
 * still goes somewhere.
 */

/** Envoy's default overprovisioning factor (1.4): a level 72% up still takes all the traffic. */
export const OVERPROVISIONING = 1.4

/**
 * Each level's share of traffic in percent, from its up and total counts, level 0 first. The
 * shares add up to 100 (or are all 0 when nothing is up).
 */
export function priorityLoads(up: readonly number[], total: readonly number[]): number[] {
  const health = up.map((n, i) => (total[i] === 0 ? 0 : Math.min(100, (100 * OVERPROVISIONING * n) / total[i]!)))
  const sum = health.reduce((a, b) => a + b, 0)
  if (sum === 0) return health
  if (sum < 100) return health.map((h) => (h * 100) / sum)
  let left = 100
  return health.map((h) => {
    const load = Math.min(h, left)
    left -= load
    return load
  })
}
