import type { VariableRef } from '../seclang/parser.js'
import type { Ctl, Rule } from './rule.js'

type TargetRemoval = Extract<Ctl, { kind: 'removeTargetById' | 'removeTargetByTag' }>

/**
 * What one request took out of the rules while they ran (`ctl:ruleRemoveById`, `…ByTag`,
 * `…TargetById`, `…TargetByTag`, and the `exclusions` option): empty for most requests, and then
 * free to ask.
 */
export class Removals {
  readonly #ids: (readonly [number, number])[] = []
  readonly #tags: string[] = []
  readonly #targets: TargetRemoval[] = []

  /** Nothing taken out (the rules' folds hold: engine/fold.ts). */
  get empty(): boolean {
    return this.#ids.length === 0 && this.#tags.length === 0 && this.#targets.length === 0
  }

  get hasTargets(): boolean {
    return this.#targets.length !== 0
  }

  removeIds(ranges: readonly (readonly [number, number])[]): void {
    this.#ids.push(...ranges)
  }

  removeTag(tag: string): void {
    this.#tags.push(tag.toLowerCase())
  }

  removeTargets(removal: TargetRemoval): void {
    this.#targets.push(removal)
  }

  /** The rule is out for the rest of this request. */
  removed(rule: Rule): boolean {
    if (this.#ids.length === 0 && this.#tags.length === 0) return false
    for (const [lo, hi] of this.#ids) if (rule.id >= lo && rule.id <= hi) return true
    for (const t of this.#tags) if (rule.tags.some((x) => x.toLowerCase() === t)) return true
    return false
  }

  /** The targets the rule leaves out: its own `!` ones and what this request removed from it. */
  exclusions(rule: Rule): VariableRef[] {
    const out: VariableRef[] = [...rule.excludes]
    for (const r of this.#targets) {
      const hit = r.kind === 'removeTargetById' ? r.ranges.some(([lo, hi]) => rule.id >= lo && rule.id <= hi) : rule.tags.some((t) => t.toLowerCase() === r.tag.toLowerCase())
      if (hit) out.push(...r.targets)
    }
    return out
  }
}
