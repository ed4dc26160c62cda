import type { Operator } from '../operators/index.js'
import type { VariableRef } from '../seclang/parser.js'
import type { TransformNode } from './transforms.js'


/**
 * A target a rule reads, resolved at load: `index` is the collection's place in the request's
 * variables (engine/request-vars.ts), -1 for one the transaction holds (TX, MATCHED_VAR, …).
 */
export interface Target extends VariableRef {
  readonly index: number
  /** For a TX key regex that asks only for a literal, at the start or anywhere: that literal (engine/tx-names.ts). */
  readonly txLiteral: { readonly text: string; readonly anchored: boolean } | undefined
  /** For an `XML` target, the kind of member it reads (engine/targets.ts: xmlKind); undefined for other collections. */
  readonly xml: string | undefined
}

/** What a rule does when it stops the request. */
export type Disruptive = 'deny' | 'drop' | 'block' | 'pass' | 'allow' | 'redirect'

/** `setvar:tx.a=+5`: the collection and name (the name in lower case unless it holds a macro), the change. */
export interface SetVar {
  readonly collection: string
  readonly name: string
  readonly op: '=' | '=+' | '=-' | '!'
  readonly value: string
}

/** `ctl:ruleRemoveTargetById=942100;ARGS:pw` and the other changes a rule makes to its own transaction. */
export type Ctl =
  | { readonly kind: 'removeById'; readonly ranges: readonly (readonly [number, number])[] }
  | { readonly kind: 'removeByTag'; readonly tag: string }
  | { readonly kind: 'removeTargetById'; readonly ranges: readonly (readonly [number, number])[]; readonly targets: readonly VariableRef[] }
  | { readonly kind: 'removeTargetByTag'; readonly tag: string; readonly targets: readonly VariableRef[] }
  | { readonly kind: 'ruleEngine'; readonly value: 'on' | 'off' | 'detectiononly' }
  | { readonly kind: 'bodyProcessor'; readonly value: string }
  | { readonly kind: 'forceRequestBodyVariable' }
  | { readonly kind: 'requestBodyAccess'; readonly on: boolean }

/** One compiled rule; `chained` is the next rule of its chain. */
export interface Rule {
  readonly id: number
  /** 1 (headers) or 2 (body); response phases are not run. */
  readonly phase: number
  readonly file: string
  readonly line: number
  readonly variables: readonly VariableRef[]
  /** The targets read (`variables` without the `!` ones). */
  readonly includes: readonly Target[]
  /** The one TX variable the rule reads (`TX:paranoia_level`), when that is all it reads. */
  readonly txKey: string | undefined
  /** The `!` targets, taken out of what `includes` selects. */
  readonly excludes: readonly VariableRef[]
  /**
   * Rules reading the same request variables share a number: what they select is built once per
   * request (and again after the body is read). -1 for targets that change as rules run (TX,
   * MATCHED_VARS, `&` counts).
   */
  readonly targetSet: number
  readonly operatorName: string
  /** The operator's parameter as written (its macros: engine/fold.ts). */
  readonly param: string
  readonly operator: Operator
  readonly negated: boolean
  readonly transform: TransformNode
  readonly multiMatch: boolean
  readonly capture: boolean
  readonly disruptive: Disruptive | undefined
  readonly log: boolean
  readonly setvars: readonly SetVar[]
  readonly ctls: readonly Ctl[]
  readonly skipAfter: string | undefined
  readonly skip: number
  readonly msg: string | undefined
  readonly logdata: string | undefined
  readonly severity: string | undefined
  readonly tags: readonly string[]
  readonly chained: Rule | undefined
  /**
   * This rule's place in every value's verdicts (engine/verdicts.ts) when its outcome on a value
   * depends on nothing else (no macro in its parameter); -1 when it must always run.
   */
  readonly slot: number
  /**
   * Its place among the rules reading a target set (engine/verdicts.ts: open): what it asks of the
   * set counts from the first time a request reaches it; -1 for a rule reading no target set. Set
   * once, at load (compile.ts: gatesOf).
   */
  gate: number
  /** It cannot match a plain value, so it is not run on one (engine/plain.ts). */
  readonly plainSkip: boolean
  /** Its prefilter number: it runs on a plain value only if the value holds one of its factors (engine/factors.ts); -1 for none. */
  readonly factors: number
  /** Why the engine cannot run it (the rule never matches), if it cannot. */
  readonly unsupported: string | undefined
}

/** A phase's program: rules in order, markers where they stand. */
export type Step = { readonly kind: 'rule'; readonly rule: Rule } | { readonly kind: 'marker'; readonly name: string }
