export { Balancer, createBalancer } from './balancer.js'
export type { BalancerStats, CloseOptions, GlobalFetchDispatcher, RemoveOptions, RequestHandler, UpgradeHandler } from './balancer.js'
export type { FetchInfo } from './entry/fetch.js'
export type { UpstreamHead } from './entry/preview.js'
export { AUTO_LISTENERS, type Listening, type ListenOptions, listenShared, reusePortUnavailable } from './entry/listen.js'
export type { AttemptTrace, BalancerEvents, DownReason, PassedOver, PassReason, RequestTrace, UpReason } from './config/events.js'
export type { BalancedDispatcher } from './entry/dispatcher.js'
export {
  BadRequestError,
  BodyConsumedError,
  CallbackError,
  ClientAbortedError,
  ClientTimeoutError,
  ClosedError,
  DuplicateUpstreamError,
  HeadersTooLargeError,
  InterceptorError,
  InternalError,
  MethodNotSupportedError,
  NoUpstreamError,
  QueueFullError,
  QueueTimeoutError,
  ResponseTooLargeError,
  UnknownUpstreamError,
  UpgradeUnhandledError,
  UpstreamError,
  UpstreamTimeoutError,
  VersionNotSupportedError,
} from './config/errors.js'
export { DEFAULTS } from './config/defaults.js'
export type { BalancerOptions, ErrorHandler, QueueOptions, RetryOptions, TimeoutOptions } from './config/types.js'
export type { UpstreamOptions, UpstreamTlsOptions } from './config/upstream-types.js'
export type { BreakerState, UpstreamSnapshot } from './fleet/upstream.js'
export type { HeaderMap, HeaderTransform, RewritePath } from './config/types.js'
export type { HedgeOptions, MirrorOptions } from './config/traffic-types.js'
export type { ShareChannel, ShareNews, ShareSource } from './config/share-types.js'
export type { MirrorStats } from './exchange/mirror.js'
export type { AdaptiveConcurrencyOptions } from './config/adaptive.js'
export type { CompressOptions } from './config/compress.js'
export type { CacheOptions } from './config/cache.js'
export type { BufferingOptions } from './config/buffering.js'
export type { DnsOptions } from './config/upstream-types.js'
export type { AttemptStartMessage, RequestEndMessage, RequestStartMessage } from './exchange/channels.js'
export type { InterceptedResponse, ResponseChange, ResponseHead, ResponseInterceptor } from './config/interceptor-types.js'
export { InvalidOptionError, SwitchyardError } from '@switchyard/strategies'
export type { Candidate, Clock, Outcome, PickContext, Strategy, UpstreamState } from '@switchyard/strategies'
