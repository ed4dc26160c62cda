import { type Candidate, consistentHash, maglev, type Strategy } from '@switchyard/strategies'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { candidates, ctx, type TestCandidate } from './fixtures/candidates.js'

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

describe.each([
  ['consistentHash', (balanceFactor?: number) => consistentHash({ balanceFactor })],
  ['maglev', (balanceFactor?: number) => maglev({ balanceFactor })],
] as const)('%s with balanceFactor (bounded loads)', (_name, make) => {
  /** Starts `n` requests for `key` (held in flight), as the core does: count, then onStart. */
  function hold(s: Strategy, list: TestCandidate[], key: string, n: number): string[] {
    const got: string[] = []
    for (let i = 0; i < n; i++) {
      const c = s.pick(list, ctx([], 1, key)) as TestCandidate
      c.inFlight++
      s.onStart?.(c)
      got.push(c.id)
    }
    return got
  }

  it('a hot key spills to the next owners once its owner carries factor × its share, and comes back when the load ends', () => {
    const list = named(8) as TestCandidate[]
    const plain = make()
    plain.rebuild?.(list)
    const owner = plain.pick(list, ctx([], 1, 'hot'))!.id
    const s = make(1.25)
    s.rebuild?.(list)
    const got = hold(s, list, 'hot', 40)
    const counts = new Map<string, number>()
    for (const id of got) counts.set(id, (counts.get(id) ?? 0) + 1)
    expect(got[0]).toBe(owner) // with nothing in flight a key goes to its owner
    // 40 in flight over 8: a share of 5; nobody holds more than ceil(1.25 × 40 / 8) = 7.
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(7)
    expect(counts.get(owner)).toBeGreaterThanOrEqual(5)
    expect(counts.size).toBeGreaterThan(4)
    // Plain hashing sends every one of them to the owner.
    const unbounded = named(8) as TestCandidate[]
    const p = make()
    p.rebuild?.(unbounded)
    expect(new Set(hold(p, unbounded, 'hot', 40))).toEqual(new Set([owner]))
    // The load ends: the key is its owner's again.
    for (const c of list) {
      c.inFlight = 0
      s.onEnd?.(c, { ok: true, latencyMs: 1 })
    }
    expect(s.pick(list, ctx([], 1, 'hot'))!.id).toBe(owner)
  })

  it('keys of upstreams with room keep their owners while a hot key spills', () => {
    const list = named(8) as TestCandidate[]
    const s = make(1.25)
    s.rebuild?.(list)
    const plain = make()
    plain.rebuild?.(list)
    const before = KEYS.slice(0, 200).map((k) => plain.pick(list, ctx([], 1, k))!.id)
    hold(s, list, 'hot', 16)
    // One more request with 16 in flight over 8 equal upstreams: room below ceil(ceil(1.25 × 17) / 8) = 3.
    const full = new Set(list.filter((c) => c.inFlight >= 3).map((c) => c.id))
    expect(full.size).toBeGreaterThan(0)
    const after = KEYS.slice(0, 200).map((k) => s.pick(list, ctx([], 1, k))!.id)
    let moved = 0
    for (let i = 0; i < before.length; i++) {
      if (full.has(before[i]!)) {
        expect(full.has(after[i]!)).toBe(false) // a full owner's keys go to one with room
        if (after[i] !== before[i]) moved++
      } else expect(after[i]).toBe(before[i]) // the rest keep their owners
    }
    expect(moved).toBeGreaterThan(0)
  })

  it('refuses a factor of 1 or less', () => {
    expect(() => make(1)).toThrow(/balanceFactor must be a number > 1/)
    expect(() => make(0.5)).toThrow(/balanceFactor/)
  })
})
