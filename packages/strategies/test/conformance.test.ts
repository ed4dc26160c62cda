import type { Candidate, PickContext, Strategy } from '@switchyard/strategies'
import { describe, expect, it } from 'vitest'
import { candidates, seeded, type TestCandidate } from './fixtures/candidates.js'
import { STRATEGIES as FACTORIES } from './fixtures/factories.js'

function ctx(i: number, tried: ReadonlySet<string> = new Set(), keyed = false): PickContext {
  return { attempt: 1, accept: (c) => !tried.has(c.id), key: keyed ? `client-${i}` : undefined }
}

/**
 * A closed-loop simulation: each picked request stays in flight for the next `hold` picks, then
 * ends with a latency that grows with the upstream's load. Returns picks per id.
 */
function simulate(s: Strategy, list: TestCandidate[], picks: number, keyed: boolean, clock: { t: number }): Map<string, number> {
  const counts = new Map<string, number>()
  const pending: { c: TestCandidate; end: number }[] = []
  const hold = 8
  for (let i = 0; i < picks; i++) {
    clock.t += 1
    while (pending.length && pending[0]!.end <= i) {
      const { c } = pending.shift()!
      c.inFlight--
      s.onEnd?.(c, { ok: true, status: 200, latencyMs: 5 + c.inFlight })
    }
    const c = s.pick(list, ctx(i, new Set(), keyed)) as TestCandidate
    c.inFlight++ // as the core: counted first, then onStart
    s.onStart?.(c)
    pending.push({ c, end: i + hold })
    counts.set(c.id, (counts.get(c.id) ?? 0) + 1)
  }
  return counts
}

describe.each(FACTORIES)('%s conformance', (name, make, traits) => {
  const fresh = (seed = 1) => {
    const clock = { t: 0 }
    return { s: make(seeded(seed), () => clock.t), clock }
  }

  it('returns undefined for an empty list', () => {
    const { s } = fresh()
    s.rebuild?.([])
    expect(s.pick([], ctx(0))).toBeUndefined()
  })

  it('picks the only upstream, and nothing once it is tried', () => {
    const { s } = fresh()
    const list = candidates([3])
    s.rebuild?.(list)
    for (let i = 0; i < 5; i++) expect(s.pick(list, ctx(i, new Set(), traits.keyed))?.id).toBe('a')
    expect(s.pick(list, ctx(0, new Set(['a']), traits.keyed))).toBeUndefined()
  })

  it('never picks an upstream already tried, nor one outside the eligible list', () => {
    const { s } = fresh()
    const all = candidates([1, 2, 1, 1])
    s.rebuild?.(all)
    const eligible = all.filter((c) => c.id !== 'd')
    for (let i = 0; i < 200; i++) {
      const picked = s.pick(eligible, ctx(i, new Set(['a']), traits.keyed))
      expect(picked).toBeDefined()
      expect(['b', 'c']).toContain(picked!.id)
    }
    expect(s.pick(eligible, ctx(0, new Set(['a', 'b', 'c']), traits.keyed))).toBeUndefined()
  })

  it('keeps no state across a rebuild', () => {
    let source = seeded(7)
    const clock = { t: 0 }
    const used = make(() => source(), () => clock.t)
    const list = candidates([2, 1, 1])
    used.rebuild?.(list)
    simulate(used, list, 300, traits.keyed, clock)
    source = seeded(99)
    clock.t = 0
    used.rebuild?.(list)
    const clean = make(seeded(99), () => 0)
    clean.rebuild?.(list)
    const seq = (s: Strategy) => Array.from({ length: 40 }, (_, i) => s.pick(list, ctx(i, new Set(), traits.keyed))!.id).join('')
    expect(seq(used)).toBe(seq(clean))
  })

  it('is deterministic for a given random source', () => {
    const list = candidates([2, 1, 3])
    const run = () => {
      const { s, clock } = fresh(42)
      s.rebuild?.(list.map((c) => ({ ...c })))
      const l2 = list.map((c) => ({ ...c }))
      s.rebuild?.(l2)
      return [...simulate(s, l2, 500, traits.keyed, clock)].sort().join()
    }
    expect(run()).toBe(run())
  })

  it('picks without rebuild having been called (a custom core may skip it)', () => {
    const { s } = fresh()
    const list = candidates([1, 1])
    expect(['a', 'b']).toContain(s.pick(list, ctx(0))!.id)
  })

  it(`has the name ${name} would show in stats`, () => {
    expect(fresh().s.name).toMatch(/^[a-z-]+$/)
  })
})

// `first` ignores weights by design (as HAProxy's); its packing is tested in first.test.ts.
describe.each(FACTORIES.filter(([, , t]) => t.weighted))('%s weights', (_name, make, traits) => {
  it('honours weights (3:1 within a stated tolerance)', () => {
    const clock = { t: 0 }
    const s = make(seeded(1), () => clock.t)
    const list = candidates([3, 1])
    s.rebuild?.(list)
    const counts = simulate(s, list, 8_000, traits.keyed, clock)
    const share = (counts.get('a') ?? 0) / 8_000
    // Expected 0.75. Tolerance 0.1: hash strategies spread 8 000 keys, load-aware ones react to
    // in-flight counts, and sampling ones draw at random.
    expect(share).toBeGreaterThan(0.65)
    expect(share).toBeLessThan(0.85)
  })

})

export type { Candidate }
