import { InvalidOptionError, roundRobin } from '@switchyard/strategies'
import { describe, expect, it } from 'vitest'
import { candidates, ctx, sequence } from './fixtures/candidates.js'

const zero = () => 0

describe('roundRobin()', () => {
  // Sequences from nginx's smooth weighted round robin (ngx_http_upstream_get_peer).
  it.each([
    { weights: [5, 1, 1], expected: 'aabacaa'.repeat(3) },
    { weights: [1, 1, 1], expected: 'abcabcabc' },
    { weights: [2, 1], expected: 'abaaba' },
    { weights: [3, 2], expected: 'ababa'.repeat(2) },
    { weights: [4, 2, 1], expected: 'abacaba' },
    { weights: [1], expected: 'aaaa' },
  ])('weights $weights give $expected', ({ weights, expected }) => {
    const list = candidates(weights)
    const rr = roundRobin({ random: zero })
    rr.rebuild?.(list)
    expect(sequence(rr, list, expected.length)).toBe(expected)
  })

  it('gives the nginx sequence without a rebuild too', () => {
    const list = candidates([5, 1, 1])
    expect(sequence(roundRobin(), list, 7)).toBe('aabacaa')
  })

  it('honours weights over a long run', () => {
    const list = candidates([5, 3, 2])
    const rr = roundRobin()
    rr.rebuild?.(list)
    const s = sequence(rr, list, 1000)
    expect([...s].filter((x) => x === 'a').length).toBe(500)
    expect([...s].filter((x) => x === 'b').length).toBe(300)
    expect([...s].filter((x) => x === 'c').length).toBe(200)
  })

  it('returns undefined for no candidates, and skips tried ones', () => {
    const rr = roundRobin({ random: zero })
    expect(rr.pick([], ctx())).toBeUndefined()
    const equal = candidates([1, 1, 1])
    rr.rebuild?.(equal)
    expect(rr.pick(equal, ctx(['a', 'b']))?.id).toBe('c')
    expect(rr.pick(equal, ctx(['a', 'b', 'c']))).toBeUndefined()
    const weighted = candidates([5, 1, 1])
    rr.rebuild?.(weighted)
    expect(rr.pick(weighted, ctx(['a']))?.id).toBe('b')
    expect(rr.pick(weighted, ctx(['a', 'b', 'c']))).toBeUndefined()
  })

  it('starts at a random offset, so a fleet does not move in lock step', () => {
    const list = candidates([1, 1, 1, 1])
    const starts = new Set<string>()
    for (const r of [0, 0.3, 0.6, 0.9]) {
      const rr = roundRobin({ random: () => r })
      rr.rebuild?.(list)
      starts.add(rr.pick(list, ctx())!.id)
    }
    expect(starts.size).toBe(4)
  })

  it('keeps no state across a rebuild', () => {
    const rr = roundRobin({ random: zero })
    const list = candidates([5, 1, 1])
    rr.rebuild?.(list)
    sequence(rr, list, 3)
    rr.rebuild?.(list)
    expect(sequence(rr, list, 7)).toBe('aabacaa')
  })

  it('rejects unknown options by name', () => {
    expect(() => roundRobin({ randum: zero } as never)).toThrow(InvalidOptionError)
    expect(() => roundRobin({ randum: zero } as never)).toThrow(/did you mean roundRobin\(\)\.random/)
    expect(() => roundRobin({ random: 3 } as never)).toThrow(/roundRobin\(\).random must be a function/)
  })
})
