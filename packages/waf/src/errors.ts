import { SwitchyardError, type SwitchyardErrorOptions } from '@switchyard/strategies'

/**
 * A rule file, or a `rules` text, that cannot be read: a directive the engine does not know how to
 * parse, a quoted argument left open, a regular expression that does not compile, a data file
 * missing, a CRS directory without its rules. Thrown by `waf()` at start; `file` and `line` say
 * where, and the message begins with them.
 */
export class WafRuleError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_WAF_RULE'
  readonly file: string | undefined
  readonly line: number | undefined
  constructor(message: string, options: SwitchyardErrorOptions & { file?: string; line?: number } = {}) {
    super(message, options)
    this.file = options.file
    this.line = options.line
  }
}

/** The WAF refused the request (`mode: 'block'`): its anomaly score reached the threshold, or a rule denied it. Answered with 403; the rules are in `onMatch`, never in the answer. */
export class WafBlockedError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_WAF_BLOCKED'
  static override readonly statusCode = 403
}

/** The request body is larger than the WAF's `bodyLimit`, so it cannot be inspected whole. Answered with 413. */
export class WafBodyLimitError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_WAF_BODY_LIMIT'
  static override readonly statusCode = 413
}

/** The client sent no request body bytes for the WAF's `bodyTimeout` while it waited to inspect the body (nginx's client_body_timeout). Answered with 408. */
export class WafBodyTimeoutError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_WAF_BODY_TIMEOUT'
  static override readonly statusCode = 408
}
