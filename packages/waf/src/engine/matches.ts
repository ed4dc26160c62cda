/** What inspecting a request reports: the rules that matched, and the one that stopped it. */

/** One rule that matched, as `onMatch` reports it: never sent to the client. */
export interface WafMatch {
  readonly id: number
  readonly msg: string
  /** The variable that matched: `ARGS:q`, `REQUEST_HEADERS:User-Agent`. */
  readonly variable: string
  /** What the operator matched (the start of it, at most 120 bytes). */
  readonly data: string
  readonly severity: string | undefined
  readonly tags: readonly string[]
}

/** Why a transaction stopped: the rule whose disruptive action ran. */
export interface Interruption {
  readonly id: number
  readonly action: 'deny' | 'drop' | 'redirect'
}
