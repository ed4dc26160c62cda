import { describe, expect, it } from 'vitest'
import { crsSources, loadData } from '../src/crs/load.js'
import { Engine } from '../src/engine/engine.js'
import { Entry } from '../src/engine/entry.js'
import { ListBuilder, NO_ENTRIES } from '../src/engine/lists.js'
import type { Rule } from '../src/engine/rule.js'
import { SetLists } from '../src/engine/set-lists.js'
import { DEBIAN_CRS } from './helpers/firewall.js'

const e = (v: string) => new Entry('ARGS', 'a', v)

describe('ListBuilder (engine/lists.ts)', () => {
  it('gives what it was given, at that length, and starts empty again', () => {
    const b = new ListBuilder()
    const [x, y, z] = [e('1'), e('2'), e('3')]
    b.add(x)
    b.add(y)
    b.add(z)
    const first = b.take()
    expect(first).toEqual([x, y, z])
    expect(first.length).toBe(3)
    b.add(y)
    const second = b.take()
    expect(second).toEqual([y]) // the third slot it still holds is not given out
    expect(first).toEqual([x, y, z]) // a list taken is its own
  })

  it('gives the one frozen empty list for nothing, and clear drops a fill cut short', () => {
    const b = new ListBuilder()
    expect(b.take()).toBe(NO_ENTRIES)
    expect(() => (NO_ENTRIES as Entry[]).push(e('x'))).toThrow(TypeError)
    b.add(e('left over'))
    b.clear()
    expect(b.length).toBe(0)
    expect(b.take()).toBe(NO_ENTRIES)
  })
})

describe('SetLists (engine/set-lists.ts): which values a shared target set gives each rule', () => {
  const engine = new Engine(crsSources(DEBIAN_CRS), loadData)
  const rules: Rule[] = []
  for (const phase of engine.rules.phases) for (const step of phase) if (step.kind === 'rule') for (let r: Rule | undefined = step.rule; r !== undefined; r = r.chained) rules.push(r)
  // Three rules reading the same set (the CRS's ARGS|ARGS_NAMES|REQUEST_COOKIES|…): one that runs
  // on any value (934100, base64), one that cannot match a plain value, one prefiltered.
  const base64 = engine.rules.byId.get(934100)!
  const same = rules.filter((r) => r.targetSet === base64.targetSet)
  const skip = same.find((r) => r.plainSkip)!
  const prefiltered = same.find((r) => r.factors >= 0)!
  const values = (list: readonly Entry[]) => list.filter((x) => x.collection === 'ARGS').map((x) => x.value).sort()

  it('leaves out plain values for rules that cannot match one, and quiet ones for prefiltered rules', () => {
    expect(base64.plainSkip || base64.factors >= 0).toBe(false)
    expect([skip, prefiltered].every((r) => r !== undefined)).toBe(true)
    // Query values seen for the first time: a sku (plain, none of any rule's words), a plain
    // value holding a rule's word (`union`), and one that is not plain.
    const sku = `A-${Date.now()}`
    const t = engine.begin({ method: 'GET', url: `/?a=${sku}&b=union+all+${sku}&c=${sku}%3Cx`, protocol: 'HTTP/1.1', headers: ['Host', 'example.com'], remoteAddress: '192.0.2.1', remotePort: 1 })
    // What a rule asks of its set counts from its first run (engine/verdicts.ts: open).
    for (const r of [base64, skip, prefiltered]) engine.rules.verdicts.open(r.gate)
    const sets = new SetLists(engine.rules, t.vars)
    expect(values(sets.of(base64))).toEqual([sku, `${sku}<x`, `union all ${sku}`].sort())
    expect(values(sets.of(skip))).toEqual([`${sku}<x`])
    expect(values(sets.of(prefiltered))).toEqual([`${sku}<x`, `union all ${sku}`].sort())
  })
})
