/** Seeded randomness for the simulator: the same seed gives the same run (mulberry32, from the strategies package). */
export { seededRandom } from '@switchyard/strategies'

/** A standard normal draw (Box-Muller). */
export function normal(random: () => number): number {
  const u = 1 - random() // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())
}

/** An exponential draw with the given mean: Poisson arrivals' gaps. */
export function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean
}
