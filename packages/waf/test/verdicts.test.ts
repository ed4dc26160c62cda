import { describe, expect, it } from 'vitest'
import { MEMO_VALUE_BYTES } from '../src/engine/memo.js'
import { hashOf, Verdicts } from '../src/engine/verdicts.js'

describe('Verdicts (engine/verdicts.ts): which values are given verdicts', () => {
  it('a value is given verdicts the second request it comes in, not twice in one, and keeps them', () => {
    const memo = new Verdicts(3)
    memo.begin()
    expect(memo.of('session=3f9a')).toBeUndefined()
    expect(memo.of('session=3f9a')).toBeUndefined() // the same request brings it again: still seen once
    memo.begin()
    const v = memo.of('session=3f9a')
    expect(v).toBeInstanceOf(Uint16Array)
    memo.begin()
    expect(memo.of('session=3f9a')).toBe(v)
  })

  it('values that come once are given none; one that comes again after many others still is', () => {
    const memo = new Verdicts(3)
    memo.begin()
    memo.of('the door, ring twice')
    for (let r = 0; r < 40; r++) {
      memo.begin()
      for (let i = 0; i < 25; i++) expect(memo.of(`A-${r * 25 + i}`)).toBeUndefined()
    }
    memo.begin()
    expect(memo.of('the door, ring twice')).toBeInstanceOf(Uint16Array)
    expect(memo.of('A-999')).toBeInstanceOf(Uint16Array) // seen in an earlier request
  })

  it('values every request brings are given verdicts even when their hashes pick the same slots', () => {
    // Five values in one bucket of the seen-once table (four slots): each request brings all of them.
    const bucket = (v: string) => hashOf(v) & (8192 - 4)
    const same = ['session']
    for (let i = 0; same.length < 5; i++) if (bucket(`json.items.${i}.note`) === bucket('session')) same.push(`json.items.${i}.note`)
    const memo = new Verdicts(3)
    for (let r = 0; r < 4; r++) {
      memo.begin()
      for (const v of same) memo.of(v)
    }
    memo.begin()
    for (const v of same) expect(memo.of(v)).toBeInstanceOf(Uint16Array)
  })

  it('a value too long to keep is never given verdicts', () => {
    const memo = new Verdicts(3)
    const long = 'x'.repeat(MEMO_VALUE_BYTES + 1)
    for (let r = 0; r < 3; r++) {
      memo.begin()
      expect(memo.of(long)).toBeUndefined()
    }
  })
})
