/**
 * Seeded randomness for the simulator: the same seed gives the same run. mulberry32 (a 32-bit
 * state, period 2^32): fast and good enough to drive arrivals and latencies, not for cryptography.
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

/** A standard normal draw (Box-Muller). */
export function normal(random: () => number): number {
  const u = 1 - random() // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
}

/** An exponential draw with the given mean: Poisson arrivals' gaps. */
export function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean
}
