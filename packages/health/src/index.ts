export {
  PassiveHealth,
  PASSIVE_DEFAULTS,
  normalizePassive,
  type PassiveOptions,
  type ResolvedPassiveOptions,
} from './passive.js'
export {
  ACTIVE_DEFAULTS,
  ActiveProber,
  activeHealthCheck,
  type ActiveHealthCheck,
  type ActiveHealthCheckOptions,
  type ProbeTarget,
  type ResolvedActiveOptions,
} from './active.js'
export {
  OUTLIER_DEFAULTS,
  OutlierDetector,
  newOutlierHost,
  outlierDetection,
  type OutlierDetection,
  type OutlierDetectionOptions,
  type OutlierHost,
  type ResolvedOutlierOptions,
  type ResolvedSuccessRateOptions,
  type SuccessRateOptions,
} from './outlier.js'
export {
  UpstreamBreaker,
  normalizeBreaker,
  type BreakerEvents,
  type BreakerOptions,
  type BreakerState,
} from './breaker.js'
export { slowStartShare } from './slow-start.js'

import type { ActiveHealthCheck } from './active.js'
import type { OutlierDetection } from './outlier.js'

/** Anything the balancer's `health` option takes. */
export type HealthCheck = ActiveHealthCheck | OutlierDetection
export { systemClock } from './clock.js'
