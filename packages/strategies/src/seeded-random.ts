/**
 * A seeded random source, for deterministic tests and simulations: the same seed gives the same
 * draws. mulberry32 (a 32-bit state, period 2^32): fast and good enough to drive strategies,
 * arrivals and latencies, not for cryptography. Pass it as a strategy's and the balancer's
 * `random`.
 *
 * @example
 * const random = seededRandom(42)
 * createBalancer({ upstreams, random, strategy: powerOfTwo({ random }) })
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}
