import { toNumber } from '../operators/numbers.js'
import type { Ctl, SetVar } from './rule.js'
import type { Transaction } from './transaction.js'

/** Collections a `setvar` may write besides TX; they live for one request here (README: not supported). */
export const PERSISTENT = new Set(['ip', 'global', 'session', 'user', 'resource', 'env'])

/*
 * What a matching rule does to its transaction besides matching: `setvar` (TX and the persistent
 * collections) and `ctl` (rules or targets taken out, the engine's mode, the body processor).
 */

/** `setvar:tx.score=+5`, `setvar:!tx.flag`, `setvar:'tx.%{rule.id}-hits=1'`. */
export function applySetVar(t: Transaction, s: SetVar): void {
  const name = s.name.indexOf('%{') === -1 ? s.name : t.expand(s.name).toLowerCase()
  let map: Map<string, string> | undefined
  if (s.collection === 'tx') map = t.tx
  else if (PERSISTENT.has(s.collection)) {
    map = t.collections.get(s.collection)
    if (map === undefined) t.collections.set(s.collection, (map = new Map()))
  } else return
  if (s.op === '!') {
    map.delete(name)
    return
  }
  const value = t.expand(s.value)
  if (s.op === '=') map.set(name, value)
  else {
    const now = toNumber(map.get(name) ?? '0')
    map.set(name, String(s.op === '=+' ? now + toNumber(value) : now - toNumber(value)))
  }
}

/** `ctl:ruleRemoveById=…`, `ctl:ruleEngine=DetectionOnly`, `ctl:requestBodyProcessor=XML`, … */
export function applyCtl(t: Transaction, c: Ctl): void {
  switch (c.kind) {
    case 'removeById':
      t.removals.removeIds(c.ranges)
      return
    case 'removeByTag':
      t.removals.removeTag(c.tag)
      return
    case 'removeTargetById':
    case 'removeTargetByTag':
      t.removals.removeTargets(c)
      return
    case 'ruleEngine':
      t.engine = c.value
      return
    case 'bodyProcessor':
      if (c.value === 'URLENCODED' || c.value === 'MULTIPART' || c.value === 'JSON' || c.value === 'XML') {
        t.vars.processor = c.value
        t.vars.changed()
      }
      return
    case 'requestBodyAccess':
      t.bodyAccess = c.on
      return
    case 'forceRequestBodyVariable':
      t.vars.forceBodyVariable = true
      t.vars.changed()
      return
  }
}
