/**
 * `@switchyard/health`: what an app calls to configure upstream health. The checks are made here
 * and handed to `createBalancer({ health })`; passive accounting and breakers are plain options of
 * the balancer, typed here. The machinery that runs them lives in `@switchyard/health/internal`.
 */
export { activeHealthCheck, type ActiveHealthCheck, type ActiveHealthCheckOptions } from './active.js'
export {
  outlierDetection,
  type OutlierDetection,
  type OutlierDetectionOptions,
  type SuccessRateOptions,
  type FailurePercentageOptions,
} from './outlier.js'
export type { PassiveOptions } from './passive.js'
export type { BreakerOptions, BreakerState } from './breaker.js'

import type { ActiveHealthCheck } from './active.js'
import type { OutlierDetection } from './outlier.js'

/** Anything the balancer's `health` option takes. */
export type HealthCheck = ActiveHealthCheck | OutlierDetection
