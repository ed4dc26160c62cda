import { SwitchyardError } from '@switchyard/strategies'

/** `ipFilter` refused the client's address. Answered with 403. */
export class ForbiddenError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_FORBIDDEN'
  static override readonly statusCode = 403
}

/** `rateLimit`: the key is over its rate and burst. Answered with 429 and `Retry-After`. */
export class RateLimitedError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_RATE_LIMITED'
  static override readonly statusCode = 429
}

/** `connectionLimit`: the key has `max` requests in progress. Answered with 503. */
export class TooManyConnectionsError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_TOO_MANY_CONNECTIONS'
  static override readonly statusCode = 503
}

/** `bodyLimit`: the request body is, or grew, larger than `max`. Answered with 413. */
export class PayloadTooLargeError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_PAYLOAD_TOO_LARGE'
  static override readonly statusCode = 413
}
