import { WafRuleError } from '../errors.js'
import { OPERATORS, type Operator, UNSUPPORTED_OPERATORS } from '../operators/index.js'
import { type ParsedDirective, type ParsedRule, parseActions, parseVariables, type VariableRef } from '../seclang/parser.js'
import { type Transformation, TRANSFORMATIONS } from '../transformations/index.js'
import { readActions, readIdRanges, type RuleActions } from './actions.js'
import { VARIABLES } from './request-vars.js'
import { KeptEntries, TxEntries } from './entry.js'
import type { Fold } from './fold.js'
import { type Gate, Verdicts } from './verdicts.js'
import { matchesPlain, PLAIN_TRANSFORMS } from './plain.js'
import { operatorFactors, SUBSTRING_TRANSFORMS } from './factors.js'
import { Prefilter } from './prefilter.js'
import { phraseList } from '../operators/pm.js'
import type { Disruptive, Rule, Step } from './rule.js'
import { TransformTree } from './transforms.js'
import { SetPlan } from './set-lists.js'
import { targetSetOf, targetsOf } from './targets.js'

/** A rule the engine loaded but cannot run, and why (it never matches). */
export interface UnsupportedRule {
  readonly id: number
  readonly file: string
  readonly line: number
  readonly reason: string
}

/** The request phases' programs, every rule by id, and what could not be run. */
export interface RuleSet {
  /** Steps of phase 1 and phase 2 (markers in both, where they stand). */
  readonly phases: readonly [readonly Step[], readonly Step[]]
  /**
   * Per phase and step, the last step a matched rule passes over: its `skipAfter`'s marker (or the
   * end), the last rule its `skip` skips, or itself. The phase goes on from the step after it.
   */
  readonly jumps: readonly [Int32Array, Int32Array]
  readonly byId: ReadonlyMap<number, Rule>
  readonly unsupported: readonly UnsupportedRule[]
  /** Rules of the response phases (3-5), loaded and not run: this engine inspects requests. */
  readonly responseRules: number
  /** How many distinct target sets rules share (Rule.targetSet). */
  readonly targetSets: number
  /**
   * Per target set, which lists of it the rules reached so far read ({@link READS_ALL},
   * {@link READS_NOT_PLAIN}, {@link READS_FACTORED}); grows as rules are reached (engine/verdicts.ts: open).
   */
  readonly setReads: Uint8Array
  /** What the steps read of the shared lists (engine/set-lists.ts). */
  readonly plan: SetPlan
  /** What each rule with a slot concluded about values seen before. */
  readonly verdicts: Verdicts
  /** TX variables' entries, shared by every request (engine/entry.ts). */
  readonly txEntries: TxEntries
  /** The rules' factors, for plain values (engine/prefilter.ts). */
  readonly prefilter: Prefilter
  /** Request entries shared across requests (engine/entry.ts). */
  readonly keptEntries: KeptEntries
  /** Per phase and step, what it does for every request when that is known at load (engine/fold.ts; set by the engine). */
  folds: readonly (readonly (Fold | undefined)[])[]
}

interface Defaults {
  disruptive: Disruptive | undefined
  transforms: string[]
  log: boolean
}

/** Reads a data file (`@pmFromFile`) named relative to the rule file that names it. */
export type DataLoader = (name: string, ruleFile: string) => string

/**
 * Compiles parsed directives, in load order, into the two request phases' programs. Directives
 * that change earlier rules (`SecRuleRemoveById`, `SecRuleUpdateTargetById`, …) apply to the rules
 * loaded before them, as in ModSecurity.
 */
/** `plain: false` runs every rule on every value (engine/plain.ts; tests compare the two). */
export function compile(directives: readonly ParsedDirective[], load: DataLoader, options: { plain?: boolean } = {}): RuleSet {
  const tree = new TransformTree()
  const defaults = new Map<number, Defaults>()
  const order: (number | { kind: 'marker'; name: string })[] = []
  const byId = new Map<number, Rule>()
  const unsupported: UnsupportedRule[] = []
  const removed = new Set<number>()
  const extraTargets = new Map<number, VariableRef[]>()
  let responseRules = 0
  const slots = { next: 0 }
  const sets = new Map<string, number>()
  const prefilter = new Prefilter(options.plain !== false)
  // Removals and target updates apply once every rule is loaded, wherever they stand (so the
  // `rules` option, loaded before the CRS, can remove CRS rules).
  const later: Extract<ParsedDirective, { kind: 'config' }>[] = []
  const state: ConfigState = { byId, removed, extraTargets, defaults }

  for (const d of directives) {
    if (d.kind === 'marker') {
      order.push({ kind: 'marker', name: d.name })
      continue
    }
    if (d.kind === 'config') {
      const name = d.name.toLowerCase()
      if (name === 'secdefaultaction' || name === 'secruleengine') applyConfig(d, state)
      else later.push(d)
      continue
    }
    const rule = compileRule(d, undefined, defaults, tree, load, unsupported, slots, sets, prefilter)
    if (byId.has(rule.id)) throw new WafRuleError(`${d.file}:${d.line}: rule id ${rule.id} is used twice`, { file: d.file, line: d.line })
    byId.set(rule.id, rule)
    if (rule.phase > 2) responseRules++
    order.push(rule.id)
  }

  for (const d of later) applyConfig(d, state)
  const phases: [Step[], Step[]] = [[], []]
  for (const item of order) {
    if (typeof item !== 'number') {
      phases[0].push(item)
      phases[1].push(item)
      continue
    }
    const current = byId.get(item)!
    if (removed.has(item) || current.phase > 2) continue
    const extra = extraTargets.get(item)
    const variables = extra === undefined ? current.variables : [...current.variables, ...extra]
    const rule = extra === undefined ? current : { ...current, variables, ...targetsOf(variables), targetSet: targetSetOf(variables, sets) }
    byId.set(rule.id, rule)
    phases[rule.phase - 1]!.push({ kind: 'rule', rule })
  }
  for (const id of removed) byId.delete(id)
  prefilter.build()
  const setSlots = setSlotsOf(phases, sets.size, false)
  const setReads = new Uint8Array(sets.size) // filled as rules are reached (gatesOf)
  const verdicts = new Verdicts(slots.next, setSlots, setSlotsOf(phases, sets.size, true), collectionSetsOf(phases, setSlots), gatesOf(phases), setReads)
  return { phases, jumps: [jumpsOf(phases[0]), jumpsOf(phases[1])], byId, unsupported: unsupported.filter((u) => byId.has(u.id)), responseRules, verdicts, txEntries: new TxEntries(), prefilter, keptEntries: new KeptEntries(verdicts), targetSets: sets.size, setReads, plan: new SetPlan(phases), folds: [[], []] }
}

/** A rule reads every value of its target set; only the values that are not plain; those and the plain ones that hold a factor. */
export const READS_ALL = 1
export const READS_NOT_PLAIN = 2
export const READS_FACTORED = 4

/**
 * Gives each rule reading a target set its gate (Rule.gate): what it asks of its set (which list,
 * and whether the set's values can be left out by verdicts) counts from the first time a request
 * reaches it (engine/verdicts.ts: open). A rule no request reaches (a higher paranoia level, a
 * chain whose head never matches: the CRS's `@gt %{tx.arg_length}` when no limit is set) costs
 * its set nothing.
 */
function gatesOf(phases: readonly (readonly Step[])[]): Gate[] {
  const gates: Gate[] = []
  for (const steps of phases) {
    for (const step of steps) {
      if (step.kind !== 'rule') continue
      for (let r: Rule | undefined = step.rule; r !== undefined; r = r.chained) {
        if (r.targetSet < 0) continue
        r.gate = gates.length
        // An unsupported rule never runs its operator: it needs its list, not every value.
        gates.push({ set: r.targetSet, reads: r.plainSkip ? READS_NOT_PLAIN : r.factors >= 0 ? READS_FACTORED : READS_ALL, slot: r.slot, slotless: r.slot < 0 && r.unsupported === undefined })
      }
    }
  }
  return gates
}

function jumpsOf(steps: readonly Step[]): Int32Array {
  const out = new Int32Array(steps.length)
  for (let i = 0; i < steps.length; i++) {
    out[i] = i
    const step = steps[i]!
    if (step.kind !== 'rule') continue
    const rule = step.rule
    let j = i
    if (rule.skipAfter !== undefined) {
      j = i + 1
      while (j < steps.length) {
        const s = steps[j]!
        if (s.kind === 'marker' && s.name === rule.skipAfter) break
        j++
      }
    } else {
      // `skip:n`: the next n rules (a chain counts as one; markers do not count).
      let left = rule.skip
      while (left > 0 && j + 1 < steps.length) if (steps[++j]!.kind === 'rule') left--
    }
    out[i] = j
  }
  return out
}

/** Per target set, the slots of the rules (and chained rules) that read it (a rule without one: engine/verdicts.ts, open). */
/** Per request collection, the target sets reading it whose every rule has a slot (engine/verdicts.ts). */
function collectionSetsOf(phases: readonly (readonly Step[])[], setSlots: readonly (readonly number[] | null)[]): number[][] {
  const out: Set<number>[] = []
  for (const steps of phases) {
    for (const step of steps) {
      if (step.kind !== 'rule') continue
      for (let r: Rule | undefined = step.rule; r !== undefined; r = r.chained) {
        if (r.targetSet < 0 || setSlots[r.targetSet] == null) continue
        for (const ref of r.includes) if (ref.index >= 0) (out[ref.index] ??= new Set()).add(r.targetSet)
      }
    }
  }
  return Array.from({ length: Math.max(out.length, 0) }, (_, i) => [...(out[i] ?? [])])
}

function setSlotsOf(phases: readonly (readonly Step[])[], count: number, plain: boolean): (number[] | null)[] {
  const out: (number[] | null)[] = Array.from({ length: count }, () => [])
  for (const steps of phases) {
    for (const step of steps) {
      if (step.kind !== 'rule') continue
      for (let r: Rule | undefined = step.rule; r !== undefined; r = r.chained) {
        const s = r.targetSet
        if (s < 0 || r.unsupported !== undefined) continue // an unsupported rule never matches
        if (plain && r.plainSkip) continue // nor does this one, on a plain value
        const list = out[s]
        if (list === null || list === undefined) continue
        // A rule without a slot takes its set's verdicts away only once reached (gatesOf).
        if (r.slot >= 0 && !list.includes(r.slot)) list.push(r.slot)
      }
    }
  }
  return out
}

function compileRule(d: ParsedRule, parent: { id: number; phase: number } | undefined, defaults: Map<number, Defaults>, tree: TransformTree, load: DataLoader, unsupported: UnsupportedRule[], slots: { next: number }, sets: Map<string, number>, prefilter: Prefilter): Rule {
  const at = { file: d.file, line: d.line }
  const where = `${d.file}:${d.line}`
  const a: RuleActions = readActions(d.actions, at)
  if (parent === undefined && a.id === undefined) throw new WafRuleError(`${where}: the rule has no id`, at)
  if (parent !== undefined && (a.id !== undefined || a.phase !== undefined)) {
    if (a.phase !== undefined) throw new WafRuleError(`${where}: a chained rule cannot set its own phase`, at)
  }
  const id = parent?.id ?? a.id!
  const phase = parent?.phase ?? a.phase ?? 2
  const def = defaults.get(phase)
  const names = [...(a.clearsDefaults || def === undefined ? [] : def.transforms), ...a.transforms]
  const list: [string, Transformation][] = names.map((n) => {
    const fn = TRANSFORMATIONS.get(n)
    if (fn === undefined) throw new WafRuleError(`${where}: t:${n} is not a transformation this engine knows`, at)
    return [n, fn]
  })
  for (const v of d.variables) {
    if (!VARIABLES.has(v.collection)) throw new WafRuleError(`${where}: ${v.collection} is not a variable this engine knows`, at)
  }
  let reason: string | undefined
  let operator: Operator = () => null
  const opName = d.operator.name.toLowerCase()
  const factory = OPERATORS.get(opName)
  if (factory === undefined) {
    const why = UNSUPPORTED_OPERATORS.get(opName)
    if (why === undefined) throw new WafRuleError(`${where}: @${d.operator.name} is not an operator this engine knows`, at)
    reason = `@${d.operator.name} is not run (${why})`
  } else {
    try {
      operator = factory(d.operator.param, (name) => load(name, d.file))
    } catch (cause) {
      if (cause instanceof WafRuleError) throw new WafRuleError(`${where}: ${cause.message}`, { ...at, cause })
      if (opName !== 'rx') throw new WafRuleError(`${where}: @${d.operator.name} ${d.operator.param}: ${(cause as Error).message}`, { ...at, cause })
      reason = `its expression does not compile as a JavaScript RegExp (${(cause as Error).message})`
    }
  }
  const chained = d.chained === undefined ? undefined : compileRule(d.chained, { id, phase }, defaults, tree, load, unsupported, slots, sets, prefilter)
  if (reason !== undefined && parent === undefined) unsupported.push({ id, file: d.file, line: d.line, reason })
  else if (reason !== undefined) unsupported.push({ id, file: d.file, line: d.line, reason: `a chained rule: ${reason}` })
  return {
    id,
    phase,
    file: d.file,
    line: d.line,
    variables: d.variables,
    ...targetsOf(d.variables),
    targetSet: targetSetOf(d.variables, sets),
    operatorName: opName,
    param: d.operator.param,
    operator,
    negated: d.operator.negated,
    transform: tree.intern(list),
    multiMatch: a.multiMatch,
    capture: a.capture,
    disruptive: parent === undefined ? resolveBlock(a.disruptive ?? def?.disruptive, def) : undefined,
    log: a.log ?? def?.log ?? true,
    setvars: a.setvars,
    ctls: a.ctls,
    skipAfter: a.skipAfter,
    skip: a.skip,
    msg: a.msg,
    logdata: a.logdata,
    severity: a.severity,
    tags: a.tags,
    chained,
    ...plainOf(opName, d, names, reason === undefined, load, prefilter),
    slot: d.operator.param.includes('%{') || reason !== undefined || opName === 'unconditionalmatch' ? -1 : slots.next++,
    gate: -1, // given by gatesOf, once the phases are known
    unsupported: reason,
  }
}

/** Whether the rule cannot match a plain value, and else its factors (engine/plain.ts, engine/factors.ts). */
function plainOf(op: string, d: ParsedRule, transforms: readonly string[], runs: boolean, load: DataLoader, prefilter: Prefilter): { plainSkip: boolean; factors: number } {
  if (!runs || d.operator.negated || !prefilter.enabled) return { plainSkip: false, factors: -1 }
  let list: string[] | undefined // read once, for both questions below
  const phrases = (): string[] => (list ??= phraseList(op === 'pmf' ? 'pmfromfile' : op, d.operator.param, (name) => load(name, d.file)))
  if (transforms.every((n) => PLAIN_TRANSFORMS.has(n)) && !matchesPlain(op, d.operator.param, phrases)) return { plainSkip: true, factors: -1 }
  if (!transforms.every((n) => SUBSTRING_TRANSFORMS.has(n))) return { plainSkip: false, factors: -1 }
  const factors = operatorFactors(op, d.operator.param, phrases)
  if (factors === null) return { plainSkip: false, factors: -1 }
  if (factors.length === 0) return { plainSkip: true, factors: -1 }
  return { plainSkip: false, factors: prefilter.add(factors) }
}

/** `block` does what the phase's `SecDefaultAction` says (the CRS's anomaly mode: `pass`); without one, `pass`. */
function resolveBlock(d: Disruptive | undefined, def: Defaults | undefined): Disruptive | undefined {
  if (d !== 'block') return d
  const fallback = def?.disruptive
  return fallback === undefined || fallback === 'block' ? 'pass' : fallback
}

interface ConfigState {
  byId: Map<number, Rule>
  removed: Set<number>
  extraTargets: Map<number, VariableRef[]>
  defaults: Map<number, Defaults>
}

function applyConfig(d: Extract<ParsedDirective, { kind: 'config' }>, s: ConfigState): void {
  const at = { file: d.file, line: d.line }
  const where = `${d.file}:${d.line}`
  const fail = (m: string): never => {
    throw new WafRuleError(`${where}: ${m}`, at)
  }
  const name = d.name.toLowerCase()
  const rules = [...s.byId.values()]
  const byTag = (tag: string) => rules.filter((r) => r.tags.some((t) => t.toLowerCase() === tag.toLowerCase()))
  const byIds = (text: string) => {
    const ranges = readIdRanges(text, fail)
    return rules.filter((r) => ranges.some(([lo, hi]) => r.id >= lo && r.id <= hi))
  }
  const addTargets = (list: Rule[], text: string | undefined) => {
    if (text === undefined) fail(`${d.name} needs targets`)
    const targets = parseVariables(text!, where, at)
    for (const r of list) s.extraTargets.set(r.id, [...(s.extraTargets.get(r.id) ?? []), ...targets])
  }
  switch (name) {
    case 'secdefaultaction': {
      const a = readActions(parseActions(d.args[0] ?? '', where, at), at)
      s.defaults.set(a.phase ?? 2, { disruptive: a.disruptive, transforms: a.transforms, log: a.log ?? true })
      return
    }
    case 'secruleengine':
      return
    case 'secruleremovebyid':
      for (const arg of d.args) for (const r of byIds(arg)) s.removed.add(r.id)
      return
    case 'secruleremovebytag':
      for (const r of d.args.flatMap(byTag)) s.removed.add(r.id)
      return
    case 'secruleremovebymsg':
      for (const r of rules.filter((r) => d.args.includes(r.msg ?? '\0'))) s.removed.add(r.id)
      return
    case 'secruleupdatetargetbyid':
      addTargets(byIds(d.args[0] ?? fail('SecRuleUpdateTargetById needs a rule id')), d.args[1])
      return
    case 'secruleupdatetargetbytag':
      addTargets(byTag(d.args[0] ?? fail('SecRuleUpdateTargetByTag needs a tag')), d.args[1])
      return
    case 'secruleupdatetargetbymsg':
      addTargets(rules.filter((r) => r.msg === d.args[0]), d.args[1])
      return
    case 'secruleupdateactionbyid': {
      const list = byIds(d.args[0] ?? fail('SecRuleUpdateActionById needs a rule id'))
      const a = readActions(parseActions(d.args[1] ?? '', where, at), at)
      for (const r of list) {
        const updated: Rule = { ...r, disruptive: a.disruptive ?? r.disruptive, log: a.log ?? r.log, severity: a.severity ?? r.severity, msg: a.msg ?? r.msg, setvars: a.setvars.length > 0 ? a.setvars : r.setvars, tags: [...r.tags, ...a.tags] }
        s.byId.set(r.id, updated)
      }
      return
    }
    default:
      fail(`${d.name} is not handled`)
  }
}
