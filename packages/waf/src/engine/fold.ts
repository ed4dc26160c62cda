import type { Entry } from './entry.js'
import { macroParts, macroRef } from './macros.js'
import type { Rule, Step } from './rule.js'

/**
 * A run of steps whose outcome is the same for every request, found at load: where to go on from,
 * what it leaves in TX, and the last value it matched (MATCHED_VAR for the rules after it).
 */
export interface Fold {
  /** The step to run next (the phase's length: the end). */
  readonly next: number
  /** TX variables set (a value) or removed (undefined), in order. */
  readonly writes: readonly (readonly [string, string | undefined])[]
  readonly matched: { readonly entry: Entry; readonly data: string } | undefined
}

/** What a rule read only from TX does when run alone on TX's values: for {@link foldPhases}. */
export type RunAlone = (rule: Rule, tx: ReadonlyMap<string, string>) => { matched: boolean; tx: Map<string, string>; last: Fold['matched'] }

const UNKNOWN = Symbol('unknown')
const ABSENT = Symbol('absent')
type Known = string | typeof ABSENT
type Value = Known | typeof UNKNOWN

/** TX as the rules can find it at a step, over every way a request gets there. */
class TxState {
  constructor(
    readonly values = new Map<string, Value>(),
    /** Names starting with these are unknown (a `setvar` whose name comes from the request: `tx.942100-…-%{matched_var_name}`). */
    readonly unknownPrefixes: string[] = [],
  ) {}

  get(key: string): Value {
    const v = this.values.get(key)
    if (v !== undefined) return v
    for (const p of this.unknownPrefixes) if (key.startsWith(p)) return UNKNOWN
    return ABSENT
  }

  copy(): TxState {
    return new TxState(new Map(this.values), [...this.unknownPrefixes])
  }

  forget(prefix: string): void {
    if (!this.unknownPrefixes.includes(prefix)) this.unknownPrefixes.push(prefix)
    for (const k of this.values.keys()) if (k.startsWith(prefix)) this.values.delete(k)
  }

  /** What both ways can leave: a value both agree on, else unknown. */
  join(other: TxState): TxState {
    const out = new TxState(new Map(), [...new Set([...this.unknownPrefixes, ...other.unknownPrefixes])])
    for (const k of new Set([...this.values.keys(), ...other.values.keys()])) {
      const a = this.get(k)
      out.values.set(k, a === other.get(k) ? a : UNKNOWN)
    }
    return out
  }
}

/** Macros a rule read only from TX may use: TX variables, its own match, its id. */
function macroKeys(text: string): string[] | null {
  const parts = macroParts(text)
  const keys: string[] = []
  for (let i = 1; i < parts.length; i += 2) {
    const { collection, key } = macroRef(parts[i]!)
    if (collection === 'TX' && key !== undefined) keys.push(key)
    else if (!((collection === 'MATCHED_VAR' || collection === 'MATCHED_VAR_NAME') && key === undefined) && !(collection === 'RULE' && key === 'id')) return null
  }
  return keys
}

/** `%{rule.id}`: known at load. */
function isRuleId(name: string): boolean {
  const { collection, key } = macroRef(name)
  return collection === 'RULE' && key === 'id'
}

/** A setvar name's text up to its first macro other than `rule.id` (its id, known at load), lower case. */
function namePrefix(name: string, rule: Rule): { prefix: string; whole: boolean } {
  const parts = macroParts(name)
  let prefix = parts[0]!
  for (let i = 1; i < parts.length; i += 2) {
    if (!isRuleId(parts[i]!)) return { prefix: prefix.toLowerCase(), whole: false }
    prefix += String(rule.id) + parts[i + 1]!
  }
  return { prefix: prefix.toLowerCase(), whole: true }
}

/**
 * What a rule (with its chain) reads, when it reads TX alone: the TX variables its targets and its
 * operator's parameter name (`reads`) and the ones its setvars' values name (`uses`). Null for a
 * rule that reads the request, captures, changes the rules (ctl), writes another collection or a
 * TX name that is not known at load, or cannot run.
 */
function txOnly(head: Rule): { reads: string[]; uses: string[] } | null {
  const reads: string[] = []
  const uses: string[] = []
  for (let r: Rule | undefined = head; r !== undefined; r = r.chained) {
    if (r.unsupported !== undefined || r.capture || r.ctls.length !== 0 || r.excludes.length !== 0) return null
    for (const t of r.includes) {
      if (t.collection !== 'TX' || typeof t.key !== 'string') return null
      reads.push(t.key)
    }
    const param = macroKeys(r.param)
    if (param === null) return null
    reads.push(...param)
    for (const s of r.setvars) {
      if (s.collection !== 'tx' || !namePrefix(s.name, r).whole) return null
      const keys = macroKeys(s.value)
      if (keys === null) return null
      uses.push(...keys)
      // What it adds to, subtracts from or removes must be known too.
      if (s.op !== '=') uses.push(namePrefix(s.name, r).prefix)
    }
  }
  return { reads, uses }
}

/** `state` after a rule that cannot be decided at load ran: every TX name it may write made unknown. */
function forgotten(before: TxState, head: Rule): TxState {
  const state = before.copy()
  for (let r: Rule | undefined = head; r !== undefined; r = r.chained) {
    if (r.capture) for (let i = 0; i < 10; i++) state.values.set(String(i), UNKNOWN)
    for (const s of r.setvars) {
      if (s.collection !== 'tx') continue
      const { prefix, whole } = namePrefix(s.name, r)
      if (whole) state.values.set(prefix, UNKNOWN)
      else state.forget(prefix)
    }
  }
  return state
}

/**
 * Constant propagation over the rules, at load: TX as every request finds it at each step (the
 * CRS's setup, its defaults, the paranoia level), through both phases and every skip. A rule that
 * reads only TX variables known there, and neither logs nor stops the request when it matches, has
 * one outcome for every request: it is run once here, and each request applies what it did (TX
 * writes, where to go on) instead of running it. Runs of such steps fold into one (the CRS's
 * paranoia-level gates skip whole files: about a hundred rule visits per request at PL1).
 *
 * Sound for every request as long as nothing is taken out of the rules while they run (a `ctl`
 * or an exclusion: the transaction then runs every rule, engine/transaction.ts): a value is known
 * at a step only if every way there leaves the same, and a rule that reads the request makes what
 * it writes unknown from there on.
 */
export function foldPhases(phases: readonly (readonly Step[])[], jumps: readonly Int32Array[], runAlone: RunAlone): (Fold | undefined)[][] {
  let start: TxState | undefined = new TxState()
  const out: (Fold | undefined)[][] = []
  for (let p = 0; p < phases.length; p++) {
    const steps = phases[p]!
    const n = steps.length
    const states: (TxState | undefined)[] = new Array(n + 1)
    states[0] = start
    const reach = (j: number, s: TxState): void => {
      const at = Math.min(j, n)
      states[at] = states[at] === undefined ? s : states[at]!.join(s)
    }
    const single: (Fold | undefined)[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const state = states[i]
      if (state === undefined) continue // no request gets here
      const step = steps[i]!
      if (step.kind === 'marker') {
        reach(i + 1, state)
        continue
      }
      const rule = step.rule
      const deps = txOnly(rule)
      if (deps === null || !deps.reads.every((k) => state.get(k) !== UNKNOWN)) {
        // A chain that fails part way has run its first links' setvars (engine/transaction.ts).
        const failed = rule.chained === undefined && !rule.capture ? state : forgotten(state, rule)
        reach(i + 1, failed)
        reach(jumps[p]![i]! + 1, forgotten(state, rule))
        continue
      }
      const tx = new Map<string, string>()
      for (const [k, v] of state.values) if (typeof v === 'string') tx.set(k, v)
      const run = runAlone(rule, tx)
      const next = run.matched ? jumps[p]![i]! + 1 : i + 1
      const stops = rule.disruptive === 'deny' || rule.disruptive === 'drop' || rule.disruptive === 'redirect' || rule.disruptive === 'allow'
      if ((run.matched && (rule.log || stops)) || !deps.uses.every((k) => state.get(k) !== UNKNOWN)) {
        // Its outcome is known, its effects are the request's to make: run it each time.
        reach(next, forgotten(state, rule))
        continue
      }
      const writes: [string, string | undefined][] = []
      for (const [k, v] of run.tx) if (tx.get(k) !== v) writes.push([k, v])
      for (const k of tx.keys()) if (!run.tx.has(k)) writes.push([k, undefined])
      const after = state.copy()
      for (const [k, v] of writes) after.values.set(k, v === undefined ? ABSENT : v)
      // Matched or not: a chain's first links may have matched (setvars run, MATCHED_VAR set).
      single[i] = { next, writes, matched: run.last }
      reach(next, after)
    }
    out.push(chain(steps, single))
    start = states[n]
    if (start === undefined) break
  }
  while (out.length < phases.length) out.push([])
  return out
}

/** Each folded step with the folded steps (and markers) it leads to, as one. */
function chain(steps: readonly Step[], single: readonly (Fold | undefined)[]): (Fold | undefined)[] {
  const n = steps.length
  const out: (Fold | undefined)[] = new Array(n)
  for (let i = n - 1; i >= 0; i--) {
    const f = single[i]
    if (f === undefined) continue
    let next = f.next
    while (next < n && steps[next]!.kind === 'marker') next++
    const then = next < n ? out[next] : undefined
    out[i] = then === undefined ? { ...f, next } : { next: then.next, writes: [...f.writes, ...then.writes], matched: then.matched ?? f.matched }
  }
  return out
}
