export { Balancer, createBalancer } from './balancer.js'
export type { BalancerStats, CloseOptions, GlobalFetchDispatcher, RemoveOptions, RequestHandler, UpgradeHandler } from './balancer.js'
export type { FetchInfo } from './fetch.js'
export type { AttemptTrace, BalancerEvents, DownReason, PassedOver, PassReason, RequestTrace, UpReason } from './events.js'
export type { BalancedDispatcher } from './dispatcher.js'
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
} from './errors.js'
export { DEFAULTS } from './options.js'
export type {
  BalancerOptions,
  ErrorHandler,
  QueueOptions,
  RetryOptions,
  TimeoutOptions,
  UpstreamOptions,
  UpstreamTlsOptions,
} from './options.js'
export type { BreakerState, UpstreamSnapshot } from './upstream.js'
export type { HeaderMap, HeaderTransform, RewritePath } from './transforms.js'
export type { HedgeOptions } from './retry-policy.js'
export type { DnsOptions } from './dns-options.js'
export type { AttemptStartMessage, RequestEndMessage, RequestStartMessage } from './channels.js'
export type { InterceptedResponse, ResponseChange, ResponseHead, ResponseInterceptor } from './intercept.js'
export { InvalidOptionError, SwitchyardError } from '@switchyard/strategies'
export type { Candidate, Clock, Outcome, PickContext, Strategy, UpstreamState } from '@switchyard/strategies'
