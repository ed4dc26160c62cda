export { SwitchyardError, InvalidOptionError, type SwitchyardErrorOptions } from './errors.js'
export type {
  Affinity,
  Candidate,
  KeyFunction,
  Outcome,
  PickContext,
  RequestInfo,
  Strategy,
  StrategyDeps,
  UpstreamState,
} from './strategy.js'
export { roundRobin, type RoundRobinOptions } from './round-robin.js'
export { random, type RandomOptions } from './random.js'
export { leastConnections, type LeastConnectionsOptions } from './least-connections.js'
export { powerOfTwo, type PowerOfTwoOptions } from './power-of-two.js'
export { peakEwma, type PeakEwmaOptions } from './peak-ewma.js'
export { consistentHash, type ConsistentHashOptions } from './consistent-hash.js'
export { maglev, type MaglevOptions } from './maglev.js'
export { ipHash, type IpHashOptions } from './ip-hash.js'
export { stickyCookie, type StickyCookieOptions } from './sticky-cookie.js'
export { stickyLearn, type StickyLearnOptions } from './sticky-learn.js'
export { first } from './first.js'
export { seededRandom } from './seeded-random.js'
export { addressKey, cookieKey, headerKey, pathKey, queryKey, readCookie } from './keys.js'
export {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  checkObject,
  describeValue,
  rejectUnknownKeys,
} from './options-check.js'
export type { Clock } from './clock.js'
export {
  addressMatcher,
  clientAddress,
  canonicalAddress,
  forwardedClient,
  NONE as TRUST_NONE,
  normalizeTrustProxy,
  parseAddress,
  stripMapped,
  type TrustProxy,
  type TrustRule,
} from './trust-proxy.js'
export { refuse } from './refuse.js'
