import { toNumber } from '../operators/numbers.js'
import type { OperatorScope } from '../operators/index.js'
import type { VariableRef } from '../seclang/parser.js'
import type { RuleSet } from './compile.js'
import { countEntry, Entry, isExcluded, keyMatches } from './entry.js'
import type { Fold } from './fold.js'
import type { Interruption, WafMatch } from './matches.js'
import { macroParts, macroRef } from './macros.js'
import type { RequestVars } from './request-vars.js'
import { applyCtl, applySetVar, PERSISTENT } from './effects.js'
import type { Rule, Target } from './rule.js'
import { Removals } from './removals.js'
import { SetLists } from './set-lists.js'
import { ListBuilder, NO_ENTRIES } from './lists.js'
import { txNameMatches } from './tx-names.js'
import { transformed } from './transforms.js'
import { NO_MATCH, MATCH } from './verdicts.js'

/** Collections this transaction holds (the rest are the request's, engine/request-vars.ts). */
const DYNAMIC = new Set(['TX', 'MATCHED_VAR', 'MATCHED_VAR_NAME', 'MATCHED_VARS', 'MATCHED_VARS_NAMES', 'RULE', ...[...PERSISTENT].map((c) => c.toUpperCase())])
const MAX_DATA = 120
const ONLY_NOTHING: readonly Entry[] = [new Entry('', '', '')]
/** Lists being made (engine/lists.ts): one rule's own; a count's. Shared: each is filled and taken before another begins. */
const OWN = new ListBuilder()
const COUNTED = new ListBuilder()
const NO_REFS: readonly VariableRef[] = []
/**
 * One request through the rules: its variables, TX and the other collections (per request:
 * this engine keeps no state between requests), what matched, and whether a rule stopped it.
 * Phase 1 runs on the headers; phase 2 after the body is parsed.
 */
export class Transaction implements OperatorScope {
  readonly tx = new Map<string, string>()
  readonly matches: WafMatch[] = []
  interruption: Interruption | undefined
  engine: 'on' | 'off' | 'detectiononly' = 'on'
  bodyAccess = true
  /** The persistent collections (`ip`, `session`, …), for this request only (engine/effects.ts). */
  readonly collections = new Map<string, Map<string, string>>()
  /** What this request took out of the rules (ctls, exclusions). */
  readonly removals = new Removals()
  #allowed = false
  #rule: Rule | undefined
  #matched: Entry | undefined
  #matchedData = ''
  #tested = ''
  /** The lists of the target sets rules share (engine/set-lists.ts). */
  readonly #sets: SetLists
  #matchedVars: Entry[] = []

  constructor(
    readonly rules: RuleSet,
    readonly vars: RequestVars,
  ) {
    this.#sets = new SetLists(rules, vars)
  }

  /** Takes rules out of this request (an exclusion, like `ctl:ruleRemoveById`). */
  removeRules(ranges: readonly (readonly [number, number])[]): void {
    this.removals.removeIds(ranges)
  }

  /** Takes targets out of rules for this request (like `ctl:ruleRemoveTargetById`). */
  removeTargets(ranges: readonly (readonly [number, number])[], targets: readonly VariableRef[]): void {
    this.removals.removeTargets({ kind: 'removeTargetById', ranges, targets })
  }

  /** Runs phase 1 or 2; returns whether the request may go on. */
  run(phase: 1 | 2): boolean {
    if (this.engine === 'off' || this.#allowed || this.interruption !== undefined) return this.interruption === undefined
    const steps = this.rules.phases[phase - 1]!
    const jumps = this.rules.jumps[phase - 1]!
    const folds = this.rules.folds[phase - 1]!
    const lists = this.rules.plan.steps[phase - 1]!
    const warm = this.rules.plan.warm[phase - 1]!
    for (let i = 0; i < steps.length; i++) {
      const fold = folds[i]
      if (fold !== undefined && this.removals.empty) {
        // Steps whose outcome every request shares (engine/fold.ts): their effect, not their rules.
        this.#apply(fold)
        i = fold.next - 1
        continue
      }
      // A rule (and its chain) with nothing to visit in its set's list cannot match: passed over
      // without reading it, once it has run before (its gate and slot count: engine/verdicts.ts).
      const list = lists[i]!
      if (list >= 0 && warm[i] === 1 && !this.removals.hasTargets && this.#sets.isEmpty(list)) continue
      const step = steps[i]!
      if (step.kind === 'marker') continue
      const rule = step.rule
      if (this.removals.removed(rule)) continue
      warm[i] = 1
      if (!this.#evaluate(rule)) continue
      if (this.interruption !== undefined || this.#allowed) break
      i = jumps[i]! // past its skipAfter's marker or the rules it skips (engine/compile.ts)
      if ((this.engine as string) === 'off') break
    }
    return this.interruption === undefined
  }

  #apply(fold: Fold): void {
    const writes = fold.writes
    for (let i = 0; i < writes.length; i++) {
      const [key, value] = writes[i]!
      if (value === undefined) this.tx.delete(key)
      else this.tx.set(key, value)
    }
    if (fold.matched !== undefined) {
      this.#matched = fold.matched.entry
      this.#matchedData = fold.matched.data
    }
  }

  /** Runs one rule (and its chain) on its own: at load, on TX alone (engine/fold.ts). Whether it matched, and its last match. */
  runAlone(rule: Rule): { matched: boolean; last: Fold['matched'] } {
    const matched = this.#evaluate(rule)
    return { matched, last: this.#matched === undefined ? undefined : { entry: this.#matched, data: this.#matchedData } }
  }

  /**
   * Runs a rule and its chain, as ModSecurity 3 does: each link's non-disruptive actions (setvar,
   * ctl) run at each of its matches — a link can read what the one before set — and the head's
   * log and disruptive action once the whole chain matched. True when it did.
   */
  #evaluate(head: Rule): boolean {
    if (this.#matchedVars.length !== 0) this.#matchedVars = []
    for (let r: Rule | undefined = head; r !== undefined; r = r.chained) {
      this.#rule = r
      if (r.slot >= 0) this.rules.verdicts.reach(r.slot)
      if (r.gate >= 0) this.rules.verdicts.open(r.gate)
      let matched = false
      const targets = this.#targets(r)
      const slot = r.slot
      for (let i = 0; i < targets.length; i++) {
        const entry = targets[i]!
        // The common case, inline: this rule already found nothing in this value (engine/verdicts.ts).
        if (slot >= 0) {
          const v = entry.verdicts
          if (v && v[slot] === NO_MATCH) continue
        }
        const data = this.#test(r, entry)
        if (data === null) continue
        matched = true
        this.#record(entry, data)
        for (const s of r.setvars) applySetVar(this, s)
        for (const c of r.ctls) applyCtl(this, c)
      }
      if (!matched) return false
    }
    this.#finish(head)
    return true
  }

  /** MATCHED_VAR is the value as the operator saw it, transformed (as libmodsecurity 3 and Coraza keep it). */
  #record(entry: Entry, data: string): void {
    const tested = this.#tested
    let seen = entry
    if (tested !== entry.value) {
      // The transformed value as an entry of its own, kept with the entry (a header name matched
      // lower case, request after request: made once).
      seen = entry.tested?.value === tested ? entry.tested : (entry.tested = new Entry(entry.collection, entry.key, tested))
    }
    this.#matched = seen
    this.#matchedData = data
    this.#matchedVars.push(seen)
  }

  /**
   * The operator over one value, after the rule's transformations; the matched data or null. A
   * rule that concluded "no match" on this value before (any request) is not run again.
   */
  #test(rule: Rule, entry: Entry): string | null {
    if (rule.unsupported !== undefined) return null
    const slot = rule.slot
    if ((rule.plainSkip || rule.factors >= 0) && entry.plain && (rule.plainSkip || !this.rules.prefilter.passes(entry, rule.factors))) {
      // Plain in, plain out: this rule cannot match it (engine/plain.ts), or it holds none of
      // the rule's factors (engine/factors.ts).
      if (slot >= 0 && entry.verdicts) entry.verdicts[slot] = NO_MATCH
      return null
    }
    let verdicts: Uint16Array | null | undefined
    if (slot >= 0) {
      verdicts = entry.verdicts
      if (verdicts === undefined) verdicts = entry.verdicts = this.rules.verdicts.of(entry.value) ?? null
      if (verdicts !== null && verdicts[slot] === NO_MATCH) return null
    }
    let hit: string | null
    if (rule.multiMatch) {
      // Before and after each transformation that changed the value (ModSecurity's multiMatch).
      let last = entry.value
      hit = this.#operate(rule, last)
      const path = rule.transform.path()
      for (let i = 0; i < path.length && hit === null; i++) {
        const v = transformed(entry, path[i]!)
        if (v === last) continue
        last = v
        hit = this.#operate(rule, v)
      }
    } else hit = this.#operate(rule, transformed(entry, rule.transform))
    if (verdicts) verdicts[slot] = hit === null ? NO_MATCH : MATCH
    return hit
  }

  #operate(rule: Rule, value: string): string | null {
    this.#tested = value
    const hit = rule.operator(value, this, rule.capture)
    if (rule.negated) return hit === null ? value : null
    return hit
  }

  /** The values a rule reads: its targets, less what it or a ctl takes out. */
  #targets(rule: Rule): readonly Entry[] {
    if (rule.variables.length === 0) return ONLY_NOTHING // SecAction: one run of its (unconditional) operator
    const txKey = rule.txKey
    if (txKey !== undefined && !this.removals.hasTargets) {
      // The commonest target of all (the CRS's paranoia-level gates): one TX variable, a list kept with its entry.
      const v = this.tx.get(txKey)
      return v === undefined ? NO_ENTRIES : this.rules.txEntries.alone(txKey, v)
    }
    if (rule.targetSet >= 0 && !this.removals.hasTargets) return this.#sets.of(rule)
    const excluded = this.removals.hasTargets ? this.removals.exclusions(rule) : rule.excludes
    OWN.clear()
    for (const ref of rule.includes) {
      if (ref.count) OWN.add(countEntry(ref.collection, this.#count(ref)))
      else this.#select(ref, OWN, excluded)
    }
    return OWN.take()
  }

  #count(ref: Target): number {
    if (ref.collection === 'TX') {
      const key = ref.key
      if (typeof key === 'string') return this.tx.has(key) ? 1 : 0
      if (key === undefined) return this.tx.size
      let n = 0
      for (const k of this.tx.keys()) if (txNameMatches(ref, key, k)) n++
      return n
    }
    COUNTED.clear()
    this.#select(ref, COUNTED, NO_REFS)
    return COUNTED.length
  }

  /** Adds the entries `ref` selects (less `excluded`) to `out` (for a rule's own list; shared sets: engine/set-lists.ts). */
  #select(ref: Target, out: ListBuilder, excluded: readonly VariableRef[]): void {
    const key = ref.key
    if (ref.collection === 'TX') {
      // TX is read where it stands: no list of it is built, and a variable's entry is kept while
      // its value stays (the CRS reads its paranoia level a hundred times a request: one entry,
      // one verdict lookup).
      if (typeof key === 'string') {
        const v = this.tx.get(key)
        if (v !== undefined) out.add(this.#txEntry(key, v))
        return
      }
      for (const k of this.tx.keys()) {
        if (key !== undefined && !txNameMatches(ref, key, k)) continue
        const e = this.#txEntry(k, this.tx.get(k)!)
        if (excluded.length !== 0 && isExcluded(e, excluded)) continue
        out.add(e)
      }
      return
    }
    const xml = ref.xml
    const list = ref.index === -1 ? this.#collection(ref.collection) : this.vars.source(ref, xml === undefined, undefined)
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!
      if (key !== undefined && !keyMatches(ref, e, xml)) continue
      if (excluded.length !== 0 && isExcluded(e, excluded)) continue
      out.add(e)
    }
  }

  #collection(c: string): readonly Entry[] {
    if (!DYNAMIC.has(c)) return this.vars.get(c)
    switch (c) {
      case 'TX':
        return [...this.tx].map(([k, v]) => this.#txEntry(k, v))
      case 'MATCHED_VAR':
        return this.#matched === undefined ? [] : [new Entry(c, '', this.#matched.value)]
      case 'MATCHED_VAR_NAME':
        return this.#matched === undefined ? [] : [new Entry(c, '', this.#matched.name)]
      case 'MATCHED_VARS':
        return this.#matchedVars.map((e) => new Entry(c, e.name, e.value))
      case 'MATCHED_VARS_NAMES':
        return this.#matchedVars.map((e) => new Entry(c, e.name, e.name))
      case 'RULE': {
        const r = this.#rule
        return r === undefined ? [] : [new Entry(c, 'id', String(r.id)), new Entry(c, 'msg', r.msg ?? ''), new Entry(c, 'severity', r.severity ?? '')]
      }
      default: {
        const persistent = this.collections.get(c.toLowerCase())
        if (persistent !== undefined) return [...persistent].map(([k, v]) => new Entry(c, k, v))
        return this.vars.get(c)
      }
    }
  }

  /** The head's log entry and disruptive action, once its whole chain matched. */
  #finish(head: Rule): void {
    if (head.log) {
      const matched = this.#matched
      this.matches.push({
        id: head.id,
        msg: head.msg === undefined ? '' : this.expand(head.msg),
        variable: matched?.name ?? '',
        data: this.#matchedData.slice(0, MAX_DATA),
        severity: head.severity,
        tags: head.tags,
      })
    }
    const d = head.disruptive
    if (d === 'deny' || d === 'drop' || d === 'redirect') {
      if (this.engine === 'on') this.interruption = { id: head.id, action: d }
    } else if (d === 'allow') this.#allowed = true
  }

  #txEntry(key: string, value: string): Entry {
    return this.rules.txEntries.get(key, value)
  }

  /** `%{tx.score}`, `%{MATCHED_VAR}`, `%{rule.id}`, `%{request_headers.host}`. */
  expand(text: string): string {
    if (text.indexOf('%{') === -1) return text
    const parts = macroParts(text)
    let out = parts[0]!
    for (let i = 1; i < parts.length; i += 2) out += this.#macro(parts[i]!) + parts[i + 1]!
    return out
  }

  #macro(name: string): string {
    const { collection, key } = macroRef(name)
    if (collection === 'TX' && key !== undefined) return this.tx.get(key) ?? ''
    if (collection === 'MATCHED_VAR') return this.#matched?.value ?? ''
    if (collection === 'MATCHED_VAR_NAME') return this.#matched?.name ?? ''
    const list = this.#collection(collection)
    const hit = key === undefined ? list[0] : list.find((e) => e.lower === key)
    return hit?.value ?? ''
  }

  setCaptures(groups: readonly (string | undefined)[]): void {
    for (let i = 0; i < 10; i++) {
      const g = groups[i]
      if (g === undefined) this.tx.delete(String(i))
      else this.tx.set(String(i), g)
    }
  }

  /** The inbound anomaly score, as the CRS keeps it (CRS 4, then CRS 3's names). */
  score(): number {
    return toNumber(this.tx.get('blocking_inbound_anomaly_score') ?? this.tx.get('anomaly_score') ?? this.tx.get('inbound_anomaly_score') ?? '0')
  }
}
