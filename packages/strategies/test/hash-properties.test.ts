import { type Candidate, consistentHash, maglev, type Strategy } from '@switchyard/strategies'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { candidates, ctx } from './fixtures/candidates.js'

const KEYS = Array.from({ length: 4_000 }, (_, i) => `user-${i * 7919}`)

function assign(s: Strategy, list: readonly Candidate[]): string[] {
  return KEYS.map((key) => s.pick(list, ctx([], 1, key))!.id)
}

/** Keys whose upstream differs between a strategy built on `before` and one built on `after`. */
function movedKeys(make: () => Strategy, before: readonly Candidate[], after: readonly Candidate[]) {
  const s1 = make()
  s1.rebuild?.(before)
  const s2 = make()
  s2.rebuild?.(after)
  const a = assign(s1, before)
  const b = assign(s2, after)
  return KEYS.flatMap((_, i) => (a[i] === b[i] ? [] : [{ from: a[i]!, to: b[i]! }]))
}

function named(n: number, offset = 0): Candidate[] {
  return candidates(Array.from({ length: n }, () => 1)).map((c, i) => ({ ...c, id: `up-${i + offset}`, index: i + offset }))
}

// Tolerances: the ring's remap share has a spread of about sqrt(points) per upstream, Maglev's
// table fill moves a few keys beyond the minimum (Eisenbud et al. 2016, section 5.3).
describe.each([
  ['consistentHash', () => consistentHash(), 0.06],
  ['maglev', () => maglev({ tableSize: 65_537 }), 0.06],
] as const)('%s properties', (_name, make, tolerance) => {
  it('maps a key to the same upstream every time and in every instance', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.string(), (n, key) => {
        const list = named(n)
        const a = make()
        const b = make()
        a.rebuild?.(list)
        b.rebuild?.(list)
        const c = ctx([], 1, key)
        const once = a.pick(list, c)!.id
        const again = a.pick(list, c)!.id // picks have no side effect on where a key goes
        return once === b.pick(list, c)!.id && once === again
      }),
      { numRuns: 50 },
    )
  })

  it('adding one of n upstreams moves about 1/n of the keys, all of them to the new one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 24 }), (n) => {
        const before = named(n)
        const moved = movedKeys(make, before, [...before, ...named(1, n)])
        if (_name === 'consistentHash' && moved.some((m) => m.to !== `up-${n}`)) return false
        return moved.length / KEYS.length <= 1 / (n + 1) + tolerance
      }),
      { numRuns: 12 },
    )
  })

  it('removing one of n upstreams moves about 1/n of the keys', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 24 }), fc.nat(), (n, pick) => {
        const before = named(n)
        const gone = before[pick % n]!
        const moved = movedKeys(make, before, before.filter((c) => c !== gone))
        // On the ring only the removed one's keys move.
        if (_name === 'consistentHash' && moved.some((m) => m.from !== gone.id)) return false
        return moved.length / KEYS.length <= 1 / n + tolerance
      }),
      { numRuns: 12 },
    )
  })

  it('passes a down upstream’s keys on, and only those, and takes them back when it returns', () => {
    const all = named(5)
    const s = make()
    s.rebuild?.(all)
    const full = assign(s, all)
    const without = all.filter((c) => c.id !== 'up-2')
    const partial = assign(s, without)
    for (let i = 0; i < KEYS.length; i++) {
      if (full[i] !== 'up-2') expect(partial[i]).toBe(full[i])
      else expect(partial[i]).not.toBe('up-2')
    }
    expect(assign(s, all)).toEqual(full)
  })

  it('spreads keys evenly (each of 8 within 25% of 1/8)', () => {
    const list = named(8)
    const s = make()
    s.rebuild?.(list)
    const counts = new Map<string, number>()
    for (const id of assign(s, list)) counts.set(id, (counts.get(id) ?? 0) + 1)
    for (const c of counts.values()) expect(Math.abs(c / KEYS.length - 1 / 8)).toBeLessThan(0.25 / 8)
  })
})
