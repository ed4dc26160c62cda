/**
 * Slow start (HAProxy `slowstart`, nginx Plus `slow_start`): for `durationMs` after an upstream
 * is added or comes back, its share of traffic ramps linearly from a tenth to all of it. Returns
 * the share (0.1 to 1) at `now` for an upstream up since `since`. The floor of 10% lets a
 * returning upstream warm up at once (HAProxy starts above zero as well).
 */
export function slowStartShare(now: number, since: number, durationMs: number): number {
  if (durationMs <= 0) return 1
  const elapsed = now - since
  if (elapsed >= durationMs) return 1
  return Math.max(0.1, elapsed / durationMs)
}
