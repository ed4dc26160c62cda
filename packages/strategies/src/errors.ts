/**
 * The error classes every Switchyard package builds on. They live in the lowest package so that
 * the core, health and guard packages share one base class.
 *
 * Match errors on `code`, which never changes once shipped. `instanceof` also works across two
 * installed copies of the package, because classes are branded with a `Symbol.for` key.
 */

const kBrand = Symbol.for('switchyard.error')

/** Options accepted by every Switchyard error. */
export interface SwitchyardErrorOptions {
  /** The error that caused this one (an undici or socket error, say). */
  cause?: unknown
  /** The option path at fault, for option errors: `upstreams[1].weight`. */
  field?: string
  /** The HTTP status the proxy handler answers with, when it differs from the class's. */
  statusCode?: number
}

/**
 * Base class of every error Switchyard throws or reports.
 *
 * @example
 * try { createBalancer({ upstreams: [] }) } catch (err) {
 *   if (err instanceof SwitchyardError && err.code === 'SWY_ERR_INVALID_OPTION') console.error(err.field)
 * }
 */
export class SwitchyardError extends Error {
  /** Stable code, `SWY_ERR_<WHAT>`. */
  static readonly code: string = 'SWY_ERR_GENERIC'
  /** The HTTP status the proxy handler answers with for errors of this class, if it answers. */
  static readonly statusCode: number | undefined = undefined
  /**
   * The message a client sees in the JSON error body, when the instance's own message may name
   * upstreams (addresses) and must not be shown. Unset: the instance's message is shown.
   */
  static readonly publicMessage: string | undefined = undefined
  readonly code: string
  readonly field: string | undefined
  readonly statusCode: number | undefined
  declare readonly [kBrand]: true

  constructor(message: string, options: SwitchyardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = (new.target as typeof SwitchyardError).code
    this.field = options.field
    this.statusCode = options.statusCode ?? (new.target as typeof SwitchyardError).statusCode
    Object.defineProperty(this, kBrand, { value: true })
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (value === null || typeof value !== 'object' || (value as Record<symbol, unknown>)[kBrand] !== true) {
      return false
    }
    // The base class matches every branded error; a subclass matches its own code.
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class instanceof was asked about
    return this === SwitchyardError || (value as SwitchyardError).code === this.code
  }
}

/** An option is missing, of the wrong type, out of range, or unknown. Thrown at creation time. */
export class InvalidOptionError extends SwitchyardError {
  static override readonly code = 'SWY_ERR_INVALID_OPTION'
}
