/**
 * `@switchyard/health/internal`: the machinery `@switchyard/core` runs. It is published because
 * the core imports it, but it is not the public API: no semver promise, and an app never needs
 * it (it configures health through `createBalancer`'s options and the two check factories).
 */
export { PassiveHealth, PASSIVE_DEFAULTS, normalizePassive, type ResolvedPassiveOptions } from './passive.js'
export { ACTIVE_DEFAULTS, ActiveProber, type ProbeTarget, type ResolvedActiveOptions } from './active.js'
export {
  OUTLIER_DEFAULTS,
  OutlierDetector,
  newOutlierHost,
  type OutlierHost,
  type ResolvedOutlierOptions,
  type ResolvedSuccessRateOptions,
  type ResolvedFailurePercentageOptions,
} from './outlier.js'
export { UpstreamBreaker, normalizeBreaker, type BreakerEvents } from './breaker.js'
export { slowStartShare } from './slow-start.js'
export { systemClock } from './clock.js'
