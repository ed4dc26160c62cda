/**
 * Envoy's panic mode, as its own small policy (YARP keeps it apart too:
 * `HealthyOrPanicDestinationsPolicy`). Which primaries the strategy picks from:
 *
 * - `'up'`: the up ones, when at least `threshold` percent of the candidates are up (or the
 *   threshold is 0, which turns panic mode off);
 * - `'all'`: all candidates, up or not, below the threshold: balancing over them beats
 *   overloading the few that are up (and with none up and no backup, it is the only chance);
 * - `'none'`: none up but a backup is: the backups take over (nginx `backup`).
 */
export function primariesInUse(up: number, candidates: number, backupsUp: number, threshold: number): 'up' | 'all' | 'none' {
  if (threshold <= 0 || up * 100 >= threshold * candidates) return 'up'
  return up > 0 || backupsUp === 0 ? 'all' : 'none'
}
