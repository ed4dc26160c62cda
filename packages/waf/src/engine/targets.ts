import type { VariableRef } from '../seclang/parser.js'
import { collectionIndex, VARIABLES } from './request-vars.js'
import type { Target } from './rule.js'
import { txLiteralOf } from './tx-names.js'

/**
 * Collection names as the engine's own constants (engine/request-vars.ts: VARIABLES), not as the
 * parser cut them from a rule file: the engine compares them (`=== 'TX'`, an entry's collection
 * against an exclusion's) on every request, and two constants compare by identity, where a name
 * cut from a file is compared char by char.
 */
const NAMES = new Map([...VARIABLES].map((name) => [name, name]))

/** `ref` with its collection name the engine's constant, every field written out in one order. */
function canonical(ref: VariableRef): VariableRef {
  return { collection: NAMES.get(ref.collection) ?? ref.collection, key: ref.key, exclude: ref.exclude, count: ref.count }
}

/**
 * A rule's targets as it reads them: the ones it includes, resolved (engine/rule.ts: Target), the
 * `!` ones, and the one TX variable it reads when that is all. Each target is made with the same
 * fields in the same order, so all share one hidden class: made by spreading the parser's
 * reference, each of the CRS's 1 226 had one of its own (1 218 classes), and every read of a target
 * on the hot path (engine/set-lists.ts, engine/transaction.ts) was megamorphic.
 */
export function targetsOf(variables: readonly VariableRef[]): { includes: Target[]; excludes: VariableRef[]; txKey: string | undefined } {
  const includes = variables
    .filter((v) => !v.exclude)
    .map(canonical)
    .map((v): Target => ({ collection: v.collection, key: v.key, exclude: v.exclude, count: v.count, index: collectionIndex(v.collection), txLiteral: txLiteralOf(v), xml: xmlKind(v) }))
  const excludes = variables.filter((v) => v.exclude).map(canonical)
  const only = includes.length === 1 && excludes.length === 0 ? includes[0]! : undefined
  const txKey = only !== undefined && only.collection === 'TX' && !only.count && typeof only.key === 'string' ? only.key : undefined
  return { includes, excludes, txKey }
}

/** Collections that change while the rules run: a target set holding one is not shared. */
const CHANGING = new Set(['TX', 'MATCHED_VAR', 'MATCHED_VAR_NAME', 'MATCHED_VARS', 'MATCHED_VARS_NAMES', 'RULE', 'IP', 'GLOBAL', 'SESSION', 'USER', 'RESOURCE', 'ENV', 'UNIQUE_ID', 'TIME', 'TIME_EPOCH', 'DURATION'])

/**
 * The number of the target set these variables make (rules naming the same targets share one:
 * engine/set-lists.ts), or -1 for targets that change as rules run (TX, MATCHED_VARS, `&` counts).
 */
export function targetSetOf(variables: readonly VariableRef[], sets: Map<string, number>): number {
  if (variables.length === 0 || variables.some((v) => v.count || CHANGING.has(v.collection))) return -1
  const key = variables.map((v) => `${v.exclude ? '!' : ''}${v.collection}:${v.key instanceof RegExp ? `/${v.key.source}/` : (v.key ?? '')}`).join('|')
  let n = sets.get(key)
  if (n === undefined) sets.set(key, (n = sets.size))
  return n
}

/** For an `XML` target, the kind of member it reads (`//@*` the attributes, else `/*` the text); undefined for other collections. */
function xmlKind(ref: VariableRef): string | undefined {
  return ref.collection === 'XML' ? (ref.key === '//@*' ? '//@*' : '/*') : undefined
}
