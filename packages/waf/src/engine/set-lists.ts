import type { VariableRef } from '../seclang/parser.js'
import { READS_ALL, READS_FACTORED, READS_NOT_PLAIN, type RuleSet } from './compile.js'
import { type Entry, isExcluded, keyMatches } from './entry.js'
import { ListBuilder } from './lists.js'
import { BODY_COLLECTIONS, type RequestVars } from './request-vars.js'
import type { Rule, Step, Target } from './rule.js'

/** The lists being made (engine/lists.ts), shared: each is filled and taken before another begins. */
const ALL = new ListBuilder()
const NOT_PLAIN = new ListBuilder()
const FACTORED = new ListBuilder()

/**
 * One request's lists of values for the target sets rules share (`ARGS|ARGS_NAMES|REQUEST_COOKIES`
 * is read by dozens of rules): each made once per request, less the values no rule reading the set
 * can match (engine/verdicts.ts), so what repeats from request to request (headers, cookies,
 * argument names) is visited by no rule. Three lists per set, made in one pass: every value; for
 * rules that cannot match a plain value, no plain value (engine/plain.ts); for prefiltered rules
 * (engine/factors.ts), no plain value that holds none of any rule's factors (a sku, a search
 * word: most values that come once), which such a rule would only visit to skip. A value with
 * verdicts stays in the last until every rule has recorded its "no match". Only the lists the
 * set's rules read are made (compile.ts: setReads).
 */
export class SetLists {
  /** Per set, its three lists, for the request's variables as of `#for`. */
  #lists: (readonly Entry[] | undefined)[] = []
  #for = -1
  /** The verdicts' epoch the lists were made in (engine/verdicts.ts). */
  #epoch = 0
  /** The body reads the lists were made after (engine/request-vars.ts: bodyReads). */
  #body = 0

  constructor(
    readonly rules: RuleSet,
    readonly vars: RequestVars,
  ) {}

  /** The list `rule` reads of its target set (`rule.targetSet` ≥ 0). */
  of(rule: Rule): readonly Entry[] {
    return this.#list(rule.targetSet * 3 + listKind(rule))
  }

  /**
   * Whether list `at` (a set × 3 + its kind, {@link SetPlan}) holds nothing: no rule reading it has
   * anything to visit. Made now if it was not yet.
   */
  isEmpty(at: number): boolean {
    return this.#list(at).length === 0
  }

  #list(at: number): readonly Entry[] {
    const epoch = this.rules.verdicts.epoch
    if (this.#for !== this.vars.version || this.#epoch !== epoch) {
      // Sized once, then emptied in place (not a new array per change).
      if (this.#lists.length === 0) this.#lists = new Array(this.rules.targetSets * 3).fill(undefined)
      else this.#lists.fill(undefined)
      this.#for = this.vars.version
      this.#epoch = epoch
      this.#body = this.vars.bodyReads
    } else if (this.#body !== this.vars.bodyReads) {
      // The body was read: only the sets reading a collection made from it are made again.
      for (const set of this.rules.plan.bodySets) this.#lists[set * 3] = this.#lists[set * 3 + 1] = this.#lists[set * 3 + 2] = undefined
      this.#body = this.vars.bodyReads
    }
    const list = this.#lists[at]
    if (list !== undefined) return list
    const set = (at / 3) | 0
    const base = set * 3
    const reads = this.rules.setReads[set]!
    // Every rule of a set names the same targets: the first one's are the set's (SetPlan).
    const rule = this.rules.plan.setRules[set]!
    ALL.clear()
    NOT_PLAIN.clear()
    FACTORED.clear()
    for (const ref of rule.includes) this.#select(ref, rule.excludes, set, reads)
    if (reads & READS_ALL) this.#lists[base] = ALL.take()
    if (reads & READS_NOT_PLAIN) this.#lists[base + 1] = NOT_PLAIN.take()
    if (reads & READS_FACTORED) this.#lists[base + 2] = FACTORED.take()
    return this.#lists[at]!
  }

  /**
   * Adds the values `ref` selects (less `excluded`) to the lists `reads` asks for. When no rule of
   * the set reads every value, the quiet values (those neither other list keeps) are not even
   * visited (engine/request-vars.ts).
   */
  #select(ref: Target, excluded: readonly VariableRef[], set: number, reads: number): void {
    const memo = this.rules.verdicts
    const prefilter = this.rules.prefilter
    const xml = ref.xml
    const slotted = memo.slotted(set)
    const list = this.vars.source(ref, xml === undefined, slotted ? memo : undefined, slotted && (reads & READS_ALL) === 0 ? prefilter : undefined)
    const all = reads & READS_ALL ? ALL : undefined
    const notPlain = reads & READS_NOT_PLAIN ? NOT_PLAIN : undefined
    const factored = reads & READS_FACTORED ? FACTORED : undefined
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!
      if (ref.key !== undefined && !keyMatches(ref, e, xml)) continue
      let v = e.verdicts
      if (v === undefined) v = e.verdicts = memo.of(e.value) ?? null
      if (v !== null && memo.clean(v, set, e.plain)) continue
      if (excluded.length !== 0 && isExcluded(e, excluded)) continue
      all?.add(e)
      if (!e.plain) {
        notPlain?.add(e)
        factored?.add(e)
      } else if (factored !== undefined && (v !== null || prefilter.any(e))) factored.add(e)
    }
  }
}

/** Which of its set's three lists a rule reads: every value (0), no plain one (1), the prefiltered ones (2). */
function listKind(rule: Rule): number {
  return rule.plainSkip ? 1 : rule.factors >= 0 ? 2 : 0
}

/**
 * What the rule set's steps read of the shared lists, found at load: per phase and step, the list
 * its rule reads (set × 3 + kind, -1 for a step reading none: a marker, TX, a rule with targets of
 * its own), and per set its first rule, whose targets every rule of the set has. With it a phase
 * passes over a rule whose list is empty without reading the rule (engine/transaction.ts: run) —
 * most of the CRS on most requests, once each of those rules has run once (`warm`: its gate
 * opened and its slot reached, engine/verdicts.ts).
 */
export class SetPlan {
  readonly steps: readonly [Int32Array, Int32Array]
  readonly setRules: Rule[] = []
  /** The sets reading a collection made from the body (engine/request-vars.ts: BODY_COLLECTIONS). */
  readonly bodySets: number[] = []
  /** Per phase and step, 1 once its rule has run in some request (engine-wide). */
  readonly warm: readonly [Uint8Array, Uint8Array]

  constructor(phases: readonly [readonly Step[], readonly Step[]]) {
    const lists = (steps: readonly Step[]): Int32Array => {
      const out = new Int32Array(steps.length).fill(-1)
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i]!
        if (step.kind !== 'rule') continue
        for (let r: Rule | undefined = step.rule; r !== undefined; r = r.chained) if (r.targetSet >= 0) this.setRules[r.targetSet] ??= r
        if (step.rule.targetSet >= 0) out[i] = step.rule.targetSet * 3 + listKind(step.rule)
      }
      return out
    }
    this.steps = [lists(phases[0]), lists(phases[1])]
    this.setRules.forEach((r, set) => {
      if (r.includes.some((ref) => BODY_COLLECTIONS.has(ref.collection))) this.bodySets.push(set)
    })
    this.warm = [new Uint8Array(phases[0].length), new Uint8Array(phases[1].length)]
  }
}
